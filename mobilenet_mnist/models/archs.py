"""Layer configurations as data, and the registry of named architectures.

An architecture is a name plus a tuple of :class:`LayerConfig` rows, exactly like the
layer tables of the MobileNet paper (Howard et al., 2017, Table 1). The model in
:mod:`mobilenet_mnist.models.mobilenet` is built from such a row list, so a new variant is a new
config registered with :func:`register_arch`, not new model code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..utils.checks import is_int
from ..utils.names import unknown_name_message  # also imported from here by data/, deploy/, training/

__all__ = [
    "IMAGENET_ARCH",
    "MNIST_ARCH",
    "ArchConfig",
    "LayerConfig",
    "get_arch",
    "list_archs",
    "register_arch",
]

LayerKind = Literal["conv", "dw_sep"]
_LAYER_KINDS = ("conv", "dw_sep")


@dataclass(frozen=True)
class LayerConfig:
    """One row of an architecture table.

    Attributes:
        kind: ``"conv"`` for a full convolution (the stem) or ``"dw_sep"`` for a
            depthwise-separable block (3×3 depthwise conv, then 1×1 pointwise conv).
        out_chs: Output channels at width multiplier α = 1.0.
        stride: Stride of the layer (of the depthwise conv for ``"dw_sep"``): 1 or 2.
        kernel_size: Spatial kernel size (of the depthwise conv for ``"dw_sep"``).
    """

    kind: LayerKind
    out_chs: int
    stride: int = 1
    kernel_size: int = 3

    def __post_init__(self) -> None:
        if self.kind not in _LAYER_KINDS:
            raise ValueError(f"LayerConfig.kind must be one of {_LAYER_KINDS}, got {self.kind!r}.")
        if not is_int(self.out_chs) or self.out_chs < 1:
            raise ValueError(f"LayerConfig.out_chs must be a positive int, got {self.out_chs!r}.")
        if not is_int(self.stride) or self.stride not in (1, 2):
            raise ValueError(f"LayerConfig.stride must be 1 or 2, got {self.stride!r}.")
        if not is_int(self.kernel_size) or self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"LayerConfig.kernel_size must be a positive odd int, got {self.kernel_size!r}.")


@dataclass(frozen=True)
class ArchConfig:
    """A named architecture: the stem and blocks of a MobileNet V1, in order.

    Attributes:
        name: Registry name, e.g. ``"mnist"``.
        layers: The layer rows; the first must be the ``"conv"`` stem, the rest
            ``"dw_sep"`` blocks.
        input_size: Native input side in pixels at resolution multiplier ρ = 1.0.
        description: One line saying what the architecture is for.
    """

    name: str
    layers: tuple[LayerConfig, ...]
    input_size: int
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"ArchConfig.name must be a non-empty str, got {self.name!r}.")
        if not isinstance(self.layers, tuple) or not all(isinstance(layer, LayerConfig) for layer in self.layers):
            raise TypeError(
                f"Architecture {self.name!r}: layers must be a tuple of LayerConfig, got "
                f"{type(self.layers).__name__}; wrap the rows as tuple(LayerConfig(...), ...)."
            )
        if not is_int(self.input_size):
            raise TypeError(f"Architecture {self.name!r}: input_size must be an int, got {self.input_size!r}.")
        if not self.layers:
            raise ValueError(f"Architecture {self.name!r} has no layers.")
        if self.layers[0].kind != "conv":
            raise ValueError(f"Architecture {self.name!r} must start with a 'conv' stem layer.")
        if any(layer.kind != "dw_sep" for layer in self.layers[1:]):
            raise ValueError(f"Architecture {self.name!r}: every layer after the stem must be 'dw_sep'.")
        if self.input_size < self.min_input_size:
            raise ValueError(
                f"Architecture {self.name!r}: input_size {self.input_size} is below the "
                f"minimum {self.min_input_size} its strides allow."
            )

    @property
    def total_stride(self) -> int:
        """The product of all strides (input side divided by output feature-map side)."""
        total = 1
        for layer in self.layers:
            total *= layer.stride
        return total

    @property
    def min_input_size(self) -> int:
        """Smallest input side for which every stride-2 layer still sees at least 2×2."""
        num_downsamples = sum(layer.stride == 2 for layer in self.layers)
        return 2 ** (num_downsamples - 1) + 1 if num_downsamples else 1


def _dw(out_chs: int, stride: int = 1) -> LayerConfig:
    return LayerConfig("dw_sep", out_chs, stride)


# The blocks both built-in configs share: Table 1 of the paper from the first
# depthwise-separable block to the first 1024-channel one.
_PAPER_BLOCKS = (
    _dw(64),
    _dw(128, 2),
    _dw(128),
    _dw(256, 2),
    _dw(256),
    _dw(512, 2),
    *(_dw(512) for _ in range(5)),
    _dw(1024, 2),
)

# The MNIST adaptation differs from the paper in two strides only: a stride-1 stem and a
# stride-2 last block, so a 32×32 digit ends as a 1×1 map (32→16→8→4→2→1).
#: The MNIST layer config: 1×32×32 input, stride-1 stem, five stride-2 stages.
MNIST_ARCH = ArchConfig(
    name="mnist",
    layers=(LayerConfig("conv", 32, 1), *_PAPER_BLOCKS, _dw(1024, 2)),
    input_size=32,
    description="MNIST adaptation: stride-1 stem, five stride-2 stages, 32→16→8→4→2→1.",
)

# Table 1 of the paper. Its last row prints "s2" but the 7×7 map there is pooled with a
# 7×7 average pool, so the stride is really 1 (as in every reference implementation).
#: The paper's ImageNet layer config (Table 1): 3×224×224 input, 1000 classes.
IMAGENET_ARCH = ArchConfig(
    name="imagenet",
    layers=(LayerConfig("conv", 32, 2), *_PAPER_BLOCKS, _dw(1024)),
    input_size=224,
    description="The paper's ImageNet network (Howard et al., 2017, Table 1), 224×224 RGB.",
)

_ARCH_REGISTRY: dict[str, ArchConfig] = {}


def register_arch(arch: ArchConfig) -> ArchConfig:
    """Add an architecture to the registry so models can be built from its name.

    Args:
        arch: The architecture to register; ``arch.name`` becomes its key.

    Returns:
        The same architecture, so this can wrap a module-level definition.

    Raises:
        TypeError: If ``arch`` is not an :class:`ArchConfig`.
        ValueError: If the name is already registered (pick another name).
    """
    if not isinstance(arch, ArchConfig):
        raise TypeError(f"register_arch expects an ArchConfig, got {type(arch).__name__}.")
    if arch.name in _ARCH_REGISTRY:
        raise ValueError(f"Architecture {arch.name!r} is already registered; choose a different name.")
    _ARCH_REGISTRY[arch.name] = arch
    return arch


def get_arch(name: str | ArchConfig) -> ArchConfig:
    """Look an architecture up by name (an :class:`ArchConfig` is returned unchanged).

    Raises:
        TypeError: If ``name`` is neither a str nor an :class:`ArchConfig`.
        KeyError: If no architecture has that name; the message lists the valid names
            and the closest match.
    """
    if isinstance(name, ArchConfig):
        return name
    if not isinstance(name, str):
        raise TypeError(
            f"arch must be an architecture name (one of {', '.join(list_archs())}) or an "
            f"ArchConfig, got {type(name).__name__}."
        )
    if name in _ARCH_REGISTRY:
        return _ARCH_REGISTRY[name]
    raise KeyError(unknown_name_message("architecture", str(name), list_archs()))


def list_archs() -> list[str]:
    """Names of all registered architectures, sorted."""
    return sorted(_ARCH_REGISTRY)


register_arch(MNIST_ARCH)
register_arch(IMAGENET_ARCH)
