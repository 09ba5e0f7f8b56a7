"""Evaluation cross-check on the real model: ``sai eval`` against lm-evaluation-harness.

SmolLM2-135M-Instruct is served by ``sai serve`` (its own process). The multiple-choice task
``course_mc`` (29 items, zero-shot) is scored three ways in one run:

- ``sai eval`` in-process (one batched forward per group of choices),
- ``sai eval`` against the server (``/v1/completions`` with ``echo`` + ``logprobs``),
- the peer: lm-eval's ``local-completions`` model against the same server, the task registered
  from a local YAML, the tokenizer the checkpoint's own ``tokenizer.json`` (no network).

Prints acc and acc_norm with standard errors for each, the largest difference of any choice's
log-likelihood between lm-eval and us, and each path's wall time (ratio against lm-eval's).
Logged as the run ``bench.eval_crosscheck``.

    python bench/eval_crosscheck.py [--model smollm2-135m] [--limit 29]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from _serving import free_port, start_server

TASK_YAML = """
task: sai_course_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{passage}}}}\\nQuestion: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{label}}}}"
target_delimiter: " "
metric_list:
  - metric: acc
  - metric: acc_norm
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--limit", type=int, default=29)
    args = parser.parse_args()
    for switch in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ[switch] = "1"

    from scalable_ai.eval.harness import evaluate
    from scalable_ai.eval.models import Endpoint, LocalModel
    from scalable_ai.eval.tasks import builtin_tasks, resolve_task
    from scalable_ai.infer.forward_paths import cpu_model
    from scalable_ai.model.registry import resolve
    from scalable_ai.runs import open_run

    work = Path(tempfile.mkdtemp(prefix="eval-crosscheck-"))
    os.environ["HF_HOME"] = str(work / "hf")
    task = resolve_task("course_mc")
    task.num_fewshot = 0
    port = free_port()
    server = start_server(args.model, port, dtype="float32")
    url = f"http://127.0.0.1:{port}/v1"
    rows: dict[str, dict] = {}
    try:
        with open_run("bench.eval_crosscheck", config=vars(args)) as run:
            started = time.perf_counter()
            local = evaluate(task, LocalModel(args.model), limit=args.limit)
            rows["sai eval, in-process"] = {
                **local.summary,
                "wall_s": time.perf_counter() - started,
            }
            endpoint = Endpoint(url)
            started = time.perf_counter()
            served = evaluate(task, endpoint, limit=args.limit)
            rows["sai eval, endpoint"] = {**served.summary, "wall_s": time.perf_counter() - started}

            import lm_eval
            from lm_eval.tasks import TaskManager

            data = work / "course_mc.jsonl"
            shutil.copy(builtin_tasks()["course_mc"].with_suffix(".jsonl"), data)
            (work / "tasks").mkdir()
            (work / "tasks" / "sai_course_mc.yaml").write_text(TASK_YAML.format(data=data))
            tokenizer = work / "tokenizer"
            tokenizer.mkdir()
            shutil.copy(resolve(args.model) / "tokenizer.json", tokenizer / "tokenizer.json")
            (tokenizer / "tokenizer_config.json").write_text(
                json.dumps({"tokenizer_class": "PreTrainedTokenizerFast"})
            )
            model_args = (
                f"base_url={url}/completions,model={endpoint.name},tokenizer={tokenizer},"
                "tokenizer_backend=huggingface,num_concurrent=8,max_retries=1,max_length=2048"
            )
            started = time.perf_counter()
            results = lm_eval.simple_evaluate(
                model="local-completions",
                model_args=model_args,
                tasks=["sai_course_mc"],
                task_manager=TaskManager(include_path=str(work / "tasks"), include_defaults=False),
                limit=args.limit,
                num_fewshot=0,
                log_samples=True,
            )
            theirs = results["results"]["sai_course_mc"]
            rows["lm-eval local-completions (peer)"] = {
                "acc": theirs["acc,none"],
                "acc_stderr": theirs["acc_stderr,none"],
                "acc_norm": theirs["acc_norm,none"],
                "acc_norm_stderr": theirs["acc_norm_stderr,none"],
                "wall_s": time.perf_counter() - started,
            }
            samples = sorted(results["samples"]["sai_course_mc"], key=lambda s: s["doc_id"])
            gap = max(
                abs(ours - float(resp[0]))
                for record, sample in zip(served.records, samples, strict=True)
                for ours, resp in zip(record["logprobs"], sample["filtered_resps"], strict=True)
            )
            peer = rows["lm-eval local-completions (peer)"]["wall_s"]
            print(f"course_mc, {args.limit} items, 0-shot, {args.model}; {cpu_model()}")
            for name, row in rows.items():
                print(
                    f"{name:34s} acc {row['acc']:.3f} ± {row['acc_stderr']:.3f}  "
                    f"acc_norm {row['acc_norm']:.3f} ± {row['acc_norm_stderr']:.3f}  "
                    f"{row['wall_s']:.1f} s ({peer / row['wall_s']:.2f}x lm-eval's speed)"
                )
            print(f"largest per-choice log-likelihood difference, lm-eval vs sai eval: {gap:.2e}")
            for name, row in rows.items():
                key = name.split(" (")[0].replace(" ", "_").replace(",", "")
                run.summary(**{f"{key}/{k}": v for k, v in row.items()})
            run.summary(max_loglikelihood_difference=gap, machine=cpu_model())
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
