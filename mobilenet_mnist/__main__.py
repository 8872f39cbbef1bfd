"""``python -m mobilenet_mnist``: the ``mobilenet-mnist`` command (same options, same exit status)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
