"""Evaluation tasks as data: a YAML file (templates, kind, metric) next to a JSONL of examples.

A task says how to turn one example (a JSON object) into what a model is asked, and how the
answer is judged. Three kinds, as in lm-evaluation-harness:

- ``multiple_choice``: the context is ``prompt``; each of ``choices`` (the name of a field
  holding a list of strings) is scored as a continuation after ``choice_delimiter``; the
  right one is the index that ``answer`` renders to. Metrics ``acc`` and ``acc_norm``.
- ``generate``: the model continues ``prompt`` greedily until a stop string; the output is
  compared with ``answer`` (``exact_match``) or checked against the example's verifiable
  ``instructions`` (``instruction``, IFEval-style).
- ``perplexity``: ``text`` is scored token by token (token perplexity, bits per byte).

Templates are Jinja (``{{ a }} + {{ b }}``) over the example's fields, rendered with
``StrictUndefined``: a misspelt field is an error naming the task file and the field, not
an empty string. Few-shot examples come from ``fewshot_examples`` (a separate file, never
scored) and are joined to the prompt with ``fewshot_separator``. The format is documented in
``docs/post-training.md`` ("Evaluation"); our own tasks ship in ``eval/tasks/``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jinja2
import jinja2.sandbox
import yaml

from scalable_ai.errors import UserError

Kind = Literal["multiple_choice", "generate", "perplexity"]
KINDS: dict[str, tuple[str, ...]] = {
    "multiple_choice": ("acc",),
    "generate": ("exact_match", "instruction"),
    "perplexity": ("perplexity",),
}
_ENVIRONMENT = jinja2.sandbox.SandboxedEnvironment(
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True
)


@dataclass
class Generation:
    """How a ``generate`` task's answer is produced: greedy, until a stop string."""

    max_tokens: int = 32
    stop: list[str] = field(default_factory=lambda: ["\n"])
    #: Send the prompt as a user turn through the model's chat template (an instruct model).
    chat: bool = False


@dataclass
class Task:
    """One task: its examples and how each becomes a request and a score."""

    name: str
    kind: Kind
    examples: list[dict[str, Any]]
    source: str = ""
    description: str = ""
    metric: str = ""
    prompt: str = ""
    answer: str = ""
    choices: str = ""
    text: str = ""
    choice_delimiter: str = " "
    fewshot_examples: list[dict[str, Any]] = field(default_factory=list)
    num_fewshot: int = 0
    fewshot_separator: str = "\n\n"
    #: A regular expression whose first match in the output is the answer (``exact_match``).
    answer_pattern: str = ""
    generation: Generation = field(default_factory=Generation)
    seed: int = 1234

    @cached_property
    def _templates(self) -> dict[str, jinja2.Template]:
        compiled = {}
        for name in ("prompt", "answer", "text"):
            source = getattr(self, name)
            try:
                compiled[name] = _ENVIRONMENT.from_string(source)
            except jinja2.TemplateSyntaxError as error:
                raise UserError(
                    f"{self.source}: the {name} template does not parse: {error}", field=name
                ) from None
        return compiled

    def render(self, template: str, example: dict[str, Any]) -> str:
        """``template`` ("prompt", "answer" or "text") filled from ``example``."""
        try:
            return self._templates[template].render(**example)
        except jinja2.UndefinedError as error:
            raise UserError(
                f"{self.source}: the {template} template needs a field the example lacks "
                f"({error.message}); example fields: {', '.join(sorted(example))}",
                field=template,
            ) from None

    def choice_list(self, example: dict[str, Any]) -> list[str]:
        value = example.get(self.choices)
        if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
            raise UserError(
                f"{self.source}: field {self.choices!r} of an example must be a non-empty list "
                "of strings",
                field="choices",
            )
        return value

    def answer_index(self, example: dict[str, Any]) -> int:
        rendered = self.render("answer", example).strip()
        choices = self.choice_list(example)
        if not rendered.isdigit() or int(rendered) >= len(choices):
            raise UserError(
                f"{self.source}: the answer must render to a choice index below {len(choices)}, "
                f"got {rendered!r}",
                field="answer",
            )
        return int(rendered)

    def shots(self, index: int) -> list[dict[str, Any]]:
        """The few-shot examples for example ``index``: a seeded draw, the same every run."""
        if not self.num_fewshot:
            return []
        return random.Random(self.seed + index).sample(self.fewshot_examples, self.num_fewshot)

    def solved(self, example: dict[str, Any]) -> str:
        """A few-shot example written out with its answer."""
        if self.kind == "multiple_choice":
            answer = self.choice_list(example)[self.answer_index(example)]
            return self.render("prompt", example) + self.choice_delimiter + answer
        return self.render("prompt", example) + self.render("answer", example)

    def context(self, index: int) -> str:
        """What the model reads before its answer: description, few shots, then the prompt."""
        parts = [self.description] if self.description else []
        parts += [self.solved(shot) for shot in self.shots(index)]
        parts.append(self.render("prompt", self.examples[index]))
        return self.fewshot_separator.join(parts)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise UserError(f"{path}: no such examples file", field="examples")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserError(f"{path}:{number}: not JSON ({error.msg})", field="examples") from None
        if not isinstance(row, dict):
            raise UserError(f"{path}:{number}: each line must be a JSON object", field="examples")
        rows.append(row)
    return rows


def _examples(value: Any, folder: Path, key: str, source: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        return _read_jsonl(folder / value)
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return value
    raise UserError(f"{source}: {key} must be a JSONL file name or a list of objects", field=key)


def load_task(path: str | Path) -> Task:
    """A task from its YAML file (examples files are relative to it). Errors name the field."""
    path = Path(path)
    source = str(path)
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror})", field="task") from None
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not YAML ({error})", field="task") from None
    if not isinstance(spec, dict):
        raise UserError(f"{path}: a task file is a YAML mapping", field="task")
    known = set(Task.__dataclass_fields__) - {"source"}
    unknown = set(spec) - known
    if unknown:
        raise UserError(f"{path}: unknown fields {sorted(unknown)}", field=sorted(unknown)[0])
    kind = spec.get("kind")
    if kind not in KINDS:
        raise UserError(f"{path}: kind must be one of {', '.join(KINDS)}", field="kind")
    metric = spec.get("metric") or KINDS[kind][0]
    if metric not in KINDS[kind]:
        raise UserError(
            f"{path}: a {kind} task's metric is one of {', '.join(KINDS[kind])}", field="metric"
        )
    needed = {
        "multiple_choice": ("prompt", "choices", "answer"),
        "generate": ("prompt",) + (("answer",) if metric == "exact_match" else ()),
        "perplexity": ("text",),
    }[kind]
    for key in needed:
        if not isinstance(spec.get(key), str) or not spec[key]:
            raise UserError(f"{path}: a {kind} task needs {key!r}", field=key)
    examples = _examples(spec.pop("examples", None), path.parent, "examples", source)
    if not examples:
        raise UserError(f"{path}: the task has no examples", field="examples")
    shots = _examples(spec.pop("fewshot_examples", None), path.parent, "fewshot_examples", source)
    if spec.get("num_fewshot", 0) > len(shots):
        raise UserError(
            f"{path}: num_fewshot is {spec['num_fewshot']} but fewshot_examples has {len(shots)}",
            field="num_fewshot",
        )
    generation = Generation(**spec.pop("generation", None) or {})
    spec.update(metric=metric, name=spec.get("name") or path.stem)
    task = Task(
        examples=examples, fewshot_examples=shots, generation=generation, source=source, **spec
    )
    _ = task._templates  # syntax errors now, not at the first example
    return task


def builtin_tasks() -> dict[str, Path]:
    """Our own tasks, shipped with the package: name -> task file."""
    folder = Path(str(resources.files("scalable_ai.eval") / "tasks"))
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def resolve_task(name_or_path: str) -> Task:
    """A built-in task by name or a task file by path."""
    builtin = builtin_tasks()
    if name_or_path in builtin:
        return load_task(builtin[name_or_path])
    path = Path(name_or_path).expanduser()
    if path.suffix in (".yaml", ".yml") and path.exists():
        return load_task(path)
    raise UserError(
        f"{name_or_path!r} is neither a built-in task ({', '.join(builtin)}) nor a task file",
        field="task",
    )
