"""Fitting checkpoint tensors to a model: an adapted first conv, a fresh classifier.

:func:`fit_state_dict` checks a checkpoint's tensors against the model that will receive
them (keys and shapes) and applies the adaptation policy, as timm's ``_builder.py`` does:
a first conv with another number of input channels is adapted (:func:`adapt_first_conv`),
a classifier with another number of classes is dropped; anything else that differs is an
error that lists what was expected and found.
"""

from __future__ import annotations

import logging

import torch

from .mobilenet import MobileNetV1

__all__ = ["adapt_first_conv", "fit_state_dict"]

logger = logging.getLogger(__name__)

_LIST_LIMIT = 8


def adapt_first_conv(weight: torch.Tensor, in_chans: int) -> torch.Tensor:
    """Adapt a first-conv kernel ``(out, c, k, k)`` to ``in_chans`` input channels.

    The kernel is summed over its input channels and repeated ``in_chans`` times, divided
    by ``in_chans``. A gray image given as the same plane in every channel therefore
    yields exactly the features the original kernel gives on that plane (e.g. a 1-channel
    MNIST kernel used on a gray RGB image).
    """
    summed = weight.sum(dim=1, keepdim=True)
    return summed.repeat(1, in_chans, 1, 1) / in_chans


def fit_state_dict(
    model: MobileNetV1, tensors: dict[str, torch.Tensor], *, source: str, found: str = ""
) -> tuple[dict[str, torch.Tensor], bool]:
    """Check checkpoint tensors against ``model`` and apply the adaptation policy.

    Policy: a classifier with another number of classes is dropped (the caller gives the
    model a fresh head); a first conv with another number of input channels is adapted
    by :func:`adapt_first_conv`. Anything else that differs is an error.

    Args:
        model: The model that will receive the weights.
        tensors: The checkpoint's state dict.
        source: Where the checkpoint came from, for messages.
        found: What the checkpoint's metadata says it is, for messages.

    Returns:
        The tensors to load, and whether the classifier was dropped.

    Raises:
        ValueError: If keys are missing or unexpected, or shapes differ; the message
            lists them with expected and found shapes.
    """
    expected = model.state_dict()
    state = dict(tensors)
    head = [k for k in state if k.startswith("classifier.")]
    ckpt_classes = state["classifier.weight"].shape[0] if "classifier.weight" in state else 0
    drop_head = ckpt_classes != model.num_classes
    if drop_head:
        for key in head:
            del state[key]
        logger.info(
            "%s has %d classes, the model %d: loaded the backbone only; the classifier is "
            "freshly initialised.", source, ckpt_classes, model.num_classes,
        )
    _adapt_stem(state, expected, model.in_chans, source)
    missing = [
        k for k in expected if k not in state and not (drop_head and k.startswith("classifier."))
    ]
    unexpected = sorted(k for k in state if k not in expected)
    mismatched = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or mismatched:
        shapes = [
            f"{k}: expected {tuple(expected[k].shape)}, found {tuple(state[k].shape)}"
            for k in mismatched
        ]
        raise ValueError(_mismatch_message(model, source, found, missing, unexpected, shapes))
    return state, drop_head


def _adapt_stem(
    state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], in_chans: int, source: str
) -> None:
    key = "stem.conv.weight"
    if key not in state or key not in expected:
        return
    weight, target = state[key], expected[key]
    same_kernel = weight.dim() == 4 and (weight.shape[0], *weight.shape[2:]) == (
        target.shape[0], *target.shape[2:]
    )
    if same_kernel and weight.shape[1] != in_chans:
        state[key] = adapt_first_conv(weight, in_chans)
        logger.info(
            "%s: adapted the first conv from %d to %d input channels (sum, repeat, divide by %d).",
            source, weight.shape[1], in_chans, in_chans,
        )


def _mismatch_message(
    model: MobileNetV1, source: str, found: str, missing: list[str], unexpected: list[str],
    shapes: list[str],
) -> str:
    parts = [
        f"The checkpoint {source} does not fit this model. Expected: "
        f"arch={model.arch.name!r}, width_mult={model.width_mult}, in_chans={model.in_chans}, "
        f"num_classes={model.num_classes}."
    ]
    if found:
        parts.append(f"Found (checkpoint metadata): {found}.")
    for label, items in (("Missing keys", missing), ("Unexpected keys", unexpected),
                         ("Shape mismatches", shapes)):
        if items:
            shown = ", ".join(items[:_LIST_LIMIT])
            more = f", ... and {len(items) - _LIST_LIMIT} more" if len(items) > _LIST_LIMIT else ""
            parts.append(f"{label} ({len(items)}): {shown}{more}.")
    parts.append(
        "Build the model with the checkpoint's arch and width_mult, or use "
        "mobilenet_mnist.from_pretrained(), which reads them from the checkpoint."
    )
    return " ".join(parts)
