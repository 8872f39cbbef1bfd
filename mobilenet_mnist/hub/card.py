"""The ``README.md`` model card written next to saved weights (Hugging Face layout).

The card starts with YAML front matter the Hub reads (library name, licence, datasets,
tags and a ``model-index`` with the measured accuracy), then says in prose what the
model is, how to load it, how to preprocess its input and what was measured. Everything
in it comes from the ``config.json`` content (:mod:`mobilenet_mnist.models.config`):
``architecture`` and ``model_args`` for the network, ``pretrained_cfg`` for the weights.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["HF_DATASET_IDS", "render_model_card"]

#: Hub dataset ids of the datasets the project trains on, for the card's ``datasets:``.
HF_DATASET_IDS = {"mnist": "ylecun/mnist", "fashion_mnist": "zalando-datasets/fashion_mnist"}
_DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


def _yaml_str(value: object) -> str:
    """A YAML scalar; JSON strings are valid YAML and quote everything that needs it."""
    return json.dumps(value) if isinstance(value, str) else str(value)


def _front_matter(config: Mapping[str, Any]) -> list[str]:
    cfg = config["pretrained_cfg"]
    licence = _yaml_str(cfg.get("license") or "other")
    lines = ["---", "library_name: mobilenet-mnist", f"license: {licence}"]
    dataset = cfg.get("dataset")
    if dataset:
        lines += ["datasets:", f"- {_yaml_str(HF_DATASET_IDS.get(dataset, dataset))}"]
    lines += ["pipeline_tag: image-classification", "tags:"]
    lines += [f"- {tag}" for tag in ("image-classification", "mobilenet", "pytorch", "safetensors")]
    accuracy = (cfg.get("metrics") or {}).get("test_accuracy")
    if dataset and accuracy:
        lines += _model_index(_name(config), dataset, _per_side(accuracy, cfg))
    lines.append("---")
    return lines


def _name(config: Mapping[str, Any]) -> str:
    """The weights' name, ``architecture.tag`` (just ``architecture`` without a tag)."""
    tag = config["pretrained_cfg"].get("tag")
    return f"{config['architecture']}.{tag}" if tag else str(config["architecture"])


def _per_side(accuracy: float | Mapping[Any, float], cfg: Mapping[str, Any]) -> dict[int, float]:
    """``test_accuracy`` as input side → %; a bare number is taken at the native side."""
    if isinstance(accuracy, Mapping):
        return {int(side): float(value) for side, value in accuracy.items()}
    return {int(cfg["input_size"][-1]): float(accuracy)}


def _model_index(name: str, dataset: str, accuracy: dict[int, float]) -> list[str]:
    title = _DATASET_TITLES.get(dataset, dataset)
    lines = [
        "model-index:",
        f"- name: {_yaml_str(name)}",
        "  results:",
        "  - task:",
        "      type: image-classification",
        "      name: Image Classification",
        "    dataset:",
        f"      name: {_yaml_str(title)}",
        f"      type: {_yaml_str(HF_DATASET_IDS.get(dataset, dataset))}",
        "      split: test",
        "    metrics:",
    ]
    for side in sorted(accuracy):
        lines += [
            "    - type: accuracy",
            f"      value: {accuracy[side]}",
            f"      name: {_yaml_str(f'Top-1 accuracy at {side}x{side}')}",
        ]
    return lines


def _usage(config: Mapping[str, Any], repo_id: str | None) -> list[str]:
    where = repo_id or "path/to/this/folder"
    cfg = config["pretrained_cfg"]
    in_chans, side = cfg["input_size"][0], cfg["input_size"][-1]
    return [
        "## Usage",
        "",
        "```python",
        "import torch",
        "from mobilenet_mnist import from_pretrained",
        "",
        f'model = from_pretrained("{where}").eval()',
        f"logits = model(torch.zeros(1, {in_chans}, {side}, {side}))  # normalised input",
        "```",
        "",
        f"Input: {in_chans}×{side}×{side}, resized with {cfg['interpolation']} "
        f"interpolation, normalised with mean {tuple(cfg['mean'])} and std "
        f"{tuple(cfg['std'])} "
        "(`mobilenet_mnist.create_transform(model.pretrained_cfg)` does both).",
        "",
    ]


def _results(cfg: Mapping[str, Any]) -> list[str]:
    metrics = cfg.get("metrics") or {}
    lines = ["## Results", ""]
    if not metrics:
        return [*lines, "No measured results were recorded for these weights.", ""]
    lines += ["| metric | input | value |", "|---|---|---:|"]
    for name, value in metrics.items():
        if isinstance(value, Mapping) and not all(str(side).isdigit() for side in value):
            continue  # named sub-metrics (the calibration) have their own section
        if isinstance(value, Mapping):
            rows = sorted((int(side), v) for side, v in value.items())
            lines += [f"| {name} | {side}×{side} | {v} |" for side, v in rows]
        else:
            lines.append(f"| {name} | | {value} |")
    dataset = _DATASET_TITLES.get(cfg.get("dataset") or "", cfg.get("dataset") or "?")
    return [*lines, "", f"Measured on the full {dataset} test set.", ""]


def render_model_card(config: Mapping[str, Any], repo_id: str | None = None) -> str:
    """The model card text for a saved checkpoint.

    Args:
        config: The ``config.json`` content written by :func:`mobilenet_mnist.save_pretrained`.
        repo_id: Hub repo id to show in the usage snippet (a placeholder path otherwise).

    Returns:
        Markdown with YAML front matter.
    """
    cfg, args = config["pretrained_cfg"], config["model_args"]
    lines = [*_front_matter(config), "", f"# {_name(config)}", ""]
    dataset = cfg.get("dataset")
    trained = f", trained on {_DATASET_TITLES.get(dataset, dataset)}" if dataset else ""
    arch = args["arch_config"]["name"] if "arch_config" in args else args["arch"]
    side = cfg["input_size"][-1]
    lines += [
        f"MobileNet V1 (Howard et al., 2017) with width multiplier α = {args['width_mult']}, "
        f"layer config `{arch}`, {config['num_classes']} classes{trained}. "
        f"{cfg['num_params']:,} parameters, {cfg['macs']:,} multiply-adds per "
        f"{side}×{side} image. Weights: `model.safetensors`; everything needed to rebuild the "
        "model: `config.json`.",
        "",
        *_usage(config, repo_id),
        *_results(cfg),
        *_calibration(cfg),
        *_robustness(cfg),
        *_details(cfg),
        "## Licence", "", f"{cfg.get('license') or 'See the repository.'}", "",
    ]
    return "\n".join(lines)


def _calibration(cfg: Mapping[str, Any]) -> list[str]:
    """The temperature, what it does to the calibration error, and the "not like the training data" threshold."""
    temperature = cfg.get("temperature")
    if temperature is None:
        return []
    measured = (cfg.get("metrics") or {}).get("calibration") or {}
    dataset = _DATASET_TITLES.get(cfg.get("dataset") or "", cfg.get("dataset") or "the")
    lines = [
        "## Calibrated probabilities",
        "",
        f"Divide the logits by the temperature T = {temperature:.4g} before the softmax: "
        "`softmax(logits / T)` are calibrated probabilities (temperature scaling, Guo et al. 2017, "
        "fitted on the training recipe's held-out validation images).",
    ]
    if "ece_before" in measured and "ece_after" in measured:
        lines[-1] += (
            f" Expected calibration error on the {dataset} test set (15 bins): {measured['ece_before']:.2f} % "
            f"with T = 1, {measured['ece_after']:.2f} % with T = {temperature:.4g}."
        )
    if cfg.get("ood_threshold") is not None:
        auroc = f" (AUROC {measured['ood_auroc']:.3f} against non-{dataset} images)" if "ood_auroc" in measured else ""
        lines += [
            "",
            f"An image whose `{cfg.get('ood_score')}` score is above {cfg['ood_threshold']:.4g} is unlike the "
            f"training images{auroc}: `mobilenet_mnist.deploy.Predictor` flags it (`is_digit=False`).",
        ]
    return [*lines, ""]


_ROBUSTNESS_SETS = {"sklearn_digits": "scikit-learn 8×8 handwritten digits", "printed_digits": "printed digits",
                    "handwriting_digits": "digits in handwriting typefaces",
                    "mnist": "MNIST test, clean", "fashion_mnist": "Fashion-MNIST test, clean"}  # fmt: skip


def _robustness(cfg: Mapping[str, Any]) -> list[str]:
    """Accuracy on other digits and under corruptions (``metrics["robustness"]``: ``"set/feed"`` → %)."""
    measured = (cfg.get("metrics") or {}).get("robustness") or {}
    table: dict[str, dict[str, Any]] = {}
    for key, value in measured.items():
        where, _, feed = str(key).rpartition("/")
        table.setdefault(where, {})[feed] = value
    if not table:
        return []
    lines = [
        "## Robustness",
        "",
        "Top-1 accuracy (%) on digits that are not MNIST's and on test images under MNIST-C-style "
        "corruptions (name=strength), fed through `preprocess` and through `prepare_digits` "
        "(`benchmarks/real_digits.py`).",
        "",
    ]
    feeds = [f for f in ("preprocess", "prepare_digits") if any(f in row for row in table.values())]
    lines += ["| set | " + " | ".join(f"`{f}`" for f in feeds) + " |", "|---|" + "---:|" * len(feeds)]
    for where, row in table.items():
        dataset, _, corruption = where.partition("_c/")
        title = _ROBUSTNESS_SETS.get(where) or f"{_DATASET_TITLES.get(dataset, dataset)} test, {corruption}"
        cells = [f"{row[f]:.1f}" if f in row else "—" for f in feeds]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _details(cfg: Mapping[str, Any]) -> list[str]:
    """Labels and how the weights were trained."""
    lines = []
    if cfg.get("labels"):
        lines += ["## Labels", "", ", ".join(f"`{label}`" for label in cfg["labels"]), ""]
    if cfg.get("recipe"):
        lines += ["## Training", "", "Reproduce with:", "", "```bash", str(cfg["recipe"]), "```", ""]
        if cfg.get("train_time_s"):
            where = f" on {cfg['train_hardware']}" if cfg.get("train_hardware") else ""
            lines += [f"Training took {cfg['train_time_s'] / 60:.1f} min (wall clock){where}.", ""]
    return lines
