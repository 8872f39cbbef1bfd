"""``mobilenet-mnist info``: cost, accuracy, licence and source of a model or of published weights."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from .common import out


def add_parser(sub: Any) -> None:
    p = sub.add_parser("info", help="cost, accuracy, licence and source of a model or weights")
    p.add_argument("name", help="a model (mobilenet_v1_100) or published weights (mobilenet_v1_100.mnist)")
    p.add_argument("--json", action="store_true", help="the raw metadata as JSON instead of a summary")
    p.add_argument("--layers", action="store_true", help="also the per-layer costs of a model (a markdown table)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if "." in args.name:
        from ..models.pretrained import get_pretrained_cfg

        cfg = get_pretrained_cfg(args.name)
        out(json.dumps(cfg.to_dict(), indent=2, default=str) if args.json else _weights_summary(cfg))
        return 0
    info, cost = _model_info(args.name)
    out(json.dumps(info, indent=2) if args.json else _model_summary(info))
    if args.layers and not args.json:
        out(cost.to_markdown())
    return 0


def _model_info(name: str) -> tuple[dict[str, Any], Any]:
    """The raw metadata of a registered model (no weights loaded), and its ``ModelCost``."""
    from dataclasses import asdict

    from ..models.factory import check_model_name, create_model
    from ..models.pretrained import list_pretrained
    from ..models.profile import profile_model

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
    from ..models.pretrained import get_pretrained_cfg

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
    from ..models.pretrained import shipped_weights_path

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
    """ "MobileNet V1, layer config 'mnist' (its description)"; the name alone if unregistered."""
    from ..models.archs import get_arch, list_archs

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
