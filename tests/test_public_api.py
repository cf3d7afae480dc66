"""The public surface: sorted, complete __all__ lists and one documented error tree."""

from __future__ import annotations

import inspect

import pytest

import pinyard
import pinyard.boards
import pinyard.errors
import pinyard.models
import pinyard.registry
import pinyard.serving
import pinyard.tracking

MODULES = [pinyard, pinyard.boards, pinyard.errors, pinyard.models, pinyard.registry,
           pinyard.serving, pinyard.tracking]  # fmt: skip


@pytest.mark.parametrize("module", MODULES)
def test_all_is_sorted_and_resolves(module: object) -> None:
    names = list(module.__all__)  # type: ignore[attr-defined]
    assert names == sorted(names)
    for name in names:
        assert hasattr(module, name), name


def test_every_error_is_a_pinyard_error_and_drawn_in_the_tree() -> None:
    doc = pinyard.errors.__doc__ or ""
    classes = [
        obj
        for _, obj in inspect.getmembers(pinyard.errors, inspect.isclass)
        if issubclass(obj, Exception)
        and obj.__module__ == "pinyard.errors"
        and not issubclass(obj, Warning)
    ]
    assert len(classes) >= 15
    for warning in ("UnverifiedVersionWarning", "EnvironmentMismatchWarning"):
        assert warning in doc
    for cls in classes:
        assert issubclass(cls, pinyard.errors.PinyardError), cls
        assert cls.__name__ in doc, f"{cls.__name__} missing from the tree in the docstring"
        assert cls.__doc__, cls


def test_not_found_errors_are_key_errors_with_readable_messages() -> None:
    exc = pinyard.errors.PinNotFoundError("pin 'x' does not exist")
    assert isinstance(exc, KeyError)
    assert str(exc) == "pin 'x' does not exist"
    assert isinstance(pinyard.errors.StorageError("disk"), OSError)


def test_package_is_typed() -> None:
    from importlib.resources import files

    assert files("pinyard").joinpath("py.typed").is_file()
