"""The README's install and test commands and ``.ci/run`` stay in step."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
CI_RUN = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    if match is None:
        raise AssertionError(f"README.md has no '## {title}' section")
    return match.group(1)


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, re.S)


def _extras(command: str) -> set[str]:
    match = re.search(r'pip install (?:-q )?-e "\.\[([^\]]*)\]"', command)
    if match is None:
        raise AssertionError(f"no editable install with extras in {command!r}")
    return {extra.strip() for extra in match.group(1).split(",")}


def test_readme_test_command_installs_what_ci_installs() -> None:
    (command,) = _bash_blocks(_section("Tests"))
    assert _extras(command) == _extras(CI_RUN)


def test_ci_runs_the_readme_test_commands() -> None:
    (command,) = _bash_blocks(_section("Tests"))
    test_entry = command.split("&&")[-1].strip()
    assert test_entry == "pytest"
    ci_lines = [line.strip() for line in CI_RUN.splitlines()]
    assert "pytest" in ci_lines
    # The slow tests the README names run in CI too.
    slow_commands = re.findall(r"`(pytest -m slow)`", _section("Tests"))
    assert slow_commands, "README names no command for the slow tests"
    assert all(cmd in ci_lines for cmd in slow_commands)


def test_ci_pins_the_torch_the_readme_installs() -> None:
    (command,) = _bash_blocks(_section("Install and run"))
    readme_pins = set(re.findall(r"torch(?:vision)?==[\d.]+", command))
    assert readme_pins, "README's install command pins no torch build"
    assert readme_pins <= set(re.findall(r"torch(?:vision)?==[\d.]+", CI_RUN))
