"""The public API is typed and documented: py.typed ships, every public function and method
has complete type hints and a docstring with a short example (>>>, which
tests/test_docstrings.py runs), and the tracking functions carry the same documentation as
the methods they call."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import sapdi
import sapdi_local
from sapdi_local import MLTrackingSDK, tracking
from sapdi_local.model import HistoryList, MetricHistory, Run, RunList


def public_callables() -> Iterator[tuple[str, Callable[..., Any]]]:
    for name in tracking.__all__:
        item = getattr(tracking, name)
        if inspect.isfunction(item):
            yield f"tracking.{name}", item
    for name, item in vars(MLTrackingSDK).items():
        if name.startswith("_"):
            continue
        function = item.fget if isinstance(item, property) else item
        if callable(function):
            yield f"MLTrackingSDK.{name}", function
    for owner in (Run, RunList, MetricHistory, HistoryList):
        for name in ("to_dict", "to_frame"):
            if name in vars(owner):
                yield f"{owner.__name__}.{name}", vars(owner)[name]
    for name in ("get_current_scenario", "list_scenarios"):
        yield f"sapdi.{name}", getattr(sapdi, name)


PUBLIC = dict(public_callables())
NEEDS_EXAMPLE = [name for name in PUBLIC if not name.endswith(("to_dict", "to_frame"))]


def test_the_packages_ship_py_typed() -> None:
    for package in (sapdi_local, sapdi):
        assert (Path(package.__file__).parent / "py.typed").is_file()


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_functions_are_fully_annotated(name: str) -> None:
    signature = inspect.signature(PUBLIC[name])
    assert signature.return_annotation is not inspect.Signature.empty, f"{name}: no return type"
    for parameter in signature.parameters.values():
        if parameter.name != "self":
            assert parameter.annotation is not inspect.Parameter.empty, f"{name}({parameter.name})"


@pytest.mark.parametrize("name", sorted(NEEDS_EXAMPLE))
def test_public_functions_have_a_docstring_with_an_example(name: str) -> None:
    doc = inspect.getdoc(PUBLIC[name]) or ""
    assert doc.split("\n")[0].strip(), f"{name}: no summary line"
    assert ">>> " in doc, f"{name}: no example"


DELEGATING = sorted(
    n
    for n in tracking.__all__
    if inspect.isfunction(getattr(tracking, n)) and hasattr(MLTrackingSDK, n)
)


@pytest.mark.parametrize("name", DELEGATING)
def test_tracking_functions_document_what_their_method_does(name: str) -> None:
    assert inspect.getdoc(getattr(tracking, name)) == inspect.getdoc(getattr(MLTrackingSDK, name))
