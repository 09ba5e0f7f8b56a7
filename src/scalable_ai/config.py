"""Typed configuration: one dataclass per command, loadable from TOML, every field overridable.

A command's config is a (possibly nested) dataclass whose defaults are the fast path.
``load_config(TrainConfig, "run.toml", ["train.lr=3e-4", "--model.n_layers", "4"])`` reads the
TOML file, then applies overrides by dotted field path, converting each string to the field's
declared type. A bad name or value raises :class:`~scalable_ai.errors.UserError` naming the
field and the reason, e.g. ``train.lr: expected a float, got 'fast'``. The resolved config is
what a run saves (``open_run(config=cfg)``).

Overrides on the command line come in three spellings, all equivalent::

    sai CMD --train.lr 3e-4      sai CMD --train.lr=3e-4      sai CMD --set train.lr=3e-4
"""

from __future__ import annotations

import dataclasses
import enum
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from scalable_ai.errors import UserError

T = TypeVar("T")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_override_args(args: list[str]) -> list[str]:
    """Turn ``["--a.b", "1", "--c=2", "d.e=3"]`` into ``["a.b=1", "c=2", "d.e=3"]``."""
    overrides: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--set":
            if i + 1 >= len(args):
                raise UserError("--set needs a value like train.lr=3e-4", field="--set")
            overrides.append(args[i + 1])
            i += 2
            continue
        if arg.startswith("--"):
            body = arg[2:]
            if "=" in body:
                overrides.append(body)
                i += 1
            elif i + 1 < len(args) and not args[i + 1].startswith("--"):
                overrides.append(f"{body}={args[i + 1]}")
                i += 2
            else:  # a bare flag: a boolean switched on
                overrides.append(f"{body}=true")
                i += 1
            continue
        if "=" not in arg:
            raise UserError(f"expected NAME=VALUE or --NAME VALUE, got {arg!r}", field="overrides")
        overrides.append(arg)
        i += 1
    return overrides


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def coerce(value: Any, tp: Any, field: str) -> Any:
    """Convert ``value`` (a TOML value or a command-line string) to the declared type ``tp``."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = get_args(tp)
        is_none = value is None or (isinstance(value, str) and value.lower() in {"none", "null"})
        if is_none and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return coerce(value, option, field)
            except UserError as exc:
                errors.append(exc.message)
        raise UserError("; ".join(errors) or f"cannot be {value!r}", field=field)
    if origin is typing.Literal:
        allowed = get_args(tp)
        for option in allowed:
            if value == option or (isinstance(value, str) and str(option) == value):
                return option
        raise UserError(
            f"must be one of {', '.join(map(str, allowed))}; got {value!r}", field=field
        )
    if origin in (list, tuple):
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise UserError(f"expected a list, got {value!r}", field=field)
        args = get_args(tp)
        item_tp = args[0] if args else Any
        out = [
            coerce(v.strip() if isinstance(v, str) else v, item_tp, f"{field}[{i}]")
            for i, v in enumerate(items)
            if not (isinstance(v, str) and not v.strip())
        ]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"expected a table, got {value!r}", field=field)
        return dict(value)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise UserError(
                f"expected a table of {_type_name(tp)} fields, got {value!r}", field=field
            )
        return build(tp, value, prefix=f"{field}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise UserError(f"expected true or false, got {value!r}", field=field)
    if tp is int:
        if isinstance(value, bool):
            raise UserError(f"expected an integer, got {value!r}", field=field)
        if isinstance(value, int):
            return value
        try:
            as_float = float(str(value).replace("_", ""))
        except ValueError:
            raise UserError(f"expected an integer, got {value!r}", field=field) from None
        if not as_float.is_integer():
            raise UserError(f"expected an integer, got {value!r}", field=field)
        return int(as_float)
    if tp is float:
        if isinstance(value, bool):
            raise UserError(f"expected a float, got {value!r}", field=field)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise UserError(f"expected a float, got {value!r}", field=field) from None
    if tp is str:
        return str(value)
    if tp is Path:
        return Path(str(value)).expanduser()
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            names = ", ".join(str(m.value) for m in tp)
            raise UserError(f"must be one of {names}; got {value!r}", field=field) from None
    return value


def _field_names(cls: type) -> set[str]:
    """The fields a config file or override may set: the dataclass's init fields."""
    return {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]


def _unknown_field(cls: type, field: str) -> UserError:
    known = ", ".join(sorted(_field_names(cls)))
    return UserError(f"unknown field (known: {known})", field=field)


def build(cls: type[T], values: dict[str, Any], prefix: str = "") -> T:
    """Construct dataclass ``cls`` from a (nested) dict, coercing and naming bad fields."""
    hints = get_type_hints(cls)
    unknown = sorted(set(values) - _field_names(cls))
    if unknown:
        raise _unknown_field(cls, f"{prefix}{unknown[0]}")
    kwargs = {k: coerce(v, hints[k], f"{prefix}{k}") for k, v in values.items()}
    try:
        return cls(**kwargs)
    except UserError as exc:
        if exc.field and prefix and not exc.field.startswith(prefix):
            exc.field = prefix + exc.field
        raise
    except (TypeError, ValueError) as exc:
        raise UserError(str(exc), field=prefix.rstrip(".") or cls.__name__) from None


def to_dict(config: Any) -> dict[str, Any]:
    """A config as plain nested dicts (what a run stores and TOML holds)."""
    return dataclasses.asdict(config)


def _set_path(tree: dict[str, Any], cls: type, dotted: str, raw: str) -> None:
    parts = dotted.split(".")
    node, node_cls = tree, cls
    for depth, part in enumerate(parts):
        hints = get_type_hints(node_cls)
        field = ".".join(parts[: depth + 1])
        if part not in _field_names(node_cls):
            raise _unknown_field(node_cls, field)
        if depth == len(parts) - 1:
            node[part] = coerce(raw, hints[part], field)
            return
        child_cls = hints[part]
        if not dataclasses.is_dataclass(child_cls):
            raise UserError(f"is a {_type_name(child_cls)}, not a section", field=field)
        child = node.get(part)
        node[part] = child if isinstance(child, dict) else to_dict(child)
        node, node_cls = node[part], child_cls


def load_config(
    cls: type[T],
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    base: T | None = None,
) -> T:
    """Defaults (or ``base``, e.g. a named preset), then the TOML file (if any), then
    ``key.path=value`` overrides, in that order."""
    tree: dict[str, Any] = to_dict(cls() if base is None else base)
    if path is not None:
        try:
            loaded = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise UserError(f"no such file: {path}", field="config") from None
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"not valid TOML: {exc}", field="config") from None
        _merge(tree, loaded, cls, "")
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"expected NAME=VALUE, got {item!r}", field="overrides")
        _set_path(tree, cls, key.strip(), raw.strip())
    return build(cls, tree)


def _merge(tree: dict[str, Any], loaded: dict[str, Any], cls: type, prefix: str) -> None:
    hints = get_type_hints(cls)
    for key, value in loaded.items():
        field = f"{prefix}{key}"
        if key not in _field_names(cls):
            raise _unknown_field(cls, field)
        if isinstance(value, dict) and dataclasses.is_dataclass(hints[key]):
            _merge(tree[key], value, hints[key], field + ".")
        else:
            tree[key] = coerce(value, hints[key], field)


def dump_toml(config: Any) -> str:
    """Write a config as TOML (scalars, lists and nested sections; None fields are omitted)."""
    lines: list[str] = []

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, list | tuple):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    def section(name: str, data: dict[str, Any]) -> None:
        simple = {k: v for k, v in data.items() if not isinstance(v, dict) and v is not None}
        nested = {k: v for k, v in data.items() if isinstance(v, dict)}
        if name and simple:
            lines.append(f"[{name}]")
        lines.extend(f"{k} = {scalar(v)}" for k, v in simple.items())
        if simple:
            lines.append("")
        for k, v in nested.items():
            section(f"{name}.{k}" if name else k, v)

    section("", to_dict(config))
    return "\n".join(lines).rstrip() + "\n"
