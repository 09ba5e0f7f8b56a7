"""``sai design``: synthetic data from a declarative column schema, through any OpenAI API.

The design (``post/design_config.py``) lists columns in order; each row is made by drawing
the samplers from the row's own seeded generator, rendering templates and expressions,
asking the endpoint for each LLM column (``concurrency`` requests in flight across rows,
through the ``openai`` async client), then checking the validators. This is the shape of
NeMo Data Designer (lecture 14) on our own serving stack.

Files, all append-only so an interrupted design resumes where it stopped:

- ``OUT`` (JSONL): the accepted rows, kept columns only (``{"messages": [...]}`` rows feed
  ``sai sft`` directly);
- ``OUT.rejected.jsonl``: each rejected row with ``_id`` and ``_rejected_by`` (the failing
  validators), for inspection, or as the "rejected" side of preference pairs;
- ``OUT.done``: the id of every row tried (``id<TAB>status``): a rerun skips them, and
  rebuilds the dedup set from ``OUT``. Rows are written as each finishes (up to twice
  ``concurrency`` rows are in flight), so a timeout or Ctrl-C keeps everything already made.
- ``OUT.report.json``: rows accepted, rejected per validator, duplicates.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalable_ai.errors import UserError
from scalable_ai.post import design_columns as columns_
from scalable_ai.post.design_config import (
    LLM,
    Category,
    Design,
    Expression,
    Judge,
    Person,
    Template,
    Uniform,
)


@dataclass
class Outcome:
    """One tried row: its values, and the validators (or judge/JSON columns) that failed."""

    row_id: int
    row: dict[str, Any]
    rejected_by: list[str] = field(default_factory=list)


@dataclass
class DesignReport:
    rows_wanted: int
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    resumed_from: int = 0
    rejected_by: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_wanted": self.rows_wanted,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "resumed_from": self.resumed_from,
            "rejected_by": dict(sorted(self.rejected_by.items())),
        }


def sidecar(out: Path, suffix: str) -> Path:
    return out.with_name(out.name + suffix)


class Designer:
    """Makes a design's rows against one endpoint (see the module docstring)."""

    def __init__(self, design: Design) -> None:
        self.design = design
        self.model: str | None = design.endpoint.model
        self._limit: asyncio.Semaphore | None = None

    # -- one row ---------------------------------------------------------------------------
    async def _ask(self, client: Any, column: LLM, row: dict[str, Any], row_id: int) -> str:
        prompt = columns_.render(column.prompt, row, column.name)
        seed = zlib.crc32(f"{self.design.seed}:{row_id}:{column.name}".encode())
        assert self._limit is not None
        async with self._limit:
            if column.chat:
                messages = [{"role": "user", "content": prompt}]
                if column.system:
                    system = columns_.render(column.system, row, column.name)
                    messages.insert(0, {"role": "system", "content": system})
                answer = await client.chat.completions.create(
                    model=self.model,
                    messages=messages,
                    max_tokens=column.max_tokens,
                    temperature=column.temperature,
                    stop=column.stop,
                    seed=seed,
                )
                return answer.choices[0].message.content or ""
            answer = await client.completions.create(
                model=self.model,
                prompt=prompt,
                max_tokens=column.max_tokens,
                temperature=column.temperature,
                stop=column.stop,
                seed=seed,
            )
            return answer.choices[0].text

    async def make_row(self, client: Any, row_id: int) -> Outcome:
        rng = columns_.row_random(self.design.seed, row_id)
        row: dict[str, Any] = {}
        for column in self.design.columns:
            if isinstance(column, Category):
                row[column.name] = rng.choices(column.values, weights=column.weights)[0]
            elif isinstance(column, Uniform):
                row[column.name] = columns_.sample_uniform(column, rng)
            elif isinstance(column, Person):
                row[column.name] = columns_.sample_person(column, rng)
            elif isinstance(column, Template):
                row[column.name] = columns_.render(column.template, row, column.name)
            elif isinstance(column, Expression):
                row[column.name] = columns_.evaluate(column.expression, row, column.name)
            else:
                text = await self._ask(client, column, row, row_id)
                row[column.name] = text
                if column.output == "json":
                    try:
                        row[column.name] = json.loads(text)
                    except json.JSONDecodeError:
                        return Outcome(row_id, row, [f"{column.name}:json"])
                if isinstance(column, Judge) and not re.search(column.pass_pattern, text):
                    return Outcome(row_id, row, [column.name])
        failed = [v.label() for v in self.design.validators if not columns_.passes(v, row)]
        return Outcome(row_id, row, failed)

    def kept(self, row: dict[str, Any]) -> dict[str, Any]:
        return {c.name: row[c.name] for c in self.design.columns if c.keep}

    def dedup_key(self, row: dict[str, Any]) -> str:
        names = self.design.dedup or [c.name for c in self.design.columns if c.keep]
        return json.dumps([row.get(n) for n in names], sort_keys=True, ensure_ascii=False)

    # -- many rows ---------------------------------------------------------------------------
    def _client(self) -> Any:
        import openai

        settings = self.design.endpoint
        return openai.AsyncOpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key,
            timeout=settings.timeout,
            max_retries=0,
        )

    async def _resolve_model(self, client: Any) -> None:
        if self.model is None and self.design.needs_model():
            listed = await client.models.list()
            names = [m.id for m in listed.data]
            if not names:
                raise UserError(f"{self.design.endpoint.base_url} serves no model", field="model")
            self.model = names[0]

    async def _batch(self, client: Any, row_ids: list[int]) -> list[Outcome | BaseException]:
        return await asyncio.gather(
            *(self.make_row(client, i) for i in row_ids), return_exceptions=True
        )

    async def preview(self, count: int) -> list[Outcome]:
        """The first ``count`` rows, made but not written (``sai design --preview N``)."""
        client = self._client()
        self._limit = asyncio.Semaphore(self.design.endpoint.concurrency)
        try:
            await self._resolve_model(client)
            results = await self._batch(client, list(range(count)))
        finally:
            await client.close()
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [r for r in results if isinstance(r, Outcome)]

    async def generate(self, out: Path, on_row: Any = None) -> DesignReport:
        """Make rows until ``design.rows`` are accepted in ``out`` (resuming what is there)."""
        design = self.design
        out.parent.mkdir(parents=True, exist_ok=True)
        done_path, rejected_path = sidecar(out, ".done"), sidecar(out, ".rejected.jsonl")
        done = _read_done(done_path)
        report = DesignReport(rows_wanted=design.rows, resumed_from=len(done))
        seen: set[str] = set()
        if out.exists():
            for line in out.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    seen.add(self.dedup_key(json.loads(line)))
        report.accepted = len(seen)
        max_attempts = math.ceil(design.rows * design.max_attempts_per_row)
        client = self._client()
        self._limit = asyncio.Semaphore(design.endpoint.concurrency)
        ids = (i for i in itertools.count() if i not in done)
        in_flight: dict[asyncio.Task[Outcome], int] = {}
        try:
            await self._resolve_model(client)
            with (
                out.open("a", encoding="utf-8") as accepted_file,
                rejected_path.open("a", encoding="utf-8") as rejected_file,
                done_path.open("a", encoding="utf-8") as done_file,
            ):
                while report.accepted < design.rows:
                    # Keep enough rows in flight to fill the endpoint's concurrency, but no
                    # more than could still be accepted (or tried) when they all pass.
                    room = min(
                        design.rows - report.accepted,
                        max_attempts - len(done),
                        2 * design.endpoint.concurrency,
                    )
                    while len(in_flight) < room:
                        row_id = next(ids)
                        in_flight[asyncio.create_task(self.make_row(client, row_id))] = row_id
                    if not in_flight:
                        break
                    finished, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    for task in sorted(finished, key=in_flight.__getitem__):
                        del in_flight[task]
                        outcome = task.result()  # an endpoint error ends the design here
                        status = self._record(outcome, seen, report, accepted_file, rejected_file)
                        if status != "surplus":
                            done.add(outcome.row_id)
                            done_file.write(f"{outcome.row_id}\t{status}\n")
                            done_file.flush()
                        if on_row is not None:
                            on_row(report)
        except Exception as error:
            raise _explained(error, design, out, report) from None
        finally:
            for task in in_flight:  # Ctrl-C or an error: rows not finished are made next time
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            await client.close()
        return report

    def _record(
        self,
        outcome: Outcome,
        seen: set[str],
        report: DesignReport,
        accepted_file: Any,
        rejected_file: Any,
    ) -> str:
        if outcome.rejected_by:
            report.rejected += 1
            report.rejected_by.update(outcome.rejected_by)
            record = {"_id": outcome.row_id, "_rejected_by": outcome.rejected_by, **outcome.row}
            rejected_file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            rejected_file.flush()
            return "rejected"
        key = self.dedup_key(outcome.row)
        if key in seen or report.accepted >= self.design.rows:
            report.duplicates += key in seen
            return "duplicate" if key in seen else "surplus"
        seen.add(key)
        report.accepted += 1
        accepted_file.write(json.dumps(self.kept(outcome.row), ensure_ascii=False) + "\n")
        accepted_file.flush()
        return "accepted"


def _read_done(path: Path) -> set[int]:
    if not path.exists():
        return set()
    done = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        head = line.split("\t", 1)[0]
        if not head.strip():
            continue
        if not head.isdigit():
            raise UserError(f"{path}:{number}: not a row id", field="out")
        done.add(int(head))
    return done


def _explained(error: Exception, design: Design, out: Path, report: DesignReport) -> Exception:
    """A user-facing error for an endpoint that failed; anything else unchanged."""
    import openai

    url = design.endpoint.base_url
    kept = f"{report.accepted} rows kept in {out}; rerun to resume"
    if isinstance(error, openai.APITimeoutError):
        return UserError(
            f"{url} did not answer within {design.endpoint.timeout:g} s; {kept}", field="endpoint"
        )
    if isinstance(error, openai.APIConnectionError):
        return UserError(f"cannot reach {url} ({error}); {kept}", field="endpoint")
    if isinstance(error, openai.APIStatusError):
        return UserError(
            f"{url} refused a request ({error.status_code}: {error.message}); {kept}",
            field="endpoint",
        )
    return error
