"""Fine-tuning: freezing, parameter groups, user datasets, and a short real fine-tune.

The fine-tuning tests start from an α = 0.25 model trained here for 100 steps on MNIST
(a module fixture, saved with ``save_pretrained``), then adapt it to Fashion-MNIST.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from mobilenet_mnist.data.augment import AugmentConfig
from mobilenet_mnist.data.convert import tensors_from_dataset
from mobilenet_mnist.data.datasets import ImageTensors, load_dataset
from mobilenet_mnist.hub import from_pretrained, save_pretrained
from mobilenet_mnist.models import mobilenet_v1
from mobilenet_mnist.training import TrainConfig, evaluate, fit
from mobilenet_mnist.training.finetune import FrozenStatsBatchNorm2d, freeze_backbone, param_groups, unfreeze_backbone

HEAD = {"classifier.weight", "classifier.bias"}
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
# A short recipe at 24 px without augmentation: the fixture and the fine-tunes share it.
SHORT = {"model": "mobilenet_v1_025", "epochs": 1, "batch_size": 32, "lr": 0.1, "warmup_epochs": 0.1,
         "ema_decay": 0.0, "label_smoothing": 0.0, "dropout": 0.0, "train_sizes": (24,), "eval_sizes": (24,),
         "augment": AugmentConfig(0.0, 0.0, 0.0), "val_size": 0, "threads": 1, "device": "cpu"}


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return mobilenet_v1(width_mult=0.25)


def backbone_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of every backbone tensor: parameters and BatchNorm buffers."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if not k.startswith("classifier.")}


def batchnorms(model: nn.Module) -> list[nn.BatchNorm2d]:
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


def sgd_steps(model: nn.Module, steps: int = 3) -> None:
    """Train-mode SGD with momentum and weight decay over *all* parameters (frozen ones included)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, weight_decay=0.1)
    generator = torch.Generator().manual_seed(1)
    model.train()
    for _ in range(steps):
        x, y = torch.randn(8, 1, 32, 32, generator=generator), torch.randint(10, (8,), generator=generator)
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


def changed(before: dict[str, torch.Tensor], model: nn.Module) -> set[str]:
    after = model.state_dict()
    return {k for k, v in before.items() if not torch.equal(v, after[k])}


# --------------------------------------------------------------------------- freezing
def test_freeze_leaves_only_the_classifier_trainable() -> None:
    model = freeze_backbone(tiny_model())
    assert {name for name, p in model.named_parameters() if p.requires_grad} == HEAD
    model(torch.randn(2, 1, 32, 32)).sum().backward()
    for name, param in model.named_parameters():
        assert (param.grad is not None) == (name in HEAD), name


@pytest.mark.parametrize("freeze_bn_stats", [True, False])
def test_frozen_backbone_survives_optimizer_steps(freeze_bn_stats: bool) -> None:
    model = freeze_backbone(tiny_model(), freeze_bn_stats=freeze_bn_stats)
    before, head = backbone_state(model), copy.deepcopy(model.classifier.state_dict())
    sgd_steps(model)
    moved = changed(before, model)
    stats = {k for k in before if k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    if freeze_bn_stats:
        assert moved == set()
        assert all(not bn.training for bn in batchnorms(model))  # model.train() was called
    else:
        assert moved == stats  # statistics adapt, BatchNorm weights and convs do not
    assert not torch.equal(head["weight"], model.classifier.weight)


def test_frozen_statistics_mean_train_mode_uses_running_statistics() -> None:
    frozen = freeze_backbone(tiny_model()).train()
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        train_out = frozen(x)
        eval_out = frozen.eval()(x)
        live = tiny_model().train()(x)  # without freezing, train mode normalizes with batch statistics
    assert torch.equal(train_out, eval_out)
    assert not torch.allclose(live, eval_out, atol=1e-3)


def test_frozen_statistics_survive_deepcopy_and_keep_state_dict_keys() -> None:
    model = freeze_backbone(tiny_model())
    clone = copy.deepcopy(model).train()  # what an EMA copy does
    assert all(type(bn) is FrozenStatsBatchNorm2d and not bn.training for bn in batchnorms(clone))
    plain = tiny_model()
    plain.load_state_dict(clone.state_dict())  # strict: raises on any missing or extra key
    assert list(clone.state_dict()) == list(plain.state_dict())


def test_frozen_model_saves_and_reloads_as_a_plain_model(tmp_path: Path) -> None:
    model = freeze_backbone(tiny_model())
    sgd_steps(model, steps=2)
    reloaded = from_pretrained(save_pretrained(model, tmp_path / "m")).eval()
    assert all(type(bn) is nn.BatchNorm2d for bn in batchnorms(reloaded))
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(reloaded(x), model.eval()(x), atol=1e-6)


@pytest.mark.parametrize("ema_decay", [0.0, 0.5])
def test_fit_trains_only_the_head_of_a_frozen_model(ema_decay: float) -> None:
    model = freeze_backbone(tiny_model())
    before, head = backbone_state(model), model.classifier.weight.detach().clone()
    generator = torch.Generator().manual_seed(0)
    data = ImageTensors(torch.randint(0, 256, (48, 28, 28), dtype=torch.uint8, generator=generator),
                        torch.arange(48) % 10, tuple("0123456789"))
    cfg = TrainConfig.from_dict({**SHORT, "batch_size": 16, "ema_decay": ema_decay})  # EMA deep-copies the model
    result = fit(model, data, cfg)
    after = result.model.state_dict()
    if ema_decay == 0:
        assert changed(before, result.model) == set()
    else:  # the EMA average a·d + a·(1 - d) of an unchanged tensor may round by one ulp
        for key, value in before.items():
            assert torch.allclose(after[key].double(), value.double(), rtol=1e-6, atol=1e-12), key
    assert all(type(bn) is FrozenStatsBatchNorm2d for bn in batchnorms(result.model))
    assert not torch.allclose(head, result.model.classifier.weight)


def test_unfreeze_restores_training_of_everything() -> None:
    model = unfreeze_backbone(freeze_backbone(tiny_model()))
    assert all(p.requires_grad for p in model.parameters())
    assert all(type(bn) is nn.BatchNorm2d and bn.training for bn in batchnorms(model))
    before = backbone_state(model)
    sgd_steps(model)
    assert changed(before, model) == set(before)  # every conv, BatchNorm weight and statistic moved
    model.eval()
    unfreeze_backbone(freeze_backbone(model))
    assert not any(bn.training for bn in batchnorms(model))  # back in the model's mode


def test_freeze_errors_say_what_is_supported() -> None:
    with pytest.raises(TypeError, match="get_classifier"):
        freeze_backbone(nn.Linear(3, 2))
    synced = nn.SyncBatchNorm.convert_sync_batchnorm(tiny_model())
    with pytest.raises(TypeError, match=r"SyncBatchNorm.*freeze_bn_stats=False"):
        freeze_backbone(synced)
    assert all(p.requires_grad for p in synced.parameters())  # refused before changing anything
    freeze_backbone(synced, freeze_bn_stats=False)
    assert {name for name, p in synced.named_parameters() if p.requires_grad} == HEAD


# --------------------------------------------------------------------------- parameter groups
def test_param_groups_cover_each_trainable_parameter_once_with_the_right_settings() -> None:
    model = tiny_model()
    groups = param_groups(model, lr=0.2, backbone_lr_scale=0.1, weight_decay=1e-3)
    by_name = {g["name"]: g for g in groups}
    assert set(by_name) == {"backbone_decay", "backbone_no_decay", "head_decay", "head_no_decay"}
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) and set(ids) == {id(p) for p in model.parameters()}
    assert by_name["head_decay"]["params"] == [model.classifier.weight]
    assert by_name["head_no_decay"]["params"] == [model.classifier.bias]
    assert any(p is model.stem.conv.weight for p in by_name["backbone_decay"]["params"])
    assert any(p is model.stem.bn.weight for p in by_name["backbone_no_decay"]["params"])
    expected = {"backbone_decay": (0.02, 1e-3), "backbone_no_decay": (0.02, 0.0),
                "head_decay": (0.2, 1e-3), "head_no_decay": (0.2, 0.0)}
    for name, (lr, decay) in expected.items():
        assert by_name[name]["lr"] == pytest.approx(lr) and by_name[name]["weight_decay"] == decay


def test_param_groups_leave_out_frozen_parameters() -> None:
    groups = param_groups(freeze_backbone(tiny_model()), lr=0.1)
    assert [g["name"] for g in groups] == ["head_decay", "head_no_decay"]


def test_param_groups_step_sizes_follow_the_group_learning_rates() -> None:
    model = tiny_model()
    optimizer = torch.optim.SGD(param_groups(model, lr=0.4, backbone_lr_scale=0.25, weight_decay=0.0), lr=99.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5)  # as fit's schedule does
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    model(torch.randn(4, 1, 32, 32)).logsumexp(dim=1).sum().backward()
    optimizer.step()
    for name, param in model.named_parameters():
        lr = 0.5 * (0.4 if name in HEAD else 0.1)
        assert torch.allclose(before[name] - param.detach(), lr * param.grad, atol=1e-7), name
    scheduler.step()
    assert sorted({round(g["lr"], 9) for g in optimizer.param_groups}) == [0.05, 0.2]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"backbone_lr_scale": -0.1}, "backbone_lr_scale"),
    ({"backbone_lr_scale": float("nan")}, "backbone_lr_scale"),
    ({"weight_decay": -1.0}, "weight_decay"),
    ({"lr": 0.0}, "lr must be > 0"),
])
def test_param_groups_reject_bad_values(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        param_groups(tiny_model(), **{"lr": 0.1, **kwargs})


def test_param_groups_reject_a_rate_that_is_no_number() -> None:
    with pytest.raises(TypeError, match=r"weight_decay must be a number, got str \('0\.1'\)"):
        param_groups(tiny_model(), lr=0.1, weight_decay="0.1")


# --------------------------------------------------------------------------- user datasets
def test_tensors_from_dataset_stays_importable_from_training() -> None:
    import mobilenet_mnist.training
    import mobilenet_mnist.training.finetune

    assert mobilenet_mnist.training.tensors_from_dataset is tensors_from_dataset
    assert mobilenet_mnist.training.finetune.tensors_from_dataset is tensors_from_dataset



class PairDataset(torch.utils.data.Dataset):
    """Like a torchvision dataset: ``classes``, ``transform``, (image, label) items."""

    def __init__(self, images: list, labels: list, classes: list[str] | None = None, transform=None) -> None:
        self.images, self.labels, self.transform = images, labels, transform
        if classes is not None:
            self.classes = classes

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple:
        if index >= len(self):  # no IndexError sentinel needed by tensors_from_dataset
            raise RuntimeError("read past the end")
        image = self.images[index]
        return (self.transform(image) if self.transform else image), self.labels[index]


def random_uint8(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_tensors_from_pil_dataset_keeps_pixels_labels_and_classes() -> None:
    pixels = random_uint8(5, 20, 20)
    dataset = PairDataset([Image.fromarray(p) for p in pixels], [2, 0, 1, 2, 1], classes=["cat", "dog", "owl"])
    data = tensors_from_dataset(dataset)
    assert data.images.dtype == torch.uint8 and torch.equal(data.images, torch.from_numpy(pixels))
    assert data.labels.dtype == torch.int64 and data.labels.tolist() == [2, 0, 1, 2, 1]
    assert data.classes == ("cat", "dog", "owl")


def test_tensors_from_float_tensors_round_trip_exactly() -> None:
    pixels = random_uint8(4, 1, 28, 28)
    to_tensor = lambda array: torch.from_numpy(array).float() / 255  # noqa: E731  (transforms.ToTensor())
    labels = [torch.tensor(3), np.int64(1), 0, torch.tensor([2])]
    data = tensors_from_dataset(PairDataset(list(pixels), labels, transform=to_tensor))
    assert torch.equal(data.images, torch.from_numpy(pixels[:, 0]))
    assert data.labels.tolist() == [3, 1, 0, 2] and data.classes == ("0", "1", "2", "3")


def test_tensors_from_rgb_arrays_convert_channels() -> None:
    rgb = random_uint8(3, 16, 16, 3)  # numpy images are (H, W, C)
    dataset = PairDataset(list(rgb), [0, 1, 0])
    gray = tensors_from_dataset(dataset, in_chans=1).images
    pil_gray = np.stack([np.asarray(Image.fromarray(image).convert("L")) for image in rgb])
    assert gray.shape == (3, 16, 16)
    assert (gray.int() - torch.from_numpy(pil_gray).int()).abs().max() <= 1
    color = tensors_from_dataset(dataset, in_chans=3).images
    assert torch.equal(color, torch.from_numpy(rgb).permute(0, 3, 1, 2))
    repeated = tensors_from_dataset([(torch.from_numpy(random_uint8(8, 8)), 0)], in_chans=3).images
    assert repeated.shape == (1, 3, 8, 8) and torch.equal(repeated[0, 0], repeated[0, 2])


@pytest.mark.parametrize(("items", "error", "match"), [
    ([], ValueError, "empty"),
    ([(torch.zeros(28, 28), 0), (torch.zeros(32, 32), 1)], ValueError, r"item 0 has .*Resize"),
    ([(torch.full((8, 8), 2.0), 0)], ValueError, r"\[0, 1\]"),
    ([(torch.zeros(8, 8), 0.5)], TypeError, "integer class index"),
    ([(torch.zeros(8, 8), -1)], ValueError, ">= 0"),
    ([torch.zeros(8, 8)], TypeError, r"\(image, label\) pair"),
    ([("image.png", 0)], TypeError, "PIL images, numpy arrays or torch tensors"),
])
def test_tensors_from_dataset_errors(items: list, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        tensors_from_dataset(items)


def test_tensors_from_dataset_checks_labels_against_classes() -> None:
    with pytest.raises(ValueError, match="Label 2 is out of range for 2 classes"):
        tensors_from_dataset([(torch.zeros(8, 8), 2)], classes=["a", "b"])


# --------------------------------------------------------------------------- fine-tuning for real
@pytest.fixture(scope="module")
def mnist_checkpoint(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """α = 0.25 trained for 100 steps on MNIST, saved with save_pretrained."""
    train = load_dataset("mnist", "train", mnist_dir).subset(torch.arange(3200))
    torch.manual_seed(0)
    result = fit(mobilenet_v1(width_mult=0.25), train, TrainConfig.from_dict({**SHORT, "lr": 0.2}))
    test = load_dataset("mnist", "test", mnist_dir).subset(torch.arange(500))
    assert evaluate(result.model, test, 24).accuracy > 50  # it did learn digits
    return save_pretrained(result.model, tmp_path_factory.mktemp("mnist") / "mobilenet_v1_025", dataset="mnist")


def short_finetune(model: nn.Module, train: ImageTensors, held_out: ImageTensors) -> tuple[float, float]:
    """Held-out accuracy (%) with a fresh head before, and after 50 steps of fine-tuning everything."""
    torch.manual_seed(0)
    model.reset_classifier(10)
    before = evaluate(model, held_out, 24).accuracy
    cfg = TrainConfig.from_dict({**SHORT, "dataset": "fashion_mnist"})
    return before, evaluate(fit(model, train, cfg).model, held_out, 24).accuracy


def test_short_finetune_from_mnist_beats_the_untrained_head(
    mnist_checkpoint: Path, fashion_mnist_dir: Path
) -> None:
    full = load_dataset("fashion_mnist", "train", fashion_mnist_dir)
    # The user's path: a Dataset of PIL images → tensors_from_dataset → fit.
    pil = PairDataset([Image.fromarray(a) for a in full.images[:1600].numpy()], full.labels[:1600].tolist(),
                      classes=list(full.classes))
    train = tensors_from_dataset(pil)
    held_out = load_dataset("fashion_mnist", "test", fashion_mnist_dir).subset(torch.arange(1000))
    model = mobilenet_v1(pretrained=str(mnist_checkpoint), width_mult=0.25)
    before, tuned = short_finetune(model, train, held_out)
    assert before < 25  # a fresh head is near chance (10 %)
    assert tuned > before + 30  # measured: about 7 % → 59 %


@pytest.mark.slow  # a training run (several seconds): the slow suite
def test_finetune_example_quick_writes_a_loadable_model(
    mnist_checkpoint: Path, fashion_mnist_dir: Path, tmp_path: Path
) -> None:
    from test_examples import run_example  # here, so the other tests do not depend on that module

    out = run_example("finetune_fashion_mnist.py", "--weights", str(mnist_checkpoint), "--width", "0.25",
                      "--output", str(tmp_path / "run"), "--data-dir", str(fashion_mnist_dir))
    assert "linear probe: validation accuracy" in out
    printed = {int(side): float(acc) for side, acc in
               re.findall(r"test accuracy at (\d+) px on 500 images: ([\d.]+) %", out)}
    assert set(printed) == {32, 28}
    folder = tmp_path / "run" / "model"
    model = from_pretrained(folder)
    test = load_dataset("fashion_mnist", "test", fashion_mnist_dir).subset(torch.arange(500))
    for side, accuracy in printed.items():
        assert evaluate(model, test, side).accuracy == pytest.approx(accuracy, abs=0.006)
    config = json.loads((folder / "config.json").read_text())
    cfg = config["pretrained_cfg"]
    assert cfg["labels"] == list(FASHION_CLASSES) and cfg["dataset"] == "fashion_mnist"
    assert f"{config['architecture']}.{cfg['tag']}" == "mobilenet_v1_025.fashion_mnist"
    assert cfg["metrics"]["test_accuracy"]["32"] == pytest.approx(printed[32], abs=0.006)
    assert (tmp_path / "run" / "metrics.jsonl").is_file()


def test_fit_trains_an_rgb_model_on_tensors_from_an_rgb_dataset() -> None:
    rgb = random_uint8(24, 20, 20, 3)
    data = tensors_from_dataset(PairDataset([Image.fromarray(a) for a in rgb], [i % 3 for i in range(24)]), in_chans=3)
    assert data.images.shape == (24, 3, 20, 20)
    torch.manual_seed(0)
    model = mobilenet_v1(width_mult=0.25, in_chans=3, num_classes=3)
    before = model.stem.conv.weight.detach().clone()
    result = fit(model, data, TrainConfig.from_dict({**SHORT, "batch_size": 8, "max_steps_per_epoch": 2}), data)
    assert "val_acc@24" in result.history[0]
    assert not torch.equal(before, result.model.stem.conv.weight)
