"""The evaluation harness: scores equal an independent computation, the in-process model and
the served model agree, standard errors follow the stated formulas, bad task files fail in
one line naming the file and field, and ``sai eval`` leaves a run with per-example records."""

from __future__ import annotations

import json
import math
import socket
import threading

import pytest
import torch

from scalable_ai.errors import UserError
from scalable_ai.eval import metrics
from scalable_ai.eval.harness import evaluate
from scalable_ai.eval.instructions import check_instruction
from scalable_ai.eval.models import Endpoint, LocalModel
from scalable_ai.eval.tasks import builtin_tasks, load_task, resolve_task
from scalable_ai.infer.scoring import score_tokens
from tests.eval.conftest import SERVER_GROUP


def test_batched_scores_equal_one_plain_forward_per_sequence(tiny_checkpoint):
    local = LocalModel(str(tiny_checkpoint))
    sequences = [local.tokenizer.encode(t) for t in ["a short one", "a much longer sequence here"]]
    batched = score_tokens(local.model, [(s, 2) for s in sequences], top=3)
    for ids, scores in zip(sequences, batched, strict=True):
        with torch.no_grad():
            reference = local.model(torch.tensor([ids])).float().log_softmax(-1)[0]
        assert [s.token_id for s in scores] == ids[2:]
        for position, scored in zip(range(2, len(ids)), scores, strict=True):
            assert abs(scored.logprob - reference[position - 1, ids[position]].item()) < 1e-5
            assert scored.greedy == (reference[position - 1].argmax().item() == ids[position])
            assert scored.top[0][0] == reference[position - 1].argmax().item()


def test_acc_picks_the_highest_summed_logprob_and_acc_norm_divides_by_characters():
    assert metrics.choose([-12.0, -4.0], [40, 40]) == (1, 1)
    # choice 1 has the higher total; choice 0 is long, so per character it wins
    assert metrics.choose([-12.0, -10.0], [40, 2]) == (1, 0)


def test_stderr_of_an_accuracy_is_the_binomial_formula_with_bessels_correction():
    values = [1.0] * 7 + [0.0] * 13
    mean, stderr = metrics.mean_and_stderr(values)
    p, n = 7 / 20, 20
    assert mean == pytest.approx(p)
    assert stderr == pytest.approx(math.sqrt(p * (1 - p) / (n - 1)))


def test_bootstrap_stderr_is_seeded_and_shrinks_with_more_documents():
    few = [(-float(i % 7 + 1) * 10, 10.0) for i in range(10)]
    many = few * 10
    first = metrics.bootstrap_stderr(few, metrics.token_perplexity)
    assert first == metrics.bootstrap_stderr(few, metrics.token_perplexity)
    assert 0 < metrics.bootstrap_stderr(many, metrics.token_perplexity) < first


def test_exact_match_normalizes_case_punctuation_and_keeps_signs_and_decimals():
    assert metrics.normalize_answer(" The Answer. ") == "the answer"
    assert metrics.normalize_answer("-12") == "-12" != metrics.normalize_answer("12")
    assert metrics.normalize_answer("3.5") == "3.5"
    assert metrics.extract_answer("Answer: -42 apples", r"-?\d+") == "-42"


@pytest.mark.parametrize(
    ("response", "instruction", "followed"),
    [
        ("* a\n* b\n* c", {"type": "bullets", "count": 3}, True),
        ("* a\n* b", {"type": "bullets", "count": 3}, False),
        ("all quiet here", {"type": "lowercase"}, True),
        ("Not quiet", {"type": "lowercase"}, False),
        ('{"a": 1}', {"type": "json"}, True),
        ("{a: 1}", {"type": "json"}, False),
        ("one two three", {"type": "max_words", "count": 3}, True),
        ("one two three four", {"type": "max_words", "count": 3}, False),
        ("no commas", {"type": "no_commas"}, True),
        ("a, b", {"type": "no_commas"}, False),
        ("It is blue", {"type": "ends_with", "text": "blue"}, True),
    ],
)
def test_verifiable_instructions_are_checked_as_ifeval_defines_them(
    response, instruction, followed
):
    assert check_instruction(response, instruction) is followed


def test_every_builtin_task_loads_with_its_examples_and_few_shots():
    tasks = builtin_tasks()
    assert {"arithmetic", "arithmetic_chat", "course_mc", "course_text", "instructions"} <= set(
        tasks
    )
    for name in tasks:
        task = resolve_task(name)
        assert task.examples and len(task.fewshot_examples) >= task.num_fewshot
        # every template renders on the first example
        assert (
            task.render("text", task.examples[0]) if task.kind == "perplexity" else task.context(0)
        )
    arithmetic = resolve_task("arithmetic")
    shots = {json.dumps(e, sort_keys=True) for e in arithmetic.fewshot_examples}
    assert not shots & {json.dumps(e, sort_keys=True) for e in arithmetic.examples}
    assert arithmetic.context(5) == arithmetic.context(5)  # the few-shot draw is seeded


def _write_task(tmp_path, body: str, examples: str = '{"q": "1+1", "a": "2"}\n'):
    (tmp_path / "ex.jsonl").write_text(examples)
    path = tmp_path / "t.yaml"
    path.write_text(body)
    return path


@pytest.mark.parametrize(
    ("body", "examples", "message"),
    [
        (
            "kind: generate\nprompt: '{{ q }}'\nanswer: '{{ a }}'\nexamples: ex.jsonl\nwho: 1\n",
            None,
            "unknown fields",
        ),
        ("kind: guess\nprompt: x\nexamples: ex.jsonl\n", None, "kind must be one of"),
        ("kind: generate\nprompt: '{{ nope }}'\nanswer: x\nexamples: ex.jsonl\n", None, "lacks"),
        ("kind: generate\nprompt: '{{ q'\nanswer: x\nexamples: ex.jsonl\n", None, "does not parse"),
        (
            "kind: generate\nprompt: x\nanswer: x\nexamples: ex.jsonl\n",
            '{"q": 1}\nnot json\n',
            "ex.jsonl:2: not JSON",
        ),
        ("kind: multiple_choice\nprompt: x\nexamples: ex.jsonl\n", None, "needs 'choices'"),
    ],
)
def test_a_bad_task_file_fails_in_one_line_naming_the_file_and_field(
    tmp_path, body, examples, message
):
    path = _write_task(tmp_path, body, examples or '{"q": "1+1", "a": "2"}\n')
    with pytest.raises(UserError) as caught:
        task = load_task(path)
        task.context(0)
    said = str(caught.value)
    assert message in said and ("t.yaml" in said or "ex.jsonl" in said)
    assert "\n" not in said


@SERVER_GROUP
def test_the_served_model_scores_and_generates_as_the_model_in_process(
    tiny_checkpoint, tiny_server
):
    local, served = LocalModel(str(tiny_checkpoint)), Endpoint(tiny_server)
    choice_task = resolve_task("course_mc")
    here, there = evaluate(choice_task, local, limit=6), evaluate(choice_task, served, limit=6)
    for mine, theirs in zip(here.records, there.records, strict=True):
        assert mine["logprobs"] == pytest.approx(theirs["logprobs"], abs=1e-3)
        assert (mine["pred"], mine["pred_norm"]) == (theirs["pred"], theirs["pred_norm"])
    text_task = resolve_task("course_text")
    here, there = evaluate(text_task, local, limit=3), evaluate(text_task, served, limit=3)
    assert [r["num_tokens"] for r in here.records] == [r["num_tokens"] for r in there.records]
    assert [r["num_bytes"] for r in here.records] == [r["num_bytes"] for r in there.records]
    assert here.summary["bits_per_byte"] == pytest.approx(there.summary["bits_per_byte"], 1e-4)
    arithmetic = resolve_task("arithmetic")
    here, there = evaluate(arithmetic, local, limit=4), evaluate(arithmetic, served, limit=4)
    assert [r["output"] for r in here.records] == [r["output"] for r in there.records]


def _sai(capsys, *args: str) -> tuple[int, str]:
    """The real ``sai`` entry point, in this process (a subprocess would spend seconds
    importing torch again): its exit code and what it wrote to stderr."""
    from scalable_ai.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err


def test_sai_eval_writes_a_run_with_a_summary_and_one_record_per_example(
    tiny_checkpoint, tmp_path, monkeypatch, capsys
):
    runs = tmp_path / "runs"
    monkeypatch.setenv("SAI_RUNS_DIR", str(runs))
    code, err = _sai(
        capsys,
        "eval",
        str(tiny_checkpoint),
        "--task",
        "course_mc",
        "--task",
        "arithmetic",
        "--limit",
        "4",
    )
    assert code == 0, err
    (run,) = list(runs.iterdir())
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "completed" and record["command"] == "eval"
    summary = record["summary"]
    assert {"course_mc/acc", "course_mc/acc_stderr", "course_mc/acc_norm"} <= set(summary)
    assert summary["arithmetic/examples"] == 4
    lines = (run / "artifacts" / "course_mc.jsonl").read_text().splitlines()
    assert len(lines) == 4 and {"choices", "logprobs", "acc"} <= set(json.loads(lines[0]))
    assert "course_mc" in err and "acc_norm" in err


def test_an_endpoint_that_does_not_answer_fails_the_run_with_one_clear_line(
    tmp_path, monkeypatch, capsys
):
    silent = socket.socket()  # accepts connections, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    keep = threading.Event()
    try:
        runs = tmp_path / "runs"
        monkeypatch.setenv("SAI_RUNS_DIR", str(runs))
        code, err = _sai(
            capsys,
            "eval",
            f"http://127.0.0.1:{port}/v1#tiny",
            "--task",
            "arithmetic",
            "--limit",
            "2",
            "--timeout",
            "1",
        )
    finally:
        keep.set()
        silent.close()
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("error: endpoint:")
    assert "did not answer within 1 s" in err
    (run,) = list(runs.iterdir())
    assert json.loads((run / "run.json").read_text())["status"] == "failed"


def test_sai_eval_takes_a_sft_run_and_scores_its_model(
    tiny_checkpoint, tmp_path, monkeypatch, capsys
):
    import shutil

    from scalable_ai.runs import open_run

    runs = tmp_path / "runs"
    monkeypatch.setenv("SAI_RUNS_DIR", str(runs))
    with open_run("sft") as run:  # what sai sft leaves: the run's model/ folder
        shutil.copytree(tiny_checkpoint, run.path / "model")
    code, err = _sai(capsys, "eval", run.id, "--task", "course_text", "--limit", "2")
    assert code == 0, err
    evals = [
        p for p in runs.iterdir() if json.loads((p / "run.json").read_text())["command"] == "eval"
    ]
    (record,) = [json.loads((p / "run.json").read_text()) for p in evals]
    assert record["summary"]["course_text/examples"] == 2
    assert record["summary"]["course_text/bits_per_byte"] > 0
