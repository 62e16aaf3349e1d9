"""Tests marked `deploy` install things into fresh venvs (minutes): they run only when asked, `-m deploy`."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "deploy" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="a fresh-venv install: run with `-m deploy` (see docs/DEPLOY.md)")
    for item in items:
        if item.get_closest_marker("deploy"):
            item.add_marker(skip)
