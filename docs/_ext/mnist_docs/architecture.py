"""Architecture page tables, computed from the layer-config registry and ``profile_model``.

Nothing here is typed by hand: the layer table is the built model's conv and linear
layers with their measured output shapes and costs, the α × ρ table builds every
registered variant at every resolution, and the paper check rebuilds the ImageNet
config next to the figures printed in the paper.
"""

from __future__ import annotations

from typing import Any

from .common import INCLUDE_DIR, list_table, literal, millions, write_if_changed

#: Resolution multipliers of the α × ρ table (the published checkpoints are scored at these).
RESOLUTION_MULTS = (1.0, 0.875, 0.75)
#: Howard et al. (2017), Table 6: α → (million mult-adds, million parameters), 224 px, ImageNet.
PAPER_TABLE_6 = {1.0: (569, 4.2), 0.75: (325, 2.6), 0.5: (149, 1.3), 0.25: (41, 0.5)}

def _layer_type(module: Any, kind: str) -> tuple[str, str, str]:
    """(type, stride, filter shape) of one conv/linear layer, in the paper's notation."""
    if kind == "linear":
        return "FC", "", f"{module.in_features} × {module.out_features}"
    k = "×".join(map(str, module.kernel_size))
    stride = f"s{module.stride[0]}"
    if kind == "conv_dw":
        return f"Conv dw {k}", stride, f"{k} × {module.in_channels} dw"
    return f"Conv {k}", stride, f"{k} × {module.in_channels} × {module.out_channels}"


def _params_with_norm(model: Any, name: str) -> int:
    """Parameters of a layer plus its BatchNorm (the enclosing ConvBnAct)."""
    owner = name.rsplit(".", 1)[0] if name.endswith(".conv") else name
    return sum(p.numel() for p in model.get_submodule(owner).parameters())


def layer_rows(model: Any) -> list[list[str]]:
    """One row per conv/linear layer of ``model``, plus the pooling row, plus totals."""
    from mobilenet_mnist import profile_model

    cost = profile_model(model)
    rows: list[list[str]] = []
    in_shape = cost.input_size
    for index, layer in enumerate(cost.layers):
        module = model.get_submodule(layer.name)
        if layer.kind == "linear":
            pooled = (in_shape[0], 1, 1)
            rows.append(["", "global average pool", "", "", _shape(pooled), "0", "0"])
            in_shape = pooled
        kind, stride, filt = _layer_type(module, layer.kind)
        rows.append([
            str(index), literal(layer.name), f"{kind} {stride}".strip(), filt,
            _shape(layer.output_shape),
            f"{_params_with_norm(model, layer.name):,}", f"{layer.macs:,}",
        ])
        in_shape = layer.output_shape
    rows.append(["", "**total**", "", "", "", f"**{cost.params:,}**", f"**{cost.macs:,}**"])
    return rows


def _shape(shape: tuple[int, ...]) -> str:
    return " × ".join(map(str, shape))


def layer_table(arch_name: str = "mnist") -> str:
    """The per-layer table of ``mobilenet_v1(arch=arch_name)`` at α = 1.0, ρ = 1.0."""
    from mobilenet_mnist import mobilenet_v1

    model = mobilenet_v1(arch=arch_name)
    header = ["#", "module", "type / stride", "filter shape", "output (C × H × W)",
              "params", "mult-adds"]
    return list_table(header, layer_rows(model), align_right_from=5)


def _type_group(model: Any, layer: Any, is_stem: bool) -> str:
    if is_stem:
        return "Conv 3×3 (stem)"
    if layer.kind == "conv" and model.get_submodule(layer.name).kernel_size == (1, 1):
        return "Conv 1×1 (pointwise)"
    return {"conv_dw": "Conv dw 3×3 (depthwise)", "linear": "FC"}.get(layer.kind, "Conv")


def cost_breakdown(arch_name: str = "mnist") -> str:
    """Share of mult-adds and weights per layer type (the paper's Table 2, on MNIST)."""
    from mobilenet_mnist import mobilenet_v1, profile_model

    model = mobilenet_v1(arch=arch_name)
    cost = profile_model(model)
    groups: dict[str, list[int]] = {}
    for index, layer in enumerate(cost.layers):
        totals = groups.setdefault(_type_group(model, layer, index == 0), [0, 0])
        totals[0] += layer.macs
        totals[1] += layer.params
    weights = sum(params for _, params in groups.values())
    rows = [
        [kind, f"{macs / cost.macs:.1%}", f"{params / weights:.1%}"]
        for kind, (macs, params) in sorted(groups.items(), key=lambda kv: -kv[1][0])
    ]
    return list_table(["layer type", "mult-adds", "weights"], rows, align_right_from=1)


def multiplier_table() -> str:
    """Parameters and mult-adds of every registered variant at every ρ in RESOLUTION_MULTS."""
    from mobilenet_mnist import create_model, list_models, profile_model

    header = ["model", "α", "parameters"]
    header += [f"mult-adds at {round(32 * rho)} px (ρ = {rho})" for rho in RESOLUTION_MULTS]
    rows = []
    for name in list_models("mobilenet_v1_*"):
        model = create_model(name)
        row = [literal(name), f"{model.width_mult:g}", millions(profile_model(model).params)]
        for rho in RESOLUTION_MULTS:
            sized = create_model(name, resolution_mult=rho)
            row.append(millions(profile_model(sized).macs))
        rows.append(row)
    return list_table(header, rows, align_right_from=1)


def paper_check_table() -> str:
    """The ``imagenet`` config at 224 px, 3 channels, 1000 classes next to the paper's Table 6."""
    from mobilenet_mnist import mobilenet_v1, profile_model

    rows = []
    for alpha, (paper_macs, paper_params) in PAPER_TABLE_6.items():
        model = mobilenet_v1(arch="imagenet", width_mult=alpha, in_chans=3, num_classes=1000)
        cost = profile_model(model)
        rows.append([
            f"{alpha:g}", f"{cost.macs / 1e6:.0f} M", f"{paper_macs} M",
            f"{cost.params / 1e6:.2f} M", f"{paper_params} M",
        ])
    header = ["α", "mult-adds (this library)", "mult-adds (paper)", "parameters (this library)",
              "parameters (paper)"]
    return list_table(header, rows, align_right_from=1)


def generate_architecture() -> None:
    """Write the architecture page's generated include files."""
    write_if_changed(INCLUDE_DIR / "arch_layers.rst", layer_table())
    write_if_changed(INCLUDE_DIR / "arch_breakdown.rst", cost_breakdown())
    write_if_changed(INCLUDE_DIR / "arch_multipliers.rst", multiplier_table())
    write_if_changed(INCLUDE_DIR / "arch_paper_check.rst", paper_check_table())
