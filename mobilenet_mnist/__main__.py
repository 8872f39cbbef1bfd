"""``python -m mobilenet_mnist``: the ``mobilenet-mnist`` command."""

from .cli import main

raise SystemExit(main())
