"""Keep the exporters' and quantizers' internal chatter out of the user's terminal.

PyTorch's ONNX exporter runs onnxscript and onnx_ir optimization passes that log at INFO
("No unused functions to remove", "Skipping constant folding for node ..."), and ONNX
Runtime's quantizer logs its own steps; with the ``mobilenet-mnist`` command's INFO logging
all of that lands on stderr. :func:`quiet_exporters` hides it (logs, warnings and anything
printed to stdout/stderr) for the duration of a call, restores every setting afterwards, and
passes everything through when ``verbose`` is true (``mobilenet-mnist --verbose export ...``).

Those settings belong to the whole process, so code that changes them for a while and
changes them back holds ``PROCESS_SETTINGS_LOCK``: two threads doing it at once
would restore each other's changes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import warnings
from collections.abc import Iterator

__all__ = ["CHATTY_LOGGERS", "quiet_exporters"]  # PROCESS_SETTINGS_LOCK: for the deploy modules only

logger = logging.getLogger(__name__)

#: Loggers (and their children) of the packages the export and quantization paths run.
CHATTY_LOGGERS = ("onnx", "onnx_ir", "onnxscript", "onnxruntime", "torch.onnx", "torch.export")

#: Held by blocks that change process-wide settings and restore them on exit: warning filters
#: (``warnings.catch_warnings`` is not thread-safe), ``sys.stdout``/``sys.stderr``, logger
#: levels, TorchScript's oneDNN fuser switch. Without it, two threads building predictors at
#: once (e.g. the first ``predict`` calls of a thread pool) restore each other's changes and
#: can leave every warning ignored or stdout captured for good. Re-entrant: such blocks nest.
PROCESS_SETTINGS_LOCK = threading.RLock()


def _chatty(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in CHATTY_LOGGERS)


def _raise_levels(level: int) -> dict[logging.Logger, int]:
    """Set every chatty logger below ``level`` to ``level``; return their previous levels."""
    names = set(CHATTY_LOGGERS) | {n for n in logging.root.manager.loggerDict if _chatty(n)}
    previous = {}
    for name in sorted(names):
        target = logging.getLogger(name)
        if (name in CHATTY_LOGGERS or target.level != logging.NOTSET) and target.level < level:
            previous[target] = target.level
            target.setLevel(level)
    return previous


@contextlib.contextmanager
def quiet_exporters(verbose: bool = False) -> Iterator[None]:
    """Silence third-party exporter output inside the ``with`` block, unless ``verbose``.

    Their log records below WARNING are dropped, their warnings ignored, and text they
    print is captured: on success it is logged at DEBUG, on failure at WARNING (it may
    explain the error). Logger levels, warning filters and streams are restored on exit.

    The block holds ``PROCESS_SETTINGS_LOCK`` (also when ``verbose``, so that exports
    from several threads run one after the other either way).

    Args:
        verbose: Leave everything as it is (for debugging an export).
    """
    with PROCESS_SETTINGS_LOCK:
        if verbose:
            yield
        else:
            with _quiet():
                yield


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The silencing of :func:`quiet_exporters`; the caller holds ``PROCESS_SETTINGS_LOCK``."""
    previous = _raise_levels(logging.WARNING)
    captured = io.StringIO()
    failed = False
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            warnings.simplefilter("ignore")
            yield
    except BaseException:
        failed = True
        raise
    finally:
        for target, level in previous.items():
            target.setLevel(level)
        if text := captured.getvalue().strip():
            logger.log(logging.WARNING if failed else logging.DEBUG, "Exporter output:\n%s", text)
