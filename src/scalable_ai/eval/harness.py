"""Run tasks on a model: one record per example, and a summary with standard errors.

``evaluate(task, model)`` asks the model everything a task needs in one batched call per
kind (every choice of every example at once, every prompt at once), so an in-process model
scores in padded batches and an endpoint gets concurrent requests. ``run_eval`` does this for
several tasks inside a run of the registry: ``artifacts/<task>.jsonl`` holds each example's
prompt, answer, prediction and score; the run's summary holds ``<task>/<metric>`` and
``<task>/<metric>_stderr``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from scalable_ai.eval import metrics
from scalable_ai.eval.instructions import follows
from scalable_ai.eval.models import LanguageModel
from scalable_ai.eval.tasks import Task


@dataclass
class TaskResult:
    """A task's per-example records and its summary (metric -> value, with ``_stderr``)."""

    task: str
    records: list[dict[str, Any]]
    summary: dict[str, float] = field(default_factory=dict)


def _with_stderr(summary: dict[str, float], name: str, values: list[float]) -> None:
    mean, stderr = metrics.mean_and_stderr(values)
    summary[name], summary[f"{name}_stderr"] = mean, stderr


def multiple_choice(task: Task, model: LanguageModel, indices: list[int]) -> TaskResult:
    pairs, owners = [], []
    for index in indices:
        context = task.context(index)
        for choice in task.choice_list(task.examples[index]):
            pairs.append((context, task.choice_delimiter + choice))
            owners.append(index)
    scores = model.loglikelihood(pairs)
    records = []
    cursor = 0
    for index in indices:
        example = task.examples[index]
        choices = task.choice_list(example)
        these = scores[cursor : cursor + len(choices)]
        cursor += len(choices)
        answer = task.answer_index(example)
        logprobs = [s.logprob for s in these]
        pred, pred_norm = metrics.choose(logprobs, [len(c) for c in choices])
        record: dict[str, Any] = {"index": index}
        records.append(
            record
            | {
                "context": pairs[cursor - len(choices)][0],
                "choices": choices,
                "answer": answer,
                "logprobs": logprobs,
                "pred": pred,
                "pred_norm": pred_norm,
                "acc": float(pred == answer),
                "acc_norm": float(pred_norm == answer),
            }
        )
    summary: dict[str, float] = {}
    for name in ("acc", "acc_norm"):
        _with_stderr(summary, name, [r[name] for r in records])
    return TaskResult(task.name, records, summary)


def generate(task: Task, model: LanguageModel, indices: list[int]) -> TaskResult:
    prompts = [task.context(i) for i in indices]
    outputs = model.generate(prompts, task.generation)
    records = []
    for index, prompt, output in zip(indices, prompts, outputs, strict=True):
        example = task.examples[index]
        record: dict[str, Any] = {"index": index, "prompt": prompt, "output": output}
        if task.metric == "exact_match":
            reference = task.render("answer", example)
            predicted = metrics.extract_answer(output, task.answer_pattern)
            record |= {
                "answer": reference,
                "extracted": predicted,
                "exact_match": float(
                    metrics.normalize_answer(predicted) == metrics.normalize_answer(reference)
                ),
            }
        else:
            verdicts = follows(output, example.get("instructions") or [])
            record |= {
                "instructions": example.get("instructions") or [],
                "followed": verdicts,
                "prompt_strict_acc": float(all(verdicts)),
            }
        records.append(record)
    summary: dict[str, float] = {}
    if task.metric == "exact_match":
        _with_stderr(summary, "exact_match", [r["exact_match"] for r in records])
    else:
        _with_stderr(summary, "prompt_strict_acc", [r["prompt_strict_acc"] for r in records])
        _with_stderr(summary, "instruction_acc", [float(v) for r in records for v in r["followed"]])
    return TaskResult(task.name, records, summary)


def perplexity(task: Task, model: LanguageModel, indices: list[int]) -> TaskResult:
    texts = [task.render("text", task.examples[i]) for i in indices]
    scores = model.text_logprob(texts)
    records: list[dict[str, Any]] = [
        {
            "index": i,
            "text": text,
            "logprob": s.logprob,
            "num_tokens": s.num_tokens,
            "num_bytes": s.num_bytes,
        }
        for i, text, s in zip(indices, texts, scores, strict=True)
    ]
    by_tokens = [(r["logprob"], r["num_tokens"]) for r in records]
    by_bytes = [(r["logprob"], r["num_bytes"]) for r in records]
    summary = {
        "token_perplexity": metrics.token_perplexity(by_tokens),
        "token_perplexity_stderr": metrics.bootstrap_stderr(by_tokens, metrics.token_perplexity),
        "bits_per_byte": metrics.bits_per_byte(by_bytes),
        "bits_per_byte_stderr": metrics.bootstrap_stderr(by_bytes, metrics.bits_per_byte),
    }
    return TaskResult(task.name, records, summary)


KIND_RUNNERS = {"multiple_choice": multiple_choice, "generate": generate, "perplexity": perplexity}


def evaluate(task: Task, model: LanguageModel, limit: int | None = None) -> TaskResult:
    """Score ``model`` on ``task`` (its first ``limit`` examples when given)."""
    count = len(task.examples) if limit is None else min(limit, len(task.examples))
    started = time.perf_counter()
    result = KIND_RUNNERS[task.kind](task, model, list(range(count)))
    result.summary["examples"] = count
    result.summary["seconds"] = round(time.perf_counter() - started, 3)
    return result


def write_records(path: Any, records: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
