"""The PyTorch backend's whole-network path: the model run as one frozen oneDNN Graph.

Calling oneDNN convolutions one by one from PyTorch (:class:`~.packed_conv.PackedConvAct`)
costs about 40 µs per layer outside the convolution itself (building oneDNN's primitive
descriptor, wrapping tensors): at batch 1 that is two thirds of the time, since the
network's 27 convolutions themselves take about 0.6 ms. PyTorch's oneDNN Graph fuser
(LLGA, ``torch.jit.enable_onednn_fusion``) compiles a frozen, traced network into oneDNN
partitions once per input shape and then runs them with no such overhead. Measured with
α = 1 at 32 px, 2 threads: batch 1 2.1 → 0.66 ms, batch 256 1,177 → 1,566 images/s
(``mobilenet-mnist benchmark`` reports the path as a whole).

:class:`GraphMobileNetV1` is a :class:`~mobilenet_mnist.MobileNetV1` whose ``forward``, for
eager float32 CPU inference (eval mode, no autograd), runs that graph; everything else
(export, scripting, ``torch.compile``, FX, autograd, ``forward_features`` and
``forward_intermediates``) runs the ordinary model code, so exported graphs hold standard
operators. The graph is built from the model's current weights on first use and rebuilt
when a weight is replaced or changed in place. TorchScript (which the fuser needs) is
deprecated in PyTorch; where it or oneDNN Graph is missing, :func:`onednn_graph_available`
is False and the layer-by-layer path runs.
"""

# No `from __future__ import annotations`: GraphMobileNetV1.forward must stay scriptable.
import functools
import threading
import warnings
from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from ..models.input_checks import check_model_input
from ..models.mobilenet import MobileNetV1
from .packed_conv import eager_fp32_inference, weight_version
from .quiet import PROCESS_SETTINGS_LOCK

__all__ = ["GraphMobileNetV1", "OneDnnGraph", "onednn_graph_available", "use_onednn_graph"]


@functools.cache
def onednn_graph_available() -> bool:
    """Whether this PyTorch build has TorchScript tracing/freezing and the oneDNN Graph fuser."""
    return bool(
        torch.backends.mkldnn.is_available()
        and hasattr(torch._C, "_jit_set_llga_enabled") and hasattr(torch._C, "_jit_llga_enabled")
        and hasattr(torch.jit, "trace") and hasattr(torch.jit, "freeze")
    )  # fmt: skip


class OneDnnGraph:
    """A model traced, frozen and run with PyTorch's oneDNN Graph fuser, one graph per input shape.

    TorchScript specializes a graph to the shapes it has seen and falls back to unfused
    code for others, so one graph serving several batch sizes is slower (measured: batch 1
    at 1.6 ms instead of 0.8 ms when alternating with other sizes). Each input shape gets
    its own graph instead (at most :attr:`MAX_SHAPES`, least recently used dropped first),
    built and compiled when the shape is first seen, so even the first answer comes from
    the fused kernels and repeated calls give identical results. :meth:`run` is given the
    model each time, and drops every graph when the model's submodules or weights are not
    those they were built from.
    """

    #: Input shapes whose graphs are kept.
    MAX_SHAPES = 8

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._graphs: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self._key: tuple[Any, ...] | None = None  # the weights the graphs were built from
        self._slots: tuple[tuple[dict[str, Any], str], ...] = ()  # (module._parameters, name) per weight
        self._edges: tuple[tuple[dict[str, Any], str, Any], ...] = ()  # (parent._modules, name, child)
        self._root: dict[str, Any] | None = None  # the model's own submodule dict

    def run(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """``model(x)`` computed by the frozen oneDNN graph for ``x``'s shape (built first if needed)."""
        graph = self._graph_for(model, x)
        if torch.is_grad_enabled():
            with torch.no_grad():
                return graph(x)
        return graph(x)

    def _graph_for(self, model: nn.Module, x: torch.Tensor) -> Any:
        shape = tuple(x.shape)
        with self._lock:  # graphs run outside it; only lookups and (first-call) builds are serialized
            if not self._built_from_current(model):
                self._edges = tuple(
                    (module._modules, name, child) for module in model.modules()
                    for name, child in module._modules.items()
                )  # fmt: skip
                self._slots = tuple(
                    (module._parameters, name) for module in model.modules()
                    for name, weight in module._parameters.items() if weight is not None
                )  # fmt: skip
                self._graphs.clear()
                self._root, self._key = model._modules, self._weights_key()
            graph = self._graphs.get(shape)
            if graph is None:
                graph = _fused_graph(model, x)
                self._graphs[shape] = graph
                while len(self._graphs) > self.MAX_SHAPES:
                    self._graphs.popitem(last=False)
            self._graphs.move_to_end(shape)
            return graph

    def _built_from_current(self, model: nn.Module) -> bool:
        """Whether ``model`` still has the submodules and weights the graphs were built from.

        A replaced submodule anywhere (``reset_classifier``, a swapped layer) or a weight
        replaced or edited in place means the graphs are stale. Checked on every call from
        the recorded parent-child links and weight slots (tens of microseconds, far less
        than walking the model).
        """
        if self._key is None or self._root is not model._modules:
            return False
        if any(modules.get(name) is not child for modules, name, child in self._edges):
            return False
        return self._weights_key() == self._key

    def _weights_key(self) -> tuple[Any, ...]:
        """Identity and in-place version of every weight: changes when one is replaced or edited.

        Reads each weight from its module's parameter dict (cheaper than walking the model
        on every call, and it still sees a weight assigned anew).
        """
        return tuple((p.data_ptr(), weight_version(p)) for p in (params[name] for params, name in self._slots))


def _fused_graph(model: nn.Module, x: torch.Tensor) -> Any:
    """The model traced and frozen at ``x``'s shape, its oneDNN partitions already compiled.

    The fuser is a global switch that TorchScript reads when it optimizes a graph: after
    its profiling run and the optimizing run that follows, both made here with the switch
    on, the graph keeps its fused plan, so the switch is off again for every later call
    (and for any other TorchScript code in the process). The switch and the warning
    filters of :func:`_trace_and_freeze` are process-wide, so the whole build holds
    ``quiet.PROCESS_SETTINGS_LOCK``: two predictors building graphs in two threads
    at once left TorchScript's deprecation notice printed and every warning of the process
    ignored for good (the second ``catch_warnings`` restored the first one's filters).
    """
    with PROCESS_SETTINGS_LOCK, torch.no_grad():
        graph = _trace_and_freeze(model, x)
        before = torch._C._jit_llga_enabled()
        torch._C._jit_set_llga_enabled(True)
        try:
            graph(x)  # profiling run
            graph(x)  # optimizing run: compiles the oneDNN partitions
        finally:
            torch._C._jit_set_llga_enabled(before)
    return graph


def _trace_and_freeze(model: nn.Module, x: torch.Tensor) -> Any:
    """The model traced at ``x``'s shape and frozen (its weights become constants of the graph)."""
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # TorchScript's deprecation notices: this use is internal
        example = torch.zeros(x.shape).contiguous(memory_format=torch.channels_last)
        traced = torch.jit.trace(model, example, check_trace=False)
        return torch.jit.freeze(traced.eval())


class GraphMobileNetV1(MobileNetV1):
    """A BatchNorm-folded :class:`~mobilenet_mnist.MobileNetV1` whose inference runs as one oneDNN graph.

    Made by ``optimize_for_inference(model, backend="torch")`` (:func:`use_onednn_graph`);
    same weights, state dict, submodules and answers as the model it came from (fp32 logits
    within 1e-4). See the module docs for when the graph runs.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, num_classes); one oneDNN graph in eager fp32 CPU inference."""
        if not torch.jit.is_scripting() and self._graph_ready(x):
            return self._graph_forward(x)
        return self.forward_head(self.forward_features(x))

    @torch.jit.unused
    def _graph_ready(self, x: torch.Tensor) -> bool:
        if self.training or not eager_fp32_inference(x, self.stem.conv.weight):
            return False
        return not (torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters()))

    @torch.jit.unused
    def _graph_forward(self, x: torch.Tensor) -> torch.Tensor:
        check_model_input(self, x)  # the same refusals as the model's own forward
        graph = self.__dict__.get("_onednn_graph")
        if graph is None:
            graph = self.__dict__.setdefault("_onednn_graph", OneDnnGraph())
        return graph.run(self, x.contiguous(memory_format=torch.channels_last))

    def __getstate__(self) -> dict[str, Any]:
        """The module's state without the compiled graph (rebuilt on first use)."""
        state = self.__dict__.copy()
        state.pop("_onednn_graph", None)
        return state


def use_onednn_graph(model: nn.Module) -> nn.Module:
    """Let a fused plain :class:`~mobilenet_mnist.MobileNetV1` run its inference as one oneDNN graph.

    Changes ``model``'s class to :class:`GraphMobileNetV1` in place (same object, same
    weights); models of other classes (including subclasses, whose ``forward`` may differ)
    and builds without :func:`onednn_graph_available` are returned unchanged.
    """
    if type(model) is MobileNetV1 and onednn_graph_available():
        model.__class__ = GraphMobileNetV1
    return model
