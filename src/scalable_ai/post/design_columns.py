"""How each design column gets its value and how each validator judges a row.

Samplers draw from one ``random.Random`` per row, seeded from the design's seed and the
row's id, so a row's sampled values are the same on every run: a resumed design regenerates
exactly the rows it had not finished. Templates and expressions are rendered in Jinja's
sandbox with ``StrictUndefined`` (a misspelt column is an error, not an empty string).
"""

from __future__ import annotations

import importlib
import json
import random
import re
from collections.abc import Callable
from functools import cache
from typing import Any

import jinja2
import jinja2.sandbox
import jsonschema

from scalable_ai.errors import UserError
from scalable_ai.post.design_config import (
    JSONSchema,
    Person,
    PythonCheck,
    Regex,
    Uniform,
)

_ENVIRONMENT = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)

FIRST_NAMES = [
    "Ada", "Alan", "Amara", "Ben", "Chen", "Diego", "Elena", "Farah", "Grace", "Hiro",
    "Ines", "Jamal", "Kofi", "Lena", "Mateo", "Mei", "Nadia", "Omar", "Priya", "Quinn",
    "Rosa", "Sami", "Tara", "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Noor",
]  # fmt: skip
LAST_NAMES = [
    "Okafor", "Nguyen", "Garcia", "Smith", "Kim", "Patel", "Rossi", "Müller", "Silva",
    "Tanaka", "Cohen", "Haddad", "Ivanova", "Johnson", "Kowalski", "Larsen", "Mensah",
    "Novak", "Ortiz", "Park", "Quispe", "Rahman", "Sato", "Torres", "Walker", "Zhang",
]  # fmt: skip
CITIES = [
    "Berkeley", "Lagos", "Hanoi", "Lima", "Osaka", "Nairobi", "Lyon", "Toronto", "Pune",
    "Porto", "Seoul", "Accra", "Denver", "Kraków", "Cairo", "Bogotá", "Austin", "Oslo",
]  # fmt: skip
OCCUPATIONS = [
    "teacher", "nurse", "software engineer", "farmer", "electrician", "chef", "pharmacist",
    "graduate student", "accountant", "carpenter", "librarian", "data scientist", "pilot",
    "plumber", "architect", "journalist", "mechanic", "musician",
]  # fmt: skip


def row_random(seed: int, row_id: int) -> random.Random:
    """The row's own generator: the same draws for the same (seed, row id) on every run."""
    return random.Random(f"{seed}:{row_id}")


def sample_uniform(column: Uniform, rng: random.Random) -> int | float:
    integer = column.integer
    if integer is None:
        integer = float(column.low).is_integer() and float(column.high).is_integer()
    if integer:
        return rng.randint(int(column.low), int(column.high))
    value = rng.uniform(column.low, column.high)
    return round(value, column.decimals) if column.decimals is not None else value


def sample_person(column: Person, rng: random.Random) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return {
        "first_name": first,
        "last_name": last,
        "name": f"{first} {last}",
        "age": rng.randint(column.min_age, column.max_age),
        "city": rng.choice(CITIES),
        "occupation": rng.choice(OCCUPATIONS),
    }


@cache
def _template(source: str) -> jinja2.Template:
    try:
        return _ENVIRONMENT.from_string(source)
    except jinja2.TemplateSyntaxError as error:
        raise UserError(f"template does not parse: {error}", field="columns") from None


@cache
def _expression(source: str) -> Callable[..., Any]:
    try:
        return _ENVIRONMENT.compile_expression(source)
    except jinja2.TemplateSyntaxError as error:
        raise UserError(f"expression {source!r} does not parse: {error}", field="columns") from None


def render(source: str, row: dict[str, Any], column: str) -> str:
    try:
        return _template(source).render(**row)
    except jinja2.UndefinedError as error:
        raise UserError(
            f"column {column!r} reads a column that is not defined before it ({error.message})",
            field=f"columns.{column}",
        ) from None


def evaluate(source: str, row: dict[str, Any], column: str) -> Any:
    try:
        return _expression(source)(**row)
    except jinja2.UndefinedError as error:
        raise UserError(
            f"column {column!r} reads a column that is not defined before it ({error.message})",
            field=f"columns.{column}",
        ) from None


@cache
def _function(path: str) -> Callable[[dict[str, Any]], Any]:
    module, _, name = path.partition(":")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise UserError(f"cannot import {path!r} ({error})", field="validators") from None
    if not callable(found):
        raise UserError(f"{path!r} is not callable", field="validators")
    return found


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def passes(validator: Regex | JSONSchema | PythonCheck, row: dict[str, Any]) -> bool:
    """Whether ``row`` passes ``validator`` (a Python check that raises fails the row)."""
    if isinstance(validator, Regex):
        text = as_text(row[validator.column])
        found = (re.fullmatch if validator.mode == "full" else re.search)(
            validator.pattern, text, flags=re.DOTALL
        )
        return found is not None
    if isinstance(validator, JSONSchema):
        value = row[validator.column]
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                return False
        return jsonschema.Draft202012Validator(validator.schema_).is_valid(value)
    if validator.expression is not None:
        return bool(evaluate(validator.expression, row, validator.label()))
    try:
        return bool(_function(validator.function or "")(dict(row)))
    except UserError:
        raise
    except Exception:
        return False
