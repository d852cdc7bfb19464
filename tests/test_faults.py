"""Reliability and security: the fault matrix (tests/faults_matrix.py), one case a row,
each a real dnncost process: one line and exit 2 for bad input, nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from faults_matrix import CASES, World, can_run_unprivileged, make_world, run_case


@pytest.fixture(scope="module")
def clean_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return make_world(tmp_path_factory.mktemp("faults") / "world")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fault(case, clean_world: World, tmp_path: Path) -> None:
    if case.unprivileged and not can_run_unprivileged():
        pytest.skip("root here and no user namespace: read-only files stay writable")
    result = run_case(case, clean_world, tmp_path / "case")
    assert result.passed, f"{case.name}: {result.problems} (printed: {result.line})"
