"""The data designer's declarative schema: columns in order, validators, dedup, the endpoint.

A design file (YAML or TOML) lists columns; each column may read every column before it.
The column types follow NeMo Data Designer's split (lecture 14): *samplers* draw values
without a model (``category``, ``uniform``, ``person``), ``template`` and ``expression``
columns compute from other columns (Jinja), ``llm`` columns ask a model with a Jinja prompt,
and ``llm_judge`` columns ask a model to grade a row and reject it unless the verdict matches
``pass_pattern``. Validators (``regex``, ``json_schema``, ``python``) reject rows; every
rejection is counted per validator. Parsed with pydantic, so a wrong field is named.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scalable_ai.errors import UserError


class _Column(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    #: False: a helper column other columns read, left out of the written rows.
    keep: bool = True


class Category(_Column):
    type: Literal["category"]
    values: list[Any] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights_match(self) -> Category:
        if self.weights is not None and len(self.weights) != len(self.values):
            raise ValueError("weights must have one entry per value")
        return self


class Uniform(_Column):
    type: Literal["uniform"]
    low: float
    high: float
    #: Integers in [low, high] when True (the default when both bounds are integers).
    integer: bool | None = None
    decimals: int | None = None


class Person(_Column):
    """A synthetic person: first_name, last_name, name, age, city, occupation."""

    type: Literal["person"]
    min_age: int = 18
    max_age: int = 80


class Template(_Column):
    type: Literal["template"]
    template: str


class Expression(_Column):
    """A Jinja expression (``a + b if op == '+' else a - b``) whose value keeps its type."""

    type: Literal["expression"]
    expression: str


class LLM(_Column):
    type: Literal["llm"]
    prompt: str
    system: str | None = None
    max_tokens: int = Field(default=128, ge=1)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    #: Through the chat template (an instruct model) or as a raw completion.
    chat: bool = True
    stop: list[str] | None = None
    #: "json": parse the answer as JSON (a row whose answer does not parse is rejected).
    output: Literal["text", "json"] = "text"


class Judge(LLM):
    type: Literal["llm_judge"]  # type: ignore[assignment]
    #: The row is kept only when the judge's answer matches this regular expression.
    pass_pattern: str
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)


Column = Annotated[
    Category | Uniform | Person | Template | Expression | LLM | Judge,
    Field(discriminator="type"),
]


class _Validator(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    column: str | None = None

    def label(self) -> str:
        kind = getattr(self, "type", "validator")
        return self.name or (f"{kind}:{self.column}" if self.column else kind)


class Regex(_Validator):
    type: Literal["regex"]
    column: str
    pattern: str
    #: "search" anywhere in the value, or "full" for the whole value.
    mode: Literal["search", "full"] = "search"


class JSONSchema(_Validator):
    type: Literal["json_schema"]
    column: str
    schema_: dict[str, Any] = Field(alias="schema")


class PythonCheck(_Validator):
    """``function: package.module:name`` called with the row (True keeps it), or
    ``expression``: a sandboxed Jinja expression over the row's columns."""

    type: Literal["python"]
    function: str | None = None
    expression: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> PythonCheck:
        if (self.function is None) == (self.expression is None):
            raise ValueError("give exactly one of function and expression")
        return self


Validator = Annotated[Regex | JSONSchema | PythonCheck, Field(discriminator="type")]


class EndpointSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Any OpenAI-compatible ``/v1`` URL; by default ``sai serve``'s.
    base_url: str = "http://127.0.0.1:8000/v1"
    #: The served model's name (default: the first the endpoint lists).
    model: str | None = None
    concurrency: int = Field(default=8, ge=1)
    timeout: float = Field(default=60.0, gt=0)
    api_key: str = "unused"


class Design(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    rows: int = Field(ge=1)
    seed: int = 0
    #: Give up after this many rows tried per row wanted (rejections and duplicates).
    max_attempts_per_row: float = Field(default=4.0, ge=1.0)
    columns: list[Column] = Field(min_length=1)
    validators: list[Validator] = Field(default_factory=list)
    #: Columns whose values together must be unique (default: every kept column).
    dedup: list[str] | None = None
    endpoint: EndpointSettings = Field(default_factory=EndpointSettings)

    @model_validator(mode="after")
    def _references(self) -> Design:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError("column names must be unique")
        for validator in self.validators:
            if validator.column is not None and validator.column not in names:
                raise ValueError(f"validator column {validator.column!r} is not a column")
        for column in self.dedup or []:
            if column not in names:
                raise ValueError(f"dedup column {column!r} is not a column")
        return self

    def needs_model(self) -> bool:
        return any(isinstance(c, LLM) for c in self.columns)


def load_design(path: str | Path, overrides: dict[str, Any] | None = None) -> Design:
    """A design from a YAML or TOML file; errors name the file and the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror})", field="config") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        raise UserError(f"{path}: does not parse ({error})", field="config") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: a design is a mapping of settings", field="config")
    for key, value in (overrides or {}).items():
        if value is not None:
            section, _, leaf = key.partition(".")
            if leaf:
                data.setdefault(section, {})[leaf] = value
            else:
                data[key] = value
    try:
        return Design.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise UserError(f"{path}: {where}: {first['msg']}", field=where) from None
