"""Check a built HTML site for broken internal links, anchors and images.

Usage::

    python docs/check_links.py docs/_build/html

Every ``href`` and ``src`` in every page that points inside the site must name an
existing file, and a ``#fragment`` must name an ``id`` in the target page. Images must
be non-empty files. External links (``http:``, ``https:``, ``mailto:``) are not
fetched: the build machine and CI have no network. Exits with status 1 and lists the
problems if there are any.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

# (tag, attribute) pairs that point at other files.
LINK_ATTRS = {("a", "href"), ("img", "src"), ("link", "href"), ("script", "src"),
              ("iframe", "src"), ("source", "src")}


@dataclass
class Page:
    """What one HTML file defines (ids) and refers to (links, images)."""

    ids: set[str] = field(default_factory=set)
    links: list[tuple[str, str]] = field(default_factory=list)  # (tag, url)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for key in ("id", "name" if tag == "a" else ""):
            if key and values.get(key):
                self.page.ids.add(values[key] or "")
        for attr_tag, attr in LINK_ATTRS:
            if tag == attr_tag and values.get(attr):
                self.page.links.append((tag, values[attr] or ""))


def parse(path: Path) -> Page:
    """The ids and links of one HTML file."""
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8", errors="replace"))
    return collector.page


def is_internal(url: str) -> bool:
    """True for links into the site (no scheme, no host, not a data: URI)."""
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc and not url.startswith("//")


def check_link(root: Path, source: Path, tag: str, url: str, pages: dict[Path, Page]) -> str | None:
    """A problem description for one link, or None if it is fine."""
    parts = urlsplit(url)
    target = source if not parts.path else (source.parent / unquote(parts.path)).resolve()
    if parts.path.endswith("/") or target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return f"{tag} -> {url}: no such file {target.relative_to(root) if target.is_relative_to(root) else target}"
    if not target.is_relative_to(root):
        return f"{tag} -> {url}: points outside the site"
    if tag == "img" and target.stat().st_size == 0:
        return f"img -> {url}: empty image file"
    fragment = unquote(parts.fragment)
    if fragment and target.suffix == ".html":
        page = pages.get(target) or pages.setdefault(target, parse(target))
        if fragment not in page.ids:
            return f"{tag} -> {url}: no id {fragment!r} in {target.relative_to(root)}"
    return None


def check_site(root: Path) -> tuple[list[str], int, int]:
    """All problems in the site at ``root``, the number of pages and of links checked."""
    root = root.resolve()
    pages = {path.resolve(): parse(path) for path in sorted(root.rglob("*.html"))}
    problems, checked = [], 0
    for source, page in list(pages.items()):
        for tag, url in page.links:
            if not is_internal(url) or url.startswith(("data:", "javascript:")):
                continue
            checked += 1
            problem = check_link(root, source, tag, url, pages)
            if problem:
                problems.append(f"{source.relative_to(root)}: {problem}")
    return problems, len(pages), checked


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description="Check a built HTML site for broken internal links.")
    parser.add_argument("site", type=Path, nargs="?", default=Path(__file__).parent / "_build" / "html")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        print(f"{args.site} has no index.html; build the docs first.", file=sys.stderr)
        return 2
    problems, num_pages, num_links = check_site(args.site)
    for problem in problems:
        print(problem)
    status = "FAILED" if problems else "OK"
    print(f"{status}: {num_pages} pages, {num_links} internal links and images, "
          f"{len(problems)} broken")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
