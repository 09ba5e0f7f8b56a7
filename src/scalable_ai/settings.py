"""Every ``SAI_*`` environment variable, read and validated in one place (pydantic-settings).

:class:`Settings` has one field per variable (``data_dir`` is ``SAI_DATA_DIR``); README.md
lists them all. :func:`get_settings` reads the environment when called, not at import, so
tests and subprocesses can change it; an empty variable counts as unset, and a value of the
wrong type is a :class:`~scalable_ai.errors.UserError` naming the variable. Paths default
to folders under the current directory so that a checkout is self-contained, as nanochat
keeps its base dir.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import PositiveInt, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scalable_ai.errors import UserError

PREFIX = "SAI_"


class Settings(BaseSettings):
    """The deployment's choices; each field is ``SAI_`` + its name in capitals."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_ignore_empty=True, frozen=True, extra="ignore"
    )

    # Where things live
    data_dir: Path = Path("data")  # data, converted models, the course database file
    runs_dir: Path = Path("runs")  # the run registry
    database_url: str = ""  # the course database; default SQLite in the data dir
    # The course platform
    now: str | None = None  # pins the course clock (ISO 8601; naive = Berkeley time)
    model_url: str | None = None  # the playground's model server (OpenAI base URL, /v1)
    model_name: str | None = None  # which served model the playground asks (default: first)
    model_api_key: str | None = None  # the model server's API key, if it wants one
    max_body_mib: PositiveInt | None = None  # largest request body (web limits)
    group_upload_quota_mib: PositiveInt | None = None  # handed-in files a group may keep
    requests_per_minute: PositiveInt | None = None  # per client
    concurrent_per_client: PositiveInt | None = None  # requests in flight per client
    trusted_proxies: str = ""  # comma-separated addresses/networks allowed X-Forwarded-For
    web_threads: PositiveInt = 4  # threads running page views in one worker process (app.py)
    # Notifications by e-mail (course.notify.mail): no SMTP host, no e-mail (the bell only)
    smtp_host: str = ""
    smtp_port: PositiveInt = 25
    smtp_from: str = "Scalable AI <noreply@localhost>"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    site_url: str = "http://127.0.0.1:8000"  # links in e-mail point here
    # Sign-in with the institution's OpenID Connect provider (course.web.oidc); empty: off
    oidc_issuer: str = ""  # e.g. https://login.berkeley.example (its discovery document)
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_name: str = "CalNet"  # the button reads "Sign in with <name>"
    # The lab stack
    kernel_cache: Path | None = None  # where infer/cpu/forward.c is built
    cpu_kernels: bool = True  # 0: no native CPU forward
    gpu_kernels: bool = True  # 0: no Triton decode kernels
    forward_path: str = "auto"  # force one of infer/forward_paths.PATHS
    serve_admin_token: str | None = None  # bearer token of sai serve's admin routes (LoRA)
    parallel: str = ""  # default --spec of the parallel launcher (parallel/run.py)
    group: str | None = None  # the course group a run is recorded under (runs.py)
    # Assignment kits
    kits_dir: Path | None = None  # where kits live (default: assignments/ in the repository)
    kit_submission: str | None = None  # the submission folder the kit's tests grade
    worker_parent: int | None = None  # the grading worker's parent process (set by sai up)

    @model_validator(mode="after")
    def _resolve(self) -> Settings:
        data_dir = self.data_dir.expanduser().resolve()
        object.__setattr__(self, "data_dir", data_dir)
        object.__setattr__(self, "runs_dir", self.runs_dir.expanduser().resolve())
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{data_dir / 'course.db'}")
        return self

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"


def get_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from the process environment now, or from ``environ`` alone."""
    try:
        if environ is None:
            return Settings()
        values: dict[str, Any] = {
            key[len(PREFIX) :].lower(): value
            for key, value in environ.items()
            if key.startswith(PREFIX) and value != ""
        }
        return Settings.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        name = PREFIX + str(first["loc"][0]).upper() if first["loc"] else "SAI_*"
        raise UserError(f"{first['msg']}, got {first.get('input')!r}", field=name) from None
