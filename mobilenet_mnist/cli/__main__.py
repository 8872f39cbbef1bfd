"""``python -m mobilenet_mnist.cli``: the ``mobilenet-mnist`` command (e.g. under ``torchrun -m``)."""

import sys

from . import main

sys.exit(main())
