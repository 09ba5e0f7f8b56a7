"""Where things live: one resolved view of the environment every command honours.

``SAI_DATA_DIR`` holds data, models and the course database file; ``SAI_RUNS_DIR`` the run
registry; ``SAI_DATABASE_URL`` the course database (SQLite in the data dir by default,
PostgreSQL by URL). Paths default to folders under the current directory so that a
checkout is self-contained, as nanochat keeps its base dir.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    runs_dir: Path
    database_url: str

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"


def get_settings() -> Settings:
    """Read the environment now (not at import), so tests and subprocesses can override it."""
    data_dir = Path(os.environ.get("SAI_DATA_DIR") or "data").expanduser().resolve()
    runs_dir = Path(os.environ.get("SAI_RUNS_DIR") or "runs").expanduser().resolve()
    database_url = os.environ.get("SAI_DATABASE_URL") or f"sqlite:///{data_dir / 'course.db'}"
    return Settings(data_dir=data_dir, runs_dir=runs_dir, database_url=database_url)
