"""The changelog page's content: the repository's ``CHANGELOG.md``, copied at build time.

Copying (rather than including ``../CHANGELOG.md`` directly) lets the page build in a
checkout that has no changelog yet, and keeps the source tree the only place the
changelog is written.
"""

from __future__ import annotations

from .common import INCLUDE_DIR, REPO_DIR, write_if_changed

MISSING = "# Changelog\n\nThis checkout has no `CHANGELOG.md` yet.\n"


def generate_changelog() -> None:
    """Write ``generated/include/changelog.md`` from ``CHANGELOG.md`` (or a placeholder)."""
    source = REPO_DIR / "CHANGELOG.md"
    text = source.read_text(encoding="utf-8") if source.exists() else MISSING
    write_if_changed(INCLUDE_DIR / "changelog.md", text)
