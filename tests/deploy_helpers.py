"""Shared helpers for the export and quantization tests: a small trained model and MNIST inputs.

Deployment checks need a model whose logits mean something: a random network amplifies
rounding (fp32) and quantization (int8) noise layer after layer, so neither parity nor
int8 accuracy can be judged on one. The published α=0.25 checkpoint is used: from the
repository's ``hub/`` folder (no network), else through the registry (Hugging Face cache);
where neither has it, a short training run (300 steps, about 92 % test accuracy) stands in.
The model is cached for the whole test session.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import torch
import torch.nn.functional as F

from mobilenet_mnist import MobileNetV1, from_pretrained, list_models, mobilenet_v1
from mobilenet_mnist.data.datasets import ImageTensors, load_dataset
from mobilenet_mnist.data.transforms import preprocess
from mobilenet_mnist.hub import WeightsUnavailableError

logger = logging.getLogger(__name__)

SMALL_CHECKPOINT = "mobilenet_v1_025.mnist"
#: Hub-layout folders of the published checkpoints, committed with the repository.
REPO_HUB = Path(__file__).resolve().parents[1] / "hub"


@functools.cache
def mnist_split(root: str, split: str) -> ImageTensors:
    """An MNIST split, loaded once per test session."""
    return load_dataset("mnist", split, root=Path(root))


def mnist_inputs(root: str, num: int, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``num`` MNIST test images from ``offset`` on, preprocessed, and their labels."""
    test = mnist_split(root, "test")
    rows = slice(offset, offset + num)
    return preprocess(test.images[rows]), test.labels[rows]


def _quick_train(root: str, steps: int = 300, batch_size: int = 64) -> MobileNetV1:
    torch.manual_seed(0)
    model = mobilenet_v1(width_mult=0.25)
    train = mnist_split(root, "train")
    images = preprocess(train.images[: steps * batch_size])
    labels = train.labels[: steps * batch_size]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps)
    model.train()
    for step in range(steps):
        rows = slice(step * batch_size, (step + 1) * batch_size)
        loss = F.cross_entropy(model(images[rows]), labels[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.eval()


@functools.cache
def _small_model(root: str) -> MobileNetV1:
    if (REPO_HUB / SMALL_CHECKPOINT / "model.safetensors").is_file():
        return from_pretrained(REPO_HUB / SMALL_CHECKPOINT).eval()
    if SMALL_CHECKPOINT in list_models(pretrained=True):
        try:
            return mobilenet_v1(pretrained=True, width_mult=0.25).eval()
        except WeightsUnavailableError:  # registered, but neither shipped nor cached here
            logger.warning("%s unavailable offline; training a stand-in.", SMALL_CHECKPOINT)
    else:
        logger.warning("%s not published yet: training a stand-in.", SMALL_CHECKPOINT)
    return _quick_train(root)


def small_trained_model(root: str) -> MobileNetV1:
    """A trained α=0.25 model (a fresh copy each call, so tests cannot affect each other)."""
    model = mobilenet_v1(width_mult=0.25)
    source = _small_model(root)
    model.load_state_dict(source.state_dict())
    model.pretrained_cfg = dict(source.pretrained_cfg)
    return model.eval()
