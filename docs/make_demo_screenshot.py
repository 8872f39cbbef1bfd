"""Regenerate ``docs/_static/demo.png``: the demo page with a digit drawn and recognized.

Runs the real ``mobilenet-mnist demo`` command, draws a digit with the mouse in Debian's
Chromium through Playwright (the helpers of ``tests/demo_browser.py``, which the browser
test uses too), presses Recognize and screenshots the page. Needs the ``demo`` extra,
``pip install playwright`` and ``apt-get install chromium``; no network. Usage::

    python docs/make_demo_screenshot.py [--digit 3] [--output docs/_static/demo.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent / "tests"))

from demo_browser import DIGITS, chromium, demo_server, draw, free_port, open_page, recognize  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digit", choices=sorted(DIGITS), default="3", help="the digit to draw (default 3)")
    parser.add_argument("--output", type=Path, default=DOCS / "_static" / "demo.png")
    args = parser.parse_args()
    with demo_server(free_port()) as server, chromium() as browser:
        page = open_page(browser, server.url, width=1100, height=800)
        draw(page, DIGITS[args.digit])
        shown = recognize(page)
        if shown != args.digit:
            print(f"the page answered {shown!r} for a drawn {args.digit!r}; no screenshot written", file=sys.stderr)
            return 1
        page.mouse.move(5, 5)  # no hover effects in the picture
        page.wait_for_timeout(300)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.output), full_page=False)
        if page.external_requests:
            print(f"the page asked for outside resources: {page.external_requests}", file=sys.stderr)
            return 1
    Image.open(args.output).convert("P", palette=Image.Palette.ADAPTIVE, colors=256).save(args.output, optimize=True)
    print(f"{args.output} ({args.output.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
