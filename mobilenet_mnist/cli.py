"""The ``mobilenet-mnist`` command: train, evaluate, predict, list, info, benchmark, export."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]

logger = logging.getLogger("mobilenet_mnist")


def _out(text: str) -> None:
    """Command output goes to stdout (the library itself never prints)."""
    sys.stdout.write(text + "\n")


def _int_at_least(minimum: int, meaning: str) -> Callable[[str], int]:
    """An argparse type: an int >= ``minimum`` (argparse names the option in its error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {meaning}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive int")
_non_negative_int = _int_at_least(0, "an int >= 0")


# --------------------------------------------------------------------------- train
def _add_train(sub: Any) -> None:
    p = sub.add_parser("train", help="train a model with a recipe (resumable)")
    p.add_argument("--preset", default="default", help="recipe preset: default, fast, mnist_100, ...")
    p.add_argument("--config", type=Path, help="JSON file with TrainConfig fields (overrides the preset)")
    p.add_argument("--model", help="model name, e.g. mobilenet_v1_050")
    p.add_argument("--dataset", choices=["mnist", "fashion_mnist"])
    p.add_argument("--epochs", type=_positive_int)
    p.add_argument("--batch-size", type=_positive_int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="cpu, cuda or auto")
    p.add_argument("--threads", type=_positive_int, help="CPU threads for torch")
    p.add_argument("--bf16", action="store_true", default=None, help="bfloat16 autocast")
    p.add_argument("--data-dir", type=Path, help="folder with the IDX files")
    p.add_argument("--download", action="store_true", help="download the data if missing (network)")
    p.add_argument("--output", type=Path, default=Path("runs/train"), help="run folder")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT/last.ckpt")
    p.add_argument(
        "--extend", type=Path, metavar="RUN",
        help="start OUTPUT from this finished run, whose epochs are the recipe's first ones (e.g. to add SWA "
             "epochs); rerun the same command to continue after a stop",
    )  # fmt: skip
    p.add_argument("--save-pretrained", type=Path, help="also save the final model in the Hub layout here")
    p.set_defaults(func=_cmd_train)


def _train_overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = ("model", "dataset", "epochs", "batch_size", "lr", "seed", "device", "threads", "bf16")
    overrides = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if args.config is not None:
        overrides = {**_read_config(args.config), **overrides}
    return overrides


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"--config file {path} does not exist.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"--config file {path} is not valid JSON: {error}.") from error
    if not isinstance(data, dict):
        raise ValueError(
            f"--config file {path} must hold a JSON object of TrainConfig fields, got {type(data).__name__}."
        )
    return data


def _cmd_train(args: argparse.Namespace) -> int:
    from .training.evaluation import evaluate
    from .training.loop import get_preset, train

    cfg = get_preset(args.preset, **_train_overrides(args))  # checks the model name before data loads
    resume = args.resume
    if args.extend is not None:
        from .training.loop import CHECKPOINT_NAME, extend_run

        if not (args.output / CHECKPOINT_NAME).exists():  # else: an extension already under way
            extend_run(args.extend, cfg, args.output)
        resume = True
    result = train(cfg, args.data_dir, args.output, resume=resume, download=args.download)
    from .training.distributed import get_dist_context

    if not get_dist_context().is_main:
        return 0
    from .data.datasets import load_dataset

    test = load_dataset(cfg.dataset, "test", args.data_dir)
    scores = {size: evaluate(result.model, test, size).accuracy for size in cfg.eval_sizes}
    if args.save_pretrained is not None:
        from .hub.core import save_pretrained

        save_pretrained(result.model, args.save_pretrained)
    _out(json.dumps({"train_time_s": round(result.train_time_s, 1), "test_accuracy": scores}))
    return 0


# --------------------------------------------------------------------------- evaluate
def _load_model(name: str) -> Any:
    """A model from a registered weight name, a local file/folder or a Hub repo id."""
    from .models.factory import create_model, list_models

    if Path(name).exists() or ("/" in name and "." not in name.split("/")[0]):
        from .hub.core import from_pretrained

        return from_pretrained(name)
    base = name.partition(".")[0]
    if base in list_models():
        return create_model(name, pretrained=True)
    from .hub.core import from_pretrained

    return from_pretrained(name)


def _add_evaluate(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="test accuracy, per-class accuracy, confusions")
    p.add_argument("name", help="weight name (mobilenet_v1_100.mnist), folder, file or Hub repo")
    p.add_argument("--data-dir", type=Path, help="folder with the IDX files")
    p.add_argument("--dataset", choices=["mnist", "fashion_mnist"], help="defaults to the weights' dataset")
    p.add_argument("--resolution", type=_positive_int, action="append", help="input side in px (repeatable)")
    p.add_argument("--top-confusions", type=_non_negative_int, default=5)
    p.set_defaults(func=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .data.datasets import load_dataset
    from .training.evaluation import evaluate

    model = _load_model(args.name).eval()
    sizes = args.resolution or [model.input_size]
    lowest = model.arch.min_input_size
    if min(sizes) < lowest:
        raise ValueError(f"--resolution {min(sizes)} is below {lowest}px, the smallest side {args.name} can take.")
    dataset = args.dataset or model.pretrained_cfg.get("dataset") or "mnist"
    test = load_dataset(dataset, "test", args.data_dir)
    for size in sizes:
        result = evaluate(model, test, size)
        _out(
            f"{args.name} on {dataset} test ({result.num_images} images) at {size}px: "
            f"top-1 {result.accuracy:.2f} % ({result.errors} errors)"
        )
        per_class = ", ".join(f"{k}: {v:.2f}" for k, v in result.per_class_accuracy().items())
        _out(f"  per-class accuracy (%): {per_class}")
        pairs = ", ".join(f"{t}→{p} ×{n}" for t, p, n in result.most_confused(args.top_confusions))
        _out(f"  most confused (true→predicted): {pairs or 'none'}")
    return 0


# --------------------------------------------------------------------------- predict
def _add_predict(sub: Any) -> None:
    p = sub.add_parser("predict", help="top-k classes for image files")
    p.add_argument("images", nargs="+", type=Path, help="image files (PNG, JPEG, ...)")
    p.add_argument("--model", default="mobilenet_v1_100.mnist", help="weights to use")
    p.add_argument("--top-k", type=_positive_int, default=3)
    p.add_argument("--invert", action="store_true", help="invert dark-on-light images (MNIST is light-on-dark)")
    p.set_defaults(func=_cmd_predict)


def _cmd_predict(args: argparse.Namespace) -> int:
    import torch

    from .data.datasets import _to_batch, create_transform

    model = _load_model(args.model).eval()
    transform = create_transform(model.pretrained_cfg)
    labels = model.pretrained_cfg.get("labels") or [str(i) for i in range(model.num_classes)]
    k = min(args.top_k, len(labels))
    for path in args.images:
        # preprocess's conversions (alpha onto black, 16-bit and float modes kept exact)
        x = _to_batch(_open_image(path), model.in_chans)
        if args.invert:
            x = 255 - x if x.dtype == torch.uint8 else 1 - x
        with torch.inference_mode():
            probs = model(transform(x)).softmax(dim=1)[0]
        top = probs.topk(k)
        ranked = ", ".join(
            f"{labels[i]} ({p:.1%})" for p, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        )
        _out(f"{path}: {ranked}")
    return 0


def _open_image(path: Path) -> Any:
    """A fully decoded PIL image, or an error naming the file and what is wrong."""
    from PIL import Image

    if not path.exists():
        raise FileNotFoundError(f"Image file {path} does not exist.")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; pass image files (PNG, JPEG, ...).")
    try:
        image = Image.open(path)
        image.load()  # decode now: truncated files fail here, not inside the model
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise ValueError(
            f"Cannot read image {path}: {error}. Pass a PNG, JPEG, BMP, TIFF or other format Pillow reads."
        ) from error
    return image


# --------------------------------------------------------------------------- list / info
def _add_list(sub: Any) -> None:
    p = sub.add_parser("list", help="list models, or published weights with --pretrained")
    p.add_argument("pattern", nargs="?", default="*")
    p.add_argument("--pretrained", action="store_true")
    p.set_defaults(func=_cmd_list)


def _cmd_list(args: argparse.Namespace) -> int:
    from .models.factory import list_models

    for name in list_models(args.pattern, pretrained=args.pretrained):
        _out(name)
    return 0


def _add_info(sub: Any) -> None:
    p = sub.add_parser("info", help="metadata of a published checkpoint, or cost of a model")
    p.add_argument("name")
    p.set_defaults(func=_cmd_info)


def _cmd_info(args: argparse.Namespace) -> int:
    from .models.factory import check_model_name, create_model
    from .models.profile import profile_model

    if "." in args.name:
        from .models.pretrained import get_pretrained_cfg

        _out(json.dumps(get_pretrained_cfg(args.name).to_dict(), indent=2, default=str))
        return 0
    check_model_name(args.name)
    cost = profile_model(create_model(args.name))
    _out(f"{args.name}: {cost.params:,} parameters, {cost.macs:,} multiply-adds at {cost.input_size}")
    _out(cost.to_markdown())
    return 0


# --------------------------------------------------------------------------- publish
def _add_publish(sub: Any) -> None:
    p = sub.add_parser("publish", help="score a training run on the test set and register its weights")
    p.add_argument("run_dir", type=Path, help="the --output folder of `mobilenet-mnist train`")
    p.add_argument("--tag", required=True, help="weight tag, e.g. mnist")
    p.add_argument("--recipe", required=True, help="the command that reproduces the run")
    p.add_argument("--data-dir", type=Path, help="folder with the IDX files")
    p.add_argument("--weights", choices=["final", "raw"], default="final",
                   help="final: what the recipe evaluates (its EMA or SWA average, if any); raw: the optimizer's")
    p.add_argument("--ship", action="store_true", help="ship the weights inside the package")
    p.add_argument("--hub-root", type=Path, default=Path("hub"), help="folder of Hub-layout checkpoints")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--revision", help="Hub tag pinned in the registry (default: this release's tag)")
    p.add_argument("--hardware", help="where the run trained, for the model card (e.g. 'one NVIDIA H200')")
    p.set_defaults(func=_cmd_publish)


def _cmd_publish(args: argparse.Namespace) -> int:
    from .data.datasets import load_dataset
    from .hub.publish import publish_checkpoint
    from .models.pretrained import DEFAULT_REVISION
    from .training.evaluation import evaluate
    from .training.runs import load_run

    model, cfg, info = load_run(args.run_dir, args.weights)
    test = load_dataset(cfg.dataset, "test", args.data_dir)
    accuracy = {size: round(evaluate(model, test, size).accuracy, 2) for size in cfg.eval_sizes}
    entry = publish_checkpoint(
        model, tag=args.tag, dataset=cfg.dataset, test_accuracy=accuracy, recipe=args.recipe,
        train_time_s=round(info["train_time_s"], 1), train_hardware=args.hardware, hub_root=args.hub_root,
        ship=args.ship, overwrite=args.overwrite, hf_hub_revision=args.revision or DEFAULT_REVISION,
    )  # fmt: skip
    _out(json.dumps({"name": entry.name, "test_accuracy": accuracy, "sha256": entry.sha256}))
    return 0


# --------------------------------------------------------------------------- export / benchmark
def _add_export(sub: Any) -> None:
    p = sub.add_parser("export", help="export weights to ONNX, TorchScript or torch.export (optionally int8)")
    p.add_argument("name", help="weight name (mobilenet_v1_100.mnist), folder, file or Hub repo")
    p.add_argument("--format", choices=["onnx", "torchscript", "exported-program"], default="onnx")
    p.add_argument("--int8", action="store_true", help="post-training int8 quantization (needs --data-dir)")
    p.add_argument("--data-dir", type=Path, help="MNIST folder: training images calibrate int8")
    p.add_argument("--output", type=Path, help="output file (default: derived from the model name)")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from .deploy.export import export_model

    model = _load_model(args.name).eval()
    calibration = None
    if args.int8:
        from .data.datasets import load_dataset

        calibration = load_dataset(model.pretrained_cfg.get("dataset") or "mnist", "train", args.data_dir).images
    path = export_model(model, args.output, format=args.format, int8=args.int8, calibration_images=calibration)
    _out(str(path))
    return 0


def _add_benchmark(sub: Any) -> None:
    from .deploy.benchmark import add_arguments

    p = sub.add_parser("benchmark", help="speed side by side: fast path, naive, timm and torchvision peers")
    add_arguments(p)
    p.set_defaults(func=_cmd_benchmark)


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from .deploy.benchmark import run_from_args, to_markdown

    result, markdown_path, json_path = run_from_args(args)
    _out(to_markdown(result))
    _out(f"written: {markdown_path} {json_path}")
    return 0


# --------------------------------------------------------------------------- main
_COMMANDS = (
    _add_train, _add_evaluate, _add_predict, _add_list, _add_info, _add_publish, _add_export, _add_benchmark,
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mobilenet-mnist`` command."""
    parser = argparse.ArgumentParser(prog="mobilenet-mnist", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mobilenet-mnist`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    try:
        return int(args.func(args) or 0)
    except (KeyError, ValueError, TypeError, OSError, RuntimeError, ImportError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        sys.stderr.write(f"mobilenet-mnist {args.command}: error: {message}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
