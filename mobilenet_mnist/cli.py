"""The ``mobilenet-mnist`` command: train, evaluate, predict, list, info, benchmark, export.

Only the standard library is imported at module level: each command imports what it needs
when it runs, so ``mobilenet-mnist --help`` and ``--version`` start without torch.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
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
    p.add_argument("--output", type=Path, default=Path("runs/train"),
                   help="run folder: checkpoint, metrics and, at the end, the model (from_pretrained(OUTPUT))")
    p.add_argument("--resume", action="store_true", help="continue a stopped run from OUTPUT/last.ckpt")
    p.add_argument(
        "--extend", type=Path, metavar="RUN",
        help="start OUTPUT from this finished run, whose epochs are the recipe's first ones (e.g. to add SWA "
             "epochs); rerun the same command to continue after a stop",
    )  # fmt: skip
    p.add_argument("--save-pretrained", type=Path,
                   help="also save the final model in this folder (OUTPUT itself holds it in the Hub layout)")
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
    from .training.config import get_preset
    from .training.distributed import get_dist_context
    from .training.loop import train
    from .training.runs import extend_run, load_command
    from .training.state import CHECKPOINT_NAME

    cfg = get_preset(args.preset, **_train_overrides(args))  # checks the model name before data loads
    resume = args.resume
    if args.extend is not None:
        if not (args.output / CHECKPOINT_NAME).exists():  # else: an extension already under way
            extend_run(args.extend, cfg, args.output)
        resume = True
    result = train(cfg, args.data_dir, args.output, resume=resume, download=args.download)
    if not get_dist_context().is_main:
        return 0
    scores = _score_run(result, cfg, args)
    _out(json.dumps({"train_time_s": round(result.train_time_s, 1), "test_accuracy": scores}))
    logger.info("The model is in %s (model.safetensors, config.json, README.md). Load it in Python with:\n  %s\n"
                "or try it: mobilenet-mnist predict --model %s IMAGE.png", args.output, load_command(args.output),
                args.output)
    return 0


def _score_run(result: Any, cfg: Any, args: argparse.Namespace) -> dict[int, float]:
    """Test accuracy (%) per input side, recorded in the run folder's model (and --save-pretrained)."""
    from .data.datasets import load_dataset
    from .hub import save_pretrained
    from .training.evaluation import evaluate
    from .training.runs import run_model_meta, save_run_model

    test = load_dataset(cfg.dataset, "test", args.data_dir)
    scores = {size: round(evaluate(result.model, test, size).accuracy, 2) for size in cfg.eval_sizes}
    run = {"labels": test.classes, "history": result.history, "train_time_s": result.train_time_s}
    save_run_model(args.output, result.model, cfg, **run, test_accuracy=scores)
    if args.save_pretrained is not None:
        save_pretrained(result.model, args.save_pretrained, **run_model_meta(cfg, **run, test_accuracy=scores))
    return scores


# --------------------------------------------------------------------------- evaluate
def _load_model(name: str) -> Any:
    """A model from a registered weight name, a local file/folder or a Hub repo id."""
    from .models.factory import create_model, list_models

    if Path(name).exists() or ("/" in name and "." not in name.split("/")[0]):
        from .hub import from_pretrained

        return from_pretrained(name)
    base = name.partition(".")[0]
    if base in list_models():
        return create_model(name, pretrained=True)
    from .hub import from_pretrained

    return from_pretrained(name)


def _add_evaluate(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="test accuracy, per-class accuracy, confusions")
    p.add_argument("name", help="weight name (mobilenet_v1_100.mnist), folder, file or Hub repo")
    p.add_argument("--data-dir", type=Path, help="folder with the IDX files")
    p.add_argument("--dataset", choices=["mnist", "fashion_mnist"], help="defaults to the weights' dataset")
    p.add_argument("--resolution", type=_positive_int, action="append", help="input side in px (repeatable)")
    p.add_argument("--top-confusions", type=_non_negative_int, default=5)
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar on stderr")
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
        result = evaluate(model, test, size, progress=args.progress)
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
    p.add_argument("--backend", choices=["auto", "torch", "onnxruntime"], default="auto",
                   help="inference backend (default auto: ONNX Runtime if installed, which first exports the "
                        "model for a few seconds; torch starts fastest for a few images)")  # fmt: skip
    p.set_defaults(func=_cmd_predict)


def _cmd_predict(args: argparse.Namespace) -> int:
    import torch

    from .data.transforms import create_transform, to_batch
    from .deploy.optimize import optimize_for_inference

    model = _load_model(args.model).eval()
    transform = create_transform(model.pretrained_cfg)
    labels = model.pretrained_cfg.get("labels") or [str(i) for i in range(model.num_classes)]
    k = min(args.top_k, len(labels))
    inputs = []
    for path in args.images:  # every file is read before the (slower) backend is built
        # preprocess's conversions (alpha onto black, 16-bit and float modes kept exact)
        x = to_batch(_open_image(path), model.in_chans)
        if args.invert:
            x = 255 - x if x.dtype == torch.uint8 else 1 - x
        inputs.append(transform(x))
    fast = optimize_for_inference(model, backend=args.backend)
    with torch.inference_mode():
        probs = fast(torch.cat(inputs)).softmax(dim=1)
    for path, row in zip(args.images, probs, strict=True):
        top = row.topk(k)
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
    p = sub.add_parser("info", help="cost, accuracy, licence and source of a model or weights")
    p.add_argument("name", help="a model (mobilenet_v1_100) or published weights (mobilenet_v1_100.mnist)")
    p.add_argument("--json", action="store_true", help="the raw metadata as JSON instead of a summary")
    p.add_argument("--layers", action="store_true", help="also the per-layer costs of a model (a markdown table)")
    p.set_defaults(func=_cmd_info)


def _cmd_info(args: argparse.Namespace) -> int:
    if "." in args.name:
        from .models.pretrained import get_pretrained_cfg

        cfg = get_pretrained_cfg(args.name)
        _out(json.dumps(cfg.to_dict(), indent=2, default=str) if args.json else _weights_summary(cfg))
        return 0
    info, cost = _model_info(args.name)
    _out(json.dumps(info, indent=2) if args.json else _model_summary(info))
    if args.layers and not args.json:
        _out(cost.to_markdown())
    return 0


def _model_info(name: str) -> tuple[dict[str, Any], Any]:
    """The raw metadata of a registered model (no weights loaded), and its ``ModelCost``."""
    from dataclasses import asdict

    from .models.factory import check_model_name, create_model
    from .models.pretrained import list_pretrained
    from .models.profile import profile_model

    check_model_name(name)
    model = create_model(name)
    cost = profile_model(model)
    info = {
        "name": name, "arch": model.arch.name, "width_mult": model.width_mult, "input_size": list(cost.input_size),
        "num_classes": model.num_classes, "num_params": cost.params, "macs": cost.macs,
        "pretrained": list_pretrained(f"{name}.*"), "layers": [asdict(layer) for layer in cost.layers],
    }  # fmt: skip
    return info, cost


def _model_summary(info: dict[str, Any]) -> str:
    """``info`` of a model as aligned, readable lines."""
    name, side = info["name"], info["input_size"][-1]
    rows = [
        ("architecture", _arch_text(info["arch"])),
        ("width", f"α = {info['width_mult']}"),
        ("input", f"{_shape_text(info['input_size'])} (channels×height×width)"),
        ("parameters", f"{info['num_params']:,}"),
        ("multiply-adds", f"{info['macs']:,} per image at {side}×{side}"),
        ("classes", str(info["num_classes"])),
        ("weights", _published_text(info["pretrained"])),
    ]
    header = f"{name}: {info['num_params']:,} parameters, {info['macs']:,} multiply-adds at {side}×{side}"
    example = info["pretrained"][0] if info["pretrained"] else f"{name}.TAG"
    more = f"More: --layers for per-layer costs; `mobilenet-mnist info {example}` for a checkpoint's details."
    return "\n".join([header, _aligned(rows), more])


def _published_text(names: list[str]) -> str:
    """Published weights with their accuracy at the native input side, or how to get some."""
    from .models.pretrained import get_pretrained_cfg

    if not names:
        return "none published (make some: mobilenet-mnist train --model NAME)"
    parts = []
    for name in names:
        cfg = get_pretrained_cfg(name)
        accuracy = cfg.test_accuracy.get(cfg.input_size[-1])
        parts.append(f"{name} ({accuracy:.2f} % on {cfg.dataset})" if accuracy is not None else name)
    return ", ".join(parts)


def _weights_summary(cfg: Any) -> str:
    """A ``PretrainedCfg`` as aligned, readable lines (``--json`` gives every field)."""
    side = cfg.input_size[-1]
    accuracy = ", ".join(f"{acc:.2f} % at {px}px" for px, acc in sorted(cfg.test_accuracy.items(), reverse=True))
    rows = [
        ("architecture", _arch_text(cfg.arch)),
        ("width", f"α = {cfg.width_mult}"),
        ("input", f"{_shape_text(cfg.input_size)}, {cfg.interpolation} resize, "
                  f"mean {_numbers(cfg.mean)}, std {_numbers(cfg.std)}"),
        ("parameters", f"{cfg.num_params:,}" if cfg.num_params else "not recorded"),
        ("multiply-adds", f"{cfg.macs:,} per image at {side}×{side}" if cfg.macs else "not recorded"),
        ("test accuracy", f"{accuracy} (full {cfg.dataset or ''} test set)" if accuracy else "not recorded"),
        ("labels", ", ".join(cfg.labels) if cfg.labels else f"{cfg.num_classes} unnamed classes"),
        ("license", cfg.license or "not stated"),
        *_source_rows(cfg),
    ]  # fmt: skip
    trained_on = f" trained on {cfg.dataset}" if cfg.dataset else ""
    return "\n".join([f"{cfg.name}: {cfg.model_name}{trained_on}", _aligned(rows)])


def _source_rows(cfg: Any) -> list[tuple[str, str]]:
    """Where the weights of ``cfg`` come from, and how they were made."""
    from .models.pretrained import shipped_weights_path

    if cfg.shipped and shipped_weights_path(cfg).is_file():
        where = "shipped inside the package (works offline)"
    else:
        where = "downloaded from the Hugging Face Hub on first use, then cached"
    size = f" ({cfg.file_size / 1e6:.1f} MB)" if cfg.file_size else ""
    rows = [
        ("weights", where),
        ("hub", f"{cfg.hf_hub_id} at revision {cfg.hf_hub_revision}, {cfg.filename}{size}"),
        ("sha256", cfg.sha256 or "not recorded"),
    ]
    if cfg.recipe:
        rows.append(("recipe", cfg.recipe))
    if cfg.train_time_s:
        hardware = f" on {cfg.train_hardware}" if getattr(cfg, "train_hardware", None) else ""
        rows.append(("training time", f"{cfg.train_time_s / 60:.1f} min{hardware}"))
    return rows


def _arch_text(name: str) -> str:
    """"MobileNet V1, layer config 'mnist' (its description)"; the name alone if unregistered."""
    from .models.archs import get_arch, list_archs

    if name not in list_archs():
        return f"MobileNet V1, layer config {name!r}"
    description = get_arch(name).description
    return f"MobileNet V1, layer config {name!r}" + (f": {description}" if description else "")


def _shape_text(shape: Sequence[int]) -> str:
    return "×".join(str(n) for n in shape)


def _numbers(values: Sequence[float]) -> str:
    return ", ".join(f"{v:g}" for v in values)


def _aligned(rows: list[tuple[str, str]]) -> str:
    """``label   value`` lines, indented, with the values in one column."""
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label:<{width}}  {value}" for label, value in rows)


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
    path = export_model(
        model, args.output, format=args.format, int8=args.int8, calibration_images=calibration, verbose=args.verbose
    )
    _out(str(path))
    return 0


#: Help line of ``mobilenet-mnist benchmark``.
_BENCHMARK_HELP = "time this library's inference backends on this machine: naive, torch, ONNX Runtime fp32 and int8"


def _add_benchmark(sub: Any) -> None:
    # Defaults live in deploy.speed.SpeedConfig (not imported here: it needs torch); a test
    # keeps the numbers in these help texts equal to them.
    p = sub.add_parser(
        "benchmark", help=_BENCHMARK_HELP,
        description="Times, for each width, the naive eager model and optimize_for_inference on each backend "
        "(torch; with the onnx extra, ONNX Runtime fp32 and int8) at a large batch and at batch 1, with peak "
        "memory and the fraction of this CPU's matmul peak. Ctrl-C stops it and keeps the rows measured so far. "
        "For the comparison with timm and torchvision, run benchmarks/run_benchmarks.py from the repository.",
    )  # fmt: skip
    p.add_argument("--widths", type=float, nargs="+", help="width multipliers α (default 1 0.75 0.5 0.25)")
    p.add_argument("--batch-size", type=_positive_int, help="the large batch, for images/s (default 256)")
    p.add_argument("--repeats", type=_positive_int, help="timed large-batch calls per round (default 4)")
    p.add_argument("--latency-repeats", type=_positive_int, help="timed batch-1 calls per round (default 30)")
    p.add_argument("--warmup", type=_non_negative_int, help="untimed calls before each series (default 2)")
    p.add_argument("--rounds", type=_positive_int,
                   help="passes over the ways of each width, samples pooled (default 3)")  # fmt: skip
    p.add_argument("--threads", type=_positive_int, help="torch and ONNX Runtime threads (default: torch's)")
    p.add_argument("--no-onnx", dest="onnx", action="store_false", default=None, help="skip the ONNX Runtime rows")
    p.add_argument("--no-int8", dest="int8", action="store_false", default=None, help="skip the int8 row")
    p.add_argument("--no-memory", dest="memory", action="store_false", default=None,
                   help="skip the peak-memory measurement")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="a seconds-long run (α=0.25, tiny batches): checks, not speed")
    p.add_argument("--output", type=Path, metavar="DIR",
                   help="folder for benchmark.md and benchmark.json (default: a new mobilenet-mnist-benchmark-<time> "
                        "folder in the current directory)")  # fmt: skip
    p.set_defaults(func=_cmd_benchmark)


def _benchmark_config(args: argparse.Namespace) -> Any:
    from .deploy import speed

    names = ("widths", "batch_size", "repeats", "latency_repeats", "warmup", "rounds", "threads", "onnx", "int8",
             "memory")  # fmt: skip
    options = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if "widths" in options:
        options["widths"] = tuple(options["widths"])
    return speed.quick_config(**options) if args.quick else speed.SpeedConfig(**options)


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from .deploy import speed, speed_report

    cfg = _benchmark_config(args)
    folder = args.output if args.output is not None else speed_report.new_output_dir()
    rows: list[dict[str, Any]] = []
    peak = None
    try:
        peak = speed.measure_peak(cfg)
        rows.extend(speed.iter_speed_rows(cfg))
    except KeyboardInterrupt:
        partial = speed_report.speed_result(cfg, rows, interrupted=True, matmul_peak=peak)
        paths = speed_report.write_speed_result(partial, folder)
        sys.stderr.write(f"mobilenet-mnist benchmark: interrupted; kept the {len(rows)} rows measured so far "
                         f"in {paths[0]} and {paths[1]}\n")  # fmt: skip
        return 130
    result = speed_report.speed_result(cfg, rows, matmul_peak=peak)
    markdown_path, json_path = speed_report.write_speed_result(result, folder)
    _out(speed_report.to_markdown(result))
    _out(f"written: {markdown_path} {json_path}")
    return 0


# --------------------------------------------------------------------------- main
_COMMANDS = (
    _add_train, _add_evaluate, _add_predict, _add_list, _add_info, _add_publish, _add_export, _add_benchmark,
)  # fmt: skip

#: Loggers of the libraries the commands use: WARNING and above only, unless --verbose.
_THIRD_PARTY_LOGGERS = (
    "torch", "torchvision", "huggingface_hub", "onnx", "onnxscript", "onnx_ir", "onnxruntime", "timm",
    "safetensors", "PIL", "urllib3", "httpx", "filelock", "fsspec",
)  # fmt: skip

_DESCRIPTION = "MobileNet V1 for MNIST-sized grayscale images, with pretrained weights."
_FIRST_STEPS = """first steps:
  mobilenet-mnist list --pretrained                  published weights
  mobilenet-mnist info mobilenet_v1_100.mnist        cost, accuracy, licence, source
  mobilenet-mnist evaluate mobilenet_v1_100.mnist --data-dir DIR
  mobilenet-mnist predict digit.png                  top-3 digits for an image file
  mobilenet-mnist COMMAND --help                     the options of one command"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mobilenet-mnist`` command.

    Building it imports nothing heavy (the ``_add_*`` functions must not import torch), so
    ``--help`` and ``--version`` start fast; ``tests/test_cli_startup.py`` checks this.

    Returns:
        The parser; ``parse_args`` puts the command's function in ``args.func``.
    """
    from .version import __version__

    parser = argparse.ArgumentParser(
        prog="mobilenet-mnist", description=_DESCRIPTION, epilog=_FIRST_STEPS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"mobilenet-mnist {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true",
        help="debug logging, and the log messages and warnings of other libraries (hidden by default)",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    for add in _COMMANDS:
        add(sub)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The command named in ``argv``: the first word that is no option (top-level options take no value)."""
    return next((word for word in argv if not word.startswith("-")), None)


@contextlib.contextmanager
def _quiet_libraries(verbose: bool) -> Iterator[None]:
    """Log this package's INFO messages (DEBUG with ``verbose``); hide other libraries' chatter.

    Without ``verbose``, other libraries log WARNING and above only, and warnings are
    hidden except this package's own ``RuntimeWarning``s (things to act on); ``python -W``
    options are respected. Logger levels and warning filters are restored on exit.
    """
    logging.basicConfig(format="%(message)s")  # a no-op when the root logger has handlers
    names = ("", "mobilenet_mnist", *_THIRD_PARTY_LOGGERS)
    saved = {name: logging.getLogger(name).level for name in names}
    logging.getLogger("mobilenet_mnist").setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)
    for name in () if verbose else _THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            if not verbose and not sys.warnoptions:
                warnings.simplefilter("ignore")
                warnings.filterwarnings("default", category=RuntimeWarning, module=r"mobilenet_mnist(\.|$)")
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command; expected errors become one line on stderr and status 2."""
    try:
        return int(args.func(args) or 0)
    except (KeyError, ValueError, TypeError, OSError, RuntimeError, ImportError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        sys.stderr.write(f"mobilenet-mnist {args.command}: error: {message}\n")
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mobilenet-mnist`` command.

    Args:
        argv: The arguments after the program name; ``sys.argv[1:]`` when None.

    Returns:
        The exit status: 0 on success, 2 for a usage or input error, 130 after Ctrl-C.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command_in(argv)
    try:
        parser = build_parser()
        if not argv:
            parser.print_help(sys.stderr)
            return 2
        args = parser.parse_args(argv)
        with _quiet_libraries(args.verbose):
            return _run(args)
    except KeyboardInterrupt:
        clear_line = "\r\033[K" if sys.stderr.isatty() else ""  # over a progress bar and the echoed ^C
        sys.stderr.write(f"{clear_line}mobilenet-mnist{f' {command}' if command else ''}: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
