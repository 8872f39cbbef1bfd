"""The demo in a real browser: ``mobilenet-mnist demo`` served, digits drawn with the mouse in Chromium.

Slow (about a minute on two cores): deselected by default, run with ``pytest -m slow``.
Needs the ``demo`` extra, Playwright (``pip install playwright``) and Debian's Chromium
(``apt-get install chromium``); Playwright's own browser download is not used. Nothing may
be fetched from outside 127.0.0.1: the page must work offline.
"""

from __future__ import annotations

import pytest
from demo_browser import (
    DIGITS,
    chromium,
    chromium_path,
    clear,
    demo_server,
    draw,
    free_port,
    open_page,
    pick_checkpoint,
    recognize,
    top_class,
    verdict,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser_ready() -> None:
    pytest.importorskip("gradio", reason='the demo extra is not installed: pip install "mobilenet-mnist[demo]"')
    pytest.importorskip("playwright", reason="Playwright is not installed: pip install playwright")
    if chromium_path() is None:
        pytest.skip("Chromium is not installed: apt-get install chromium")


def test_digits_drawn_with_the_mouse_are_recognized_offline(browser_ready: None) -> None:
    with demo_server(free_port()) as server, chromium() as browser:
        page = open_page(browser, server.url)
        assert page.locator("#sketch").get_by_text("select the draw tool to start").count() == 0  # brush
        for digit in ("1", "7", "0"):
            clear(page)  # also checks that the brush is picked again after clearing
            draw(page, DIGITS[digit])
            assert recognize(page) == digit
            assert verdict(page).startswith(digit) and "Not a digit?" not in verdict(page)
            assert page.locator("#seen img").count() == 1  # the 28×28 input the model saw
        pick_checkpoint(page, "mobilenet_v1_025.mnist")  # another checkpoint re-runs the drawing
        assert "0.22 M parameters" in page.locator("#model-info").inner_text()
        assert top_class(page) == "0"
        assert page.external_requests == []
        code, output = server.stop()  # with the page still open: Ctrl-C must not wait for it
    assert code == 130 and output.rstrip().endswith("mobilenet-mnist demo: interrupted"), output
    assert "Demo ready in" in output and "Traceback" not in output
