"""Run the runnable examples of every pricing module."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["impact", "risk", "quoting", "fairvalue", "signals", "winprob", "hedging",
           "scoring", "markouts"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    mod = importlib.import_module(f"pricing.{name}")
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0
