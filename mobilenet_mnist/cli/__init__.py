"""The ``mobilenet-mnist`` command: train, evaluate, predict, list, info, publish, export, benchmark, demo.

One module per command (``add_parser(sub)`` declares its options, ``run(args)`` does the
work); this module builds the parser and runs a command with the package's logging and
error conventions. Only the standard library is imported at module level: each command
imports what it needs when it runs, so ``mobilenet-mnist --help`` and ``--version`` start
without torch.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
import warnings
from collections.abc import Iterator, Sequence
from types import ModuleType

__all__ = ["main", "build_parser", "COMMANDS", "command_module"]

#: The commands, in ``--help`` order, and the module of each (``list`` would shadow a builtin).
COMMANDS: dict[str, str] = {
    "train": "train", "evaluate": "evaluate", "predict": "predict", "list": "listing", "info": "info",
    "publish": "publish", "export": "export", "benchmark": "benchmark", "demo": "demo",
}  # fmt: skip


def command_module(command: str) -> ModuleType:
    """The module that implements ``command`` (its ``add_parser`` and ``run``).

    Args:
        command: A key of :data:`COMMANDS`.

    Returns:
        The imported module.

    Raises:
        KeyError: If ``command`` is not a command.
    """
    if command not in COMMANDS:
        raise KeyError(f"No command {command!r}; the commands are {', '.join(COMMANDS)}.")
    return importlib.import_module(f".{COMMANDS[command]}", __name__)


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
    from ..version import __version__

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
    for command in COMMANDS:
        command_module(command).add_parser(sub)
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
