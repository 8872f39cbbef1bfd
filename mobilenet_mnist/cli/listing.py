"""``mobilenet-mnist list``: registered models, or published weights."""

from __future__ import annotations

import argparse
from typing import Any

from .common import out


def add_parser(sub: Any) -> None:
    p = sub.add_parser("list", help="list models, or published weights with --pretrained")
    p.add_argument("pattern", nargs="?", default="*")
    p.add_argument("--pretrained", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..models.factory import list_models

    for name in list_models(args.pattern, pretrained=args.pretrained):
        out(name)
    return 0
