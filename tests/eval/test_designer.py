"""``sai design``: rows from a column schema through a real ``sai serve`` (a tiny random
model, so its answers are noise and validators really reject some), every kept row passing
every validator, rejections counted per validator, dedup, resume after a stop, and an
endpoint that times out failing the run in one line with the rows already made kept."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections import Counter

import jsonschema
import pytest

from scalable_ai.errors import UserError
from scalable_ai.post.design_config import load_design
from scalable_ai.post.designer import Designer
from tests.eval.conftest import SERVER_GROUP

pytestmark = SERVER_GROUP

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer", "maximum": 6}}}


def a_is_not_three(row: dict) -> bool:
    """A Python check, imported by its dotted path from the design file."""
    return row["a"] != 3


def design_file(tmp_path, url: str, rows: int = 8, extra: str = "") -> str:
    path = tmp_path / "design.yaml"
    path.write_text(
        f"""
name: probe
rows: {rows}
seed: 3
columns:
  - {{name: op, type: category, values: ["+", "-"]}}
  - {{name: a, type: uniform, low: 0, high: 9}}
  - {{name: who, type: person}}
  - {{name: ask, type: template, template: "{{{{ who.first_name }}}} asks {{{{ a }}}} {{{{ op }}}} 1"}}
  - {{name: payload, type: expression, expression: "{{'a': a}}"}}
  - {{name: reply, type: llm, prompt: "{{{{ ask }}}}", max_tokens: 5, temperature: 1.0}}
  - {{name: verdict, type: llm_judge, prompt: "Is {{{{ reply }}}} fine?", max_tokens: 1, pass_pattern: "[^aeiouAEIOU]"}}
validators:
  - {{name: starts_with_a_letter, type: regex, column: reply, pattern: "^[A-Za-z]"}}
  - {{name: small_a, type: json_schema, column: payload, schema: {json.dumps(SCHEMA)}}}
  - {{name: not_three, type: python, function: "tests.eval.test_designer:a_is_not_three"}}
  - {{name: short_ask, type: python, expression: "ask | length < 40"}}
{extra}
endpoint: {{base_url: "{url}", concurrency: 4, timeout: 30}}
"""
    )
    return str(path)


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def independent_verdicts(row: dict) -> list[str]:
    """The row's rejections recomputed here: a failing judge rejects the row at once."""
    if not re.search("[^aeiouAEIOU]", row["verdict"]):
        return ["verdict"]
    failed = []
    if not re.search("^[A-Za-z]", row["reply"]):
        failed.append("starts_with_a_letter")
    if not jsonschema.Draft202012Validator(SCHEMA).is_valid(row["payload"]):
        failed.append("small_a")
    if row["a"] == 3:
        failed.append("not_three")
    if len(row["ask"]) >= 40:
        failed.append("short_ask")
    return failed


def test_kept_rows_pass_every_validator_and_rejections_are_counted_per_validator(
    tiny_server, tmp_path
):
    design = load_design(design_file(tmp_path, tiny_server))
    out = tmp_path / "rows.jsonl"
    report = asyncio.run(Designer(design).generate(out))
    kept, rejected = read_jsonl(out), read_jsonl(tmp_path / "rows.jsonl.rejected.jsonl")
    assert report.accepted == len(kept) == 8
    for row in kept:
        assert independent_verdicts(row) == []
        assert isinstance(row["who"]["age"], int) and row["ask"].startswith(
            row["who"]["first_name"]
        )
    assert rejected, "a random model's replies should fail the letter check sometimes"
    for row in rejected:
        assert row["_rejected_by"] == independent_verdicts(row)
    counted = Counter(name for row in rejected for name in row["_rejected_by"])
    assert report.rejected_by == counted and report.rejected == len(rejected)
    ids = [
        int(line.split("\t")[0])
        for line in (tmp_path / "rows.jsonl.done").read_text().split("\n")
        if line
    ]
    assert len(ids) == len(set(ids)) == len(kept) + len(rejected)


def test_a_design_stopped_by_ctrl_c_resumes_keeping_its_rows_and_trying_no_row_twice(
    tiny_server, tmp_path
):
    out = tmp_path / "rows.jsonl"

    def ctrl_c_after_three(report) -> None:  # the design's progress callback, as Ctrl-C
        if report.accepted == 3:
            raise KeyboardInterrupt

    design = load_design(design_file(tmp_path, tiny_server, rows=8))
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(Designer(design).generate(out, on_row=ctrl_c_after_three))
    made = out.read_text()
    assert len(read_jsonl(out)) == 3
    tried = (tmp_path / "rows.jsonl.done").read_text().splitlines()
    resumed = asyncio.run(Designer(design).generate(out))
    assert out.read_text().startswith(made) and len(read_jsonl(out)) == 8
    assert resumed.resumed_from == len(tried) and resumed.accepted == 8
    ids = [line.split("\t")[0] for line in (tmp_path / "rows.jsonl.done").read_text().splitlines()]
    assert len(ids) == len(set(ids))


def test_dedup_keeps_one_row_per_value_and_stops_after_the_attempt_budget(tiny_server, tmp_path):
    path = tmp_path / "dedup.yaml"
    path.write_text(
        f"""
name: dedup
rows: 5
max_attempts_per_row: 2
columns:
  - {{name: op, type: category, values: ["+", "-"]}}
  - {{name: reply, type: llm, prompt: "{{{{ op }}}}", max_tokens: 2}}
dedup: [op]
endpoint: {{base_url: "{tiny_server}"}}
"""
    )
    out = tmp_path / "dedup.jsonl"
    report = asyncio.run(Designer(load_design(path)).generate(out))
    assert sorted(row["op"] for row in read_jsonl(out)) == ["+", "-"]
    assert report.accepted == 2 and report.duplicates == 10 - 2


def test_preview_prints_rows_and_writes_nothing(tiny_server, tmp_path, monkeypatch, capsys):
    from scalable_ai.cli import main

    monkeypatch.setenv("SAI_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("SAI_DATA_DIR", str(tmp_path / "data"))
    main(["design", design_file(tmp_path, tiny_server), "--preview", "3"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and {"reply", "who", "ask"} <= set(json.loads(lines[0]))
    assert not (tmp_path / "data").exists() and not (tmp_path / "runs").exists()


def test_an_endpoint_that_times_out_fails_the_run_and_keeps_the_rows_made(
    tiny_server, tmp_path, monkeypatch, capsys
):
    from scalable_ai.cli import main

    monkeypatch.setenv("SAI_RUNS_DIR", str(tmp_path / "runs"))
    out = tmp_path / "rows.jsonl"
    main(["design", design_file(tmp_path, tiny_server, rows=2), "--out", str(out)])
    made = out.read_text()
    silent = socket.socket()  # accepts connections, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
    capsys.readouterr()
    try:
        with pytest.raises(SystemExit) as exit_:
            main(
                ["design", design_file(tmp_path, url, rows=4), "--out", str(out),
                 "--model", "tiny", "--timeout", "1"]
            )  # fmt: skip
    finally:
        silent.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2
    assert err[-1].startswith("error: endpoint:") and "did not answer within 1 s" in err[-1]
    assert f"2 rows kept in {out}" in err[-1]
    assert out.read_text() == made
    statuses = sorted(
        json.loads((run / "run.json").read_text())["status"]
        for run in (tmp_path / "runs").iterdir()
    )
    assert statuses == ["completed", "failed"]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ("  - {name: x, type: dice}", "columns.0"),
        ("  - {name: x, type: uniform, low: 0}", "columns.0.uniform.high"),
        (
            "  - {name: x, type: template, template: '{{ later }}'}\n  - {name: later, type: uniform, low: 0, high: 1}",
            "columns.x",
        ),
    ],
)
def test_a_bad_design_fails_in_one_line_naming_the_field(tmp_path, columns, message):
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: bad\nrows: 1\ncolumns:\n{columns}\n")
    with pytest.raises(UserError) as caught:
        design = load_design(path)
        asyncio.run(Designer(design).preview(1))
    assert message in str(caught.value) and "\n" not in str(caught.value)
