"""What a set of weights is: :class:`PretrainedCfg`, the one metadata record.

The same record is, as in timm's ``_pretrained.py`` and ``_hub.py``:

* an entry of the weight registry (``mobilenet_mnist/weights/registry.json``);
* ``model.pretrained_cfg``, as the plain dict :meth:`PretrainedCfg.to_dict` returns
  (timm's keys: ``architecture`` is the registered model name, ``input_size`` is
  ``(C, H, W)``, ``mean``/``std`` are per channel, ``first_conv``/``classifier`` name modules,
  ``crop_pct``/``crop_mode``/``pool_size`` are what timm's data helpers and tests read);
* the ``pretrained_cfg`` part of a saved folder's ``config.json`` (see :mod:`~mobilenet_mnist.models.config`).

Every other metadata view (the safetensors ``__metadata__``, export metadata, model cards)
is derived from it. Each field's ``metadata["roles"]`` says how the record is kept
together when a model changes (:meth:`PretrainedCfg.field_names`):

``model``
    Describes the network as built (name, layer config, width, input, classes). When
    weights are loaded into a model, the model's values win.
``head``
    Describes the classifier's outputs (labels, measured metrics, the calibration of its
    logits); a new head drops them (:meth:`PretrainedCfg.for_new_head`).
``file``
    Where one weight file lives (Hub repo, revision, file name, sha256, size, shipped copy,
    source). A saved folder states them anew in ``config.json``'s ``weights`` block.
``run``
    How exact weights were made and scored (metrics, calibration, recipe, training time and
    hardware); saving states them anew rather than inheriting them (weights trained further
    need measuring again).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from ..utils.checks import is_int

__all__ = ["WEIGHTS_NAME", "PretrainedCfg", "is_repo_id", "upgrade_legacy_record"]

#: File name of the weights in a saved folder and in a Hub repo.
WEIGHTS_NAME = "model.safetensors"
#: A Hugging Face Hub repo id, ``"owner/name"`` (letters, digits, ``-``, ``_``, ``.``).
_REPO_ID = re.compile(r"^[A-Za-z0-9](?:[\w.-]*[A-Za-z0-9_])?/[A-Za-z0-9_](?:[\w.-]*[A-Za-z0-9_])?$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TUPLE_FIELDS = ("input_size", "mean", "std", "labels", "test_input_size", "min_input_size", "pool_size")
#: ``crop_mode`` values timm's eval transform knows.
_CROP_MODES = ("squash", "center", "border")
#: Keys of 0.2.0 records (registry schema 1, flat config.json) that the record no longer holds.
_LEGACY_DROPPED = ("name", "library_name", "library_version", "config_version", "in_chans", "arch_config")


def is_repo_id(text: object) -> bool:
    """True if ``text`` looks like a Hugging Face Hub repo id, ``"owner/name"``."""
    return isinstance(text, str) and bool(_REPO_ID.match(text)) and ".." not in text and "--" not in text


def _roles(*roles: str, default: Any = None, required: bool = False) -> Any:
    """A dataclass field whose metadata names its roles (see the module docstring)."""
    if required:
        return field(metadata={"roles": roles})
    return field(default=default, metadata={"roles": roles})


@dataclass(frozen=True)
class PretrainedCfg:
    """Everything known about one set of weights (or one freshly built model).

    Attributes:
        architecture: Registered model name, e.g. ``"mobilenet_v1_050"`` (``"mobilenet_v1"``
            for a width or layer config without a named variant).
        num_classes: Classifier outputs (0: pooled features).
        input_size: Native input as (C, H, W), e.g. ``(1, 32, 32)``.
        mean: Per-channel normalisation mean (after scaling pixels to [0, 1]).
        std: Per-channel normalisation standard deviation.
        tag: Weight tag, e.g. ``"mnist"``; the weights' name is ``architecture.tag``.
        arch: Layer config name (:func:`mobilenet_mnist.list_archs`), as the builders'
            ``arch=`` keyword.
        width_mult: Width multiplier α.
        interpolation: Resize interpolation used by the preprocessing.
        crop_pct: Fraction of the resized image kept by the eval crop (timm's data config):
            1.0, the whole image.
        crop_mode: How the eval transform fits an image to ``input_size``: ``"squash"``
            resizes both sides to it without keeping the aspect ratio, as
            :func:`mobilenet_mnist.preprocess` does (timm also knows ``"center"``, ``"border"``).
        test_input_size: Input (C, H, W) to evaluate at, where it differs from ``input_size``.
        min_input_size: Smallest input (C, H, W) the network's strides take.
        fixed_input_size: Whether the network takes only ``input_size`` (never: any side works).
        pool_size: Side (H, W) of the last feature map at ``input_size``, which the head pools.
        first_conv: Module name of the first convolution (adapted for other ``in_chans``).
        classifier: Module name of the classifier (replaced for other ``num_classes``).
        labels: One class name per output.
        dataset: Training dataset, e.g. ``"mnist"`` or ``"fashion_mnist"``.
        metrics: Measured results: name → number, or name → {input side or sub-metric name →
            number}; ``metrics["test_accuracy"]`` is top-1 accuracy (%) on the full test set
            per side, ``metrics["calibration"]`` what ``benchmarks/calibrate.py`` measured
            (ECE in %, before and after ``temperature``; AUROC of the ``ood_score`` for
            digits against non-digits).
        temperature: Temperature ``T`` of the logits, fitted on held-out images (Guo et al.,
            2017): ``softmax(logits / T)`` are calibrated probabilities. None: not calibrated
            (use ``T = 1``).
        ood_score: How "unlike the training images" is scored from the logits (a method of
            :func:`mobilenet_mnist.training.calibration.not_a_digit_score`, e.g. ``"margin"``).
        ood_threshold: Images whose ``ood_score`` is above it are flagged "not a digit?"
            (not like the training images); None: no threshold was chosen.
        num_params: Parameters, BatchNorm included.
        macs: Multiply-adds per image at the native input size.
        license: SPDX licence id of the weights (default: the project's, ``"mit"``).
        recipe: The command that reproduces the weights.
        train_time_s: Wall-clock training time in seconds.
        train_hardware: Where the weights were trained, e.g. ``"one NVIDIA H200 GPU"``.
        hf_hub_id: Hugging Face Hub repo id, ``"org/name"``.
        hf_hub_revision: Pinned revision (tag, branch or commit) to download.
        filename: Weight file name in the Hub repo.
        sha256: Hex sha256 of the weight file; checked before the tensors are used.
        file_size: Size of the weight file in bytes.
        shipped: Whether the file ships inside the package (works offline).
        source: Where loaded weights came from (set when loading).
    """

    architecture: str = _roles("model", required=True)
    num_classes: int = _roles("model", required=True)
    input_size: tuple[int, int, int] = _roles("model", required=True)
    mean: tuple[float, ...] = _roles(required=True)
    std: tuple[float, ...] = _roles(required=True)
    tag: str | None = _roles()
    arch: str = _roles("model", default="mnist")
    width_mult: float = _roles("model", default=1.0)
    interpolation: str = _roles(default="bilinear")
    crop_pct: float = _roles(default=1.0)
    crop_mode: str = _roles(default="squash")
    test_input_size: tuple[int, int, int] | None = _roles()
    min_input_size: tuple[int, int, int] | None = _roles("model")
    fixed_input_size: bool = _roles(default=False)
    pool_size: tuple[int, int] | None = _roles("model")
    first_conv: str = _roles("model", default="stem.conv")
    classifier: str = _roles("model", default="classifier")
    labels: tuple[str, ...] | None = _roles("head")
    dataset: str | None = _roles()
    metrics: dict[str, Any] = field(default_factory=dict, hash=False, metadata={"roles": ("head", "run")})
    temperature: float | None = _roles("head", "run")
    ood_score: str | None = _roles("head", "run")
    ood_threshold: float | None = _roles("head", "run")
    num_params: int | None = _roles()
    macs: int | None = _roles()
    license: str | None = _roles(default="mit")
    recipe: str | None = _roles("run")
    train_time_s: float | None = _roles("run")
    train_hardware: str | None = _roles("run")
    hf_hub_id: str | None = _roles("file")
    hf_hub_revision: str | None = _roles("file")
    filename: str = _roles("file", default=WEIGHTS_NAME)
    sha256: str | None = _roles("file")
    file_size: int | None = _roles("file")
    shipped: bool = _roles("file", default=False)
    source: str | None = _roles("file")

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError(f"Invalid PretrainedCfg {self.name!r}: " + "; ".join(problems) + ".")

    # ----------------------------------------------------------------- derived views
    @property
    def name(self) -> str:
        """``architecture.tag`` (the registry key), or ``architecture`` without a tag."""
        return f"{self.architecture}.{self.tag}" if self.tag else str(self.architecture)

    @property
    def model_name(self) -> str:
        """The registered model name; the same as :attr:`architecture` (0.2.0 called it so)."""
        return self.architecture

    @property
    def test_accuracy(self) -> dict[int, float]:
        """Top-1 test accuracy (%) by input side, a view of ``metrics["test_accuracy"]``.

        A bare number there is taken at the native input side; anything else gives ``{}``.
        """
        value = self.metrics.get("test_accuracy") if isinstance(self.metrics, Mapping) else None
        if _is_number(value):
            return {self.input_size[-1]: value}
        return dict(value) if isinstance(value, Mapping) else {}

    @classmethod
    def field_names(cls, role: str | None = None) -> tuple[str, ...]:
        """Names of the fields, or of those with ``role`` (``model``, ``head``, ``file``, ``run``)."""
        return tuple(f.name for f in dataclasses.fields(cls) if role is None or role in f.metadata["roles"])

    def for_new_head(self, num_classes: int) -> PretrainedCfg:
        """This record for a model whose classifier was replaced: no ``head`` fields."""
        cleared: dict[str, Any] = {name: ({} if name == "metrics" else None) for name in self.field_names("head")}
        return dataclasses.replace(self, num_classes=num_classes, **cleared)

    # ----------------------------------------------------------------- dict views
    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict without unset (None) fields: ``model.pretrained_cfg``.

        Tuples stay tuples and metric input sides stay ints; ``json.dumps`` writes both.
        """
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["metrics"] = {k: dict(v) if isinstance(v, Mapping) else v for k, v in self.metrics.items()}
        return {k: v for k, v in out.items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, strict: bool = True) -> PretrainedCfg:
        """Build from :meth:`to_dict` output or parsed JSON (lists become tuples, sides ints).

        Args:
            data: The fields; missing optional ones take their defaults.
            strict: Refuse unknown keys (``False`` drops them, e.g. keys a user added to
                ``model.pretrained_cfg``).

        Raises:
            TypeError: If ``data`` is not a mapping.
            ValueError: For unknown keys (when ``strict``), missing required fields or
                invalid values; the message names them and the valid fields.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"PretrainedCfg.from_dict expects a dict of fields, got {type(data).__name__}.")
        known = cls.field_names()
        unknown = sorted(set(data) - set(known))
        if unknown and strict:
            raise ValueError(f"Unknown PretrainedCfg field(s) {unknown}; valid fields: {list(known)}.")
        values = {k: v for k, v in data.items() if k in known}
        for key in _TUPLE_FIELDS:
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        if isinstance(values.get("metrics"), Mapping):
            values["metrics"] = _metrics_from_json(values["metrics"])
        required = [f.name for f in dataclasses.fields(cls) if _is_required(f) and f.name not in values]
        if required:
            raise ValueError(
                f"Incomplete PretrainedCfg {values.get('architecture')!r}: missing required field(s) "
                f"{required}; every record names its architecture, num_classes, input_size, mean and std."
            )
        return cls(**values)

    def check_published(self) -> None:
        """Raise unless the record says where its weights are and pins their content.

        Raises:
            ValueError: Naming the missing fields (registry entries need all of them).
        """
        needed = ("tag", "hf_hub_id", "hf_hub_revision", "sha256", "file_size")
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(
                f"Published weights {self.name!r} need {list(needed)}; missing {missing}. Publish "
                "with mobilenet_mnist.hub.publish.publish_checkpoint, which fills them in."
            )


def _is_required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _metrics_from_json(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """JSON object keys are strings; the input sides of per-side metrics are ints (named sub-metrics stay str)."""
    out: dict[str, Any] = {}
    for name, value in metrics.items():
        if isinstance(value, Mapping) and all(str(key).isdigit() for key in value):
            out[name] = {int(side): value[side] for side in value}
        elif isinstance(value, Mapping):
            out[name] = dict(value)
        else:
            out[name] = value
    return out


def upgrade_legacy_record(data: Mapping[str, Any]) -> dict[str, Any]:
    """Fields of a 0.2.0 record (registry schema 1 entry or flat ``config.json``) in today's names.

    0.2.0 named the model ``model_name`` and the layer config ``arch`` (registry) or
    ``architecture`` (config.json), kept ``test_accuracy`` beside ``metrics`` and stored
    the derived ``name``. A dict without ``model_name`` is returned unchanged.
    """
    if "model_name" not in data:
        return dict(data)
    values = {k: v for k, v in data.items() if k not in _LEGACY_DROPPED}
    values["arch"] = values.pop("arch", None) or values.pop("architecture", None) or "mnist"
    values.pop("architecture", None)
    values["architecture"] = values.pop("model_name") or "mobilenet_v1"
    accuracy = values.pop("test_accuracy", None)
    if accuracy:
        values["metrics"] = {**(values.get("metrics") or {}), "test_accuracy": accuracy}
    return values


# ------------------------------------------------------------------------- validation
def _problems(cfg: PretrainedCfg) -> list[str]:
    """What is wrong with ``cfg``, as human-readable strings (empty when valid)."""
    return [
        *_identity_problems(cfg),
        *_input_problems(cfg),
        *_head_problems(cfg),
        *_calibration_problems(cfg),
        *_file_problems(cfg),
    ]


def _identity_problems(cfg: PretrainedCfg) -> list[str]:
    problems = []
    if not isinstance(cfg.architecture, str) or not cfg.architecture or "." in cfg.architecture:
        problems.append(f"architecture must be a model name without '.', got {cfg.architecture!r}")
    if cfg.tag is not None and (not isinstance(cfg.tag, str) or not cfg.tag or "." in cfg.tag):
        problems.append(f"tag must be a non-empty str without '.' or None, got {cfg.tag!r}")
    if isinstance(cfg.width_mult, bool) or not isinstance(cfg.width_mult, (int, float)) or cfg.width_mult <= 0:
        problems.append(f"width_mult must be a positive number, got {cfg.width_mult!r}")
    return problems


def _input_problems(cfg: PretrainedCfg) -> list[str]:
    size = cfg.input_size
    if not _is_sides(size, 3):
        return [f"input_size must be (C, H, W) of positive ints, got {size!r}"]
    problems = [
        f"{name} must be None or {shape} of positive ints, got {value!r}"
        for name, value, count, shape in (
            ("test_input_size", cfg.test_input_size, 3, "(C, H, W)"),
            ("min_input_size", cfg.min_input_size, 3, "(C, H, W)"),
            ("pool_size", cfg.pool_size, 2, "(H, W)"),
        )
        if value is not None and not _is_sides(value, count)
    ]
    if not _is_number(cfg.crop_pct) or not 0 < cfg.crop_pct <= 1:
        problems.append(f"crop_pct must be a number in (0, 1], got {cfg.crop_pct!r}")
    if cfg.crop_mode not in _CROP_MODES:
        problems.append(f"crop_mode must be one of {_CROP_MODES}, got {cfg.crop_mode!r}")
    if not isinstance(cfg.fixed_input_size, bool):
        problems.append(f"fixed_input_size must be a bool, got {cfg.fixed_input_size!r}")
    if not (isinstance(cfg.mean, tuple) and isinstance(cfg.std, tuple)) or not len(cfg.mean) == len(cfg.std) == size[0]:
        problems.append(f"mean and std need {size[0]} value(s), one per input channel")
    return problems


def _is_sides(value: object, count: int) -> bool:
    return isinstance(value, tuple) and len(value) == count and all(is_int(v) and v > 0 for v in value)


def _head_problems(cfg: PretrainedCfg) -> list[str]:
    problems = []
    if not is_int(cfg.num_classes) or cfg.num_classes < 0:
        problems.append(f"num_classes must be an int >= 0, got {cfg.num_classes!r}")
    elif cfg.labels is not None and len(cfg.labels) != cfg.num_classes:
        problems.append(f"labels has {len(cfg.labels)} entries but num_classes is {cfg.num_classes}")
    if not isinstance(cfg.metrics, Mapping):
        return [*problems, f"metrics must be a dict, got {type(cfg.metrics).__name__}"]
    for name, value in cfg.metrics.items():
        values = value.values() if isinstance(value, Mapping) else [value]
        if not all(_is_number(v) for v in values):
            problems.append(f"metrics[{name!r}] must be a number or a dict of input side → number, got {value!r}")
    bad = {k: v for k, v in cfg.test_accuracy.items() if _is_number(v) and not 0.0 <= v <= 100.0}
    if bad:
        problems.append(f"test_accuracy values are percentages in [0, 100], got {bad}")
    return problems


def _calibration_problems(cfg: PretrainedCfg) -> list[str]:
    problems = []
    if cfg.temperature is not None and (not _is_number(cfg.temperature) or cfg.temperature <= 0):
        problems.append(f"temperature must be a positive number or None, got {cfg.temperature!r}")
    if cfg.ood_score is not None and (not isinstance(cfg.ood_score, str) or not cfg.ood_score):
        problems.append(f"ood_score must name a score method (e.g. 'margin') or be None, got {cfg.ood_score!r}")
    if cfg.ood_threshold is not None and not _is_number(cfg.ood_threshold):
        problems.append(f"ood_threshold must be a finite number or None, got {cfg.ood_threshold!r}")
    elif cfg.ood_threshold is not None and cfg.ood_score is None:
        problems.append("ood_threshold needs ood_score, the method whose scores it thresholds")
    return problems


def _file_problems(cfg: PretrainedCfg) -> list[str]:
    problems = []
    if cfg.sha256 is not None and (not isinstance(cfg.sha256, str) or not _SHA256.match(cfg.sha256)):
        problems.append(f"sha256 must be 64 lowercase hex digits, got {cfg.sha256!r}")
    if cfg.file_size is not None and (not is_int(cfg.file_size) or cfg.file_size <= 0):
        problems.append(f"file_size must be a positive int (bytes), got {cfg.file_size!r}")
    if cfg.hf_hub_id is not None and not is_repo_id(cfg.hf_hub_id):
        problems.append(f"hf_hub_id must look like 'org/name', got {cfg.hf_hub_id!r}")
    if cfg.hf_hub_revision is not None and (not isinstance(cfg.hf_hub_revision, str) or not cfg.hf_hub_revision):
        problems.append("hf_hub_revision must be a non-empty tag, branch or commit")
    if not isinstance(cfg.filename, str) or "/" in cfg.filename or not cfg.filename.endswith(".safetensors"):
        problems.append(f"filename must be a plain '*.safetensors' name, got {cfg.filename!r}")
    return problems


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
