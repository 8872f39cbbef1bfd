"""Test helper: run ``mobilenet-mnist demo`` and drive its page in Debian's Chromium with Playwright.

Shared by ``tests/test_demo_browser.py`` and ``docs/make_demo_screenshot.py``. The server is
the real command in a subprocess (stopped with Ctrl-C, as a person would); the browser is
the system's ``chromium`` (Playwright's own browser download is not needed), and every
request that would leave 127.0.0.1 is blocked and recorded, so a page that needs the
network shows up. Usage::

    with demo_server(port, weights_dir=HUB_DIR) as server, chromium() as browser:
        page = open_page(browser, server.url)
        draw(page, DIGITS["7"])
        assert recognize(page) == "7"
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
HUB_DIR = REPO_ROOT / "hub"

Stroke = Sequence[tuple[float, float]]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, steps: int = 12) -> list:
    """Points on an elliptic arc, angles in degrees (0 = right, 90 = down, as on a screen)."""
    angles = [math.radians(start + (end - start) * i / steps) for i in range(steps + 1)]
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


#: Mouse strokes of a few digits, in a unit square (x right, y down), as a person draws them.
DIGITS: dict[str, list[Stroke]] = {
    "1": [[(0.45, 0.18), (0.55, 0.08), (0.55, 0.92)]],
    "7": [[(0.2, 0.1), (0.8, 0.1), (0.62, 0.45), (0.42, 0.92)]],
    "0": [_arc(0.5, 0.5, 0.27, 0.42, -90, 270, steps=16)],
    "3": [_arc(0.48, 0.3, 0.26, 0.21, 200, 450) + _arc(0.48, 0.71, 0.3, 0.22, -90, 150)],
}


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class DemoServer:
    """A running ``mobilenet-mnist demo`` subprocess."""

    process: subprocess.Popen
    url: str
    output: list[str] = field(default_factory=list)

    def stop(self) -> tuple[int, str]:
        """Ctrl-C (SIGINT), as in a terminal; returns the exit status and everything it wrote."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            out, _ = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        return self.process.returncode, out


def _default_sigint() -> None:
    """Give the server Ctrl-C's default meaning even under a runner that ignores SIGINT.

    A shell starts background jobs (``cmd &``, e.g. a CI script run with ``nohup ... &``)
    with SIGINT ignored and children inherit that, so the server would never see the
    Ctrl-C that ``DemoServer.stop`` sends, as it does in a terminal.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def demo_server(
    port: int, *args: str, weights_dir: Path | None = HUB_DIR, timeout: float = 120
) -> Iterator[DemoServer]:
    """Run ``python -m mobilenet_mnist demo --port PORT ARGS`` until the page answers; stop it on exit."""
    command = [sys.executable, "-m", "mobilenet_mnist", "demo", "--host", "127.0.0.1", "--port", str(port), *args]
    if weights_dir is not None:
        command += ["--weights-dir", str(weights_dir)]
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, preexec_fn=_default_sigint)  # fmt: skip
    server = DemoServer(process, f"http://127.0.0.1:{port}/")
    try:
        _wait_until_serving(server, timeout)
        yield server
    finally:
        if process.poll() is None:
            server.stop()


def _wait_until_serving(server: DemoServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"mobilenet-mnist demo exited with {server.process.returncode}:\n{server.stop()[1]}")
        try:
            with urllib.request.urlopen(server.url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    code, out = server.stop()
    raise TimeoutError(f"mobilenet-mnist demo did not answer within {timeout:.0f} s (status {code}):\n{out}")


def chromium_path() -> str | None:
    """Debian's Chromium (``apt-get install chromium``), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless system Chromium driven by Playwright (``--no-sandbox``: CI runs as root)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Any, url: str, *, width: int = 1200, height: int = 860) -> Any:
    """The demo page, loaded, with the canvas ready to draw on.

    Requests to anything but 127.0.0.1 (and ``data:``/``blob:`` URLs) are aborted and listed
    in ``page.external_requests``: the page must work without them.
    """
    page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
    page.external_requests = []

    def local_only(route: Any) -> None:
        if route.request.url.startswith(("http://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            page.external_requests.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    page.goto(url)
    page.wait_for_selector("#sketch canvas")
    page.wait_for_selector('#sketch button[aria-label="Brush"]')
    page.wait_for_timeout(500)  # the page picks the brush once the canvas is there
    return page


def draw(page: Any, strokes: Sequence[Stroke], *, step_px: float = 40) -> None:
    """Draw ``strokes`` (unit-square points) with the mouse, button down along each stroke.

    Segments are crossed in mouse moves of at most ``step_px`` pixels; the brush joins them
    with straight lines, so few are needed (each move costs a canvas render, slow in
    software WebGL).
    """
    box = page.locator("#sketch canvas").first.bounding_box()
    side = 0.7 * min(box["width"], box["height"])  # well inside the drawing square
    left = box["x"] + (box["width"] - side) / 2
    top = box["y"] + (box["height"] - side) / 2
    for stroke in strokes:
        points = [(left + x * side, top + y * side) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            steps = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / step_px))
            for i in range(1, steps + 1):
                page.mouse.move(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps)
        page.mouse.up()


def clear(page: Any) -> None:
    """Empty the canvas with the Sketchpad's own "Clear canvas" button."""
    page.locator('#sketch button[aria-label="Clear canvas"]').click()
    page.wait_for_timeout(300)


# True once the verdict's text differs from ``before`` and no output shows Gradio's progress tracker.
_ANSWERED = """before => {
  const text = document.querySelector('#verdict [data-testid="markdown"]')?.innerText;
  const trackers = document.querySelectorAll(
    '#verdict [data-testid="status-tracker"], #top3 [data-testid="status-tracker"]');
  return text !== undefined && text !== before && [...trackers].every(t => t.classList.contains('hide'));
}"""


def verdict(page: Any) -> str:
    """The verdict line the page shows (Markdown rendered to text)."""
    return page.locator('#verdict [data-testid="markdown"]').inner_text().strip()


def top_class(page: Any) -> str:
    """The top class the page shows (the heading of the top-3 label)."""
    return page.locator('#top3 [data-testid="label-output-value"]').inner_text().strip()


def pick_checkpoint(page: Any, name: str, timeout_ms: float = 60_000) -> None:
    """Pick checkpoint ``name`` in the page's menu and wait until the page shows its results."""
    from playwright.sync_api import expect

    before = verdict(page)
    page.locator("#model input").click()
    page.get_by_role("option", name=name).click()
    expect(page.locator('#model-info [data-testid="markdown"]')).to_contain_text(name, timeout=timeout_ms)
    if "Draw a digit" not in before:  # a drawing was recognized: it is re-run with the new checkpoint
        page.wait_for_function(_ANSWERED, arg=before, timeout=timeout_ms)


def recognize(page: Any, timeout_ms: float = 60_000) -> str:
    """Press Recognize and return the top class the page then shows.

    The answer is recognized by the verdict changing, so the drawing must differ from the
    previous one by its result (a different digit, or the first drawing).
    """
    before = page.locator('#verdict [data-testid="markdown"]').inner_text()
    page.locator("#recognize-drawing").click()
    page.wait_for_function(_ANSWERED, arg=before, timeout=timeout_ms)
    return top_class(page)
