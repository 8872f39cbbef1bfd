"""Import paths of 0.2.0 keep working for one release, each with a DeprecationWarning."""

from __future__ import annotations

import importlib
import sys
import warnings

import pytest

import mobilenet_mnist
from mobilenet_mnist._compat import MOVED_MODULES, MOVED_NAMES


@pytest.mark.parametrize("old", sorted(MOVED_MODULES))
def test_old_module_path_warns_and_forwards(old: str) -> None:
    name = f"mobilenet_mnist.{old}"
    sys.modules.pop(name, None)
    with pytest.warns(DeprecationWarning, match=rf"{name} moved to mobilenet_mnist\.{MOVED_MODULES[old]}"):
        module = importlib.import_module(name)
    target = importlib.import_module(f"mobilenet_mnist.{MOVED_MODULES[old]}")
    public = [n for n in getattr(target, "__all__", dir(target)) if not n.startswith("__")]
    assert public, f"{target.__name__} has no public names"
    for attr in public:
        assert getattr(module, attr) is getattr(target, attr)


@pytest.mark.parametrize("name", sorted(MOVED_NAMES))
def test_old_top_level_name_warns_and_resolves(name: str) -> None:
    new_home = importlib.import_module(f"mobilenet_mnist.{MOVED_NAMES[name]}")
    with pytest.warns(DeprecationWarning, match=rf"mobilenet_mnist\.{name} moved to"):
        value = getattr(mobilenet_mnist, name)
    assert value is getattr(new_home, name)


def test_unknown_top_level_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        mobilenet_mnist.no_such_name  # noqa: B018


def test_top_level_api_is_small_and_dir_shows_exactly_it() -> None:
    assert len(mobilenet_mnist.__all__) <= 30
    listed = set(dir(mobilenet_mnist))
    assert set(mobilenet_mnist.__all__) <= listed
    assert listed - set(mobilenet_mnist.__all__) == {"models", "hub", "data", "training", "deploy", "cli"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every listed name resolves without a warning
        for name in mobilenet_mnist.__all__:
            getattr(mobilenet_mnist, name)
