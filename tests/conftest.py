"""Suite-wide fixtures: every test gets its own data and runs folders (never the checkout's)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_locations(tmp_path_factory, monkeypatch):
    """Point SAI_DATA_DIR and SAI_RUNS_DIR at fresh folders; keep the database URL if a test
    module set one (course tests pick their own)."""
    root = tmp_path_factory.mktemp("sai")
    monkeypatch.setenv("SAI_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("SAI_RUNS_DIR", str(root / "runs"))
    monkeypatch.delenv("SAI_NOW", raising=False)
    return root
