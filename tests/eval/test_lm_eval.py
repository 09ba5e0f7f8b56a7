"""The cross-check: lm-evaluation-harness's ``local-completions`` model, pointed at our
``sai serve``, scores the same multiple-choice task as ``sai eval`` and gets the same accuracy
within its standard error (here: the same log-likelihood for every choice of every item).

lm-eval never touches the network: the task is registered from a local YAML (``include_path``)
whose dataset is our JSONL through the ``json`` builder of ``datasets`` with the Hugging Face
offline switches set, and its tokenizer is the checkpoint's own ``tokenizer.json`` loaded by
``transformers`` from a folder.
"""

from __future__ import annotations

import json
import math
import shutil

import pytest

from scalable_ai.eval.harness import evaluate
from scalable_ai.eval.models import Endpoint
from scalable_ai.eval.tasks import builtin_tasks, resolve_task
from tests.eval.conftest import SERVER_GROUP

ITEMS = 20

LM_EVAL_TASK = """
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


@SERVER_GROUP
def test_lm_eval_local_completions_agrees_with_sai_eval_on_our_server(
    tiny_checkpoint, tiny_server, tmp_path, monkeypatch
):
    for switch in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(switch, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    lm_eval = pytest.importorskip("lm_eval")
    from lm_eval.tasks import TaskManager

    data = tmp_path / "course_mc.jsonl"
    shutil.copy(builtin_tasks()["course_mc"].with_suffix(".jsonl"), data)
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "sai_course_mc.yaml").write_text(LM_EVAL_TASK.format(data=data))
    tokenizer = tmp_path / "tokenizer"
    tokenizer.mkdir()
    shutil.copy(tiny_checkpoint / "tokenizer.json", tokenizer / "tokenizer.json")
    (tokenizer / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "PreTrainedTokenizerFast"})
    )
    model = Endpoint(tiny_server).name
    args = (
        f"base_url={tiny_server}/completions,model={model},tokenizer={tokenizer},"
        "tokenizer_backend=huggingface,num_concurrent=1,max_retries=1,max_length=1024"
    )
    results = lm_eval.simple_evaluate(
        model="local-completions",
        model_args=args,
        tasks=["sai_course_mc"],
        task_manager=TaskManager(include_path=str(tasks), include_defaults=False),
        limit=ITEMS,
        num_fewshot=0,
        log_samples=True,
    )
    theirs = results["results"]["sai_course_mc"]

    ours_task = resolve_task("course_mc")
    ours_task.num_fewshot = 0
    ours = evaluate(ours_task, Endpoint(tiny_server), limit=ITEMS)

    # the headline: the same accuracy, within lm-eval's own standard error
    for metric in ("acc", "acc_norm"):
        stderr = theirs[f"{metric}_stderr,none"]
        assert abs(ours.summary[metric] - theirs[f"{metric},none"]) <= max(stderr, 1e-9)
        assert ours.summary[f"{metric}_stderr"] == pytest.approx(stderr, abs=1e-9)
    # and underneath it, every choice's log-likelihood
    samples = sorted(results["samples"]["sai_course_mc"], key=lambda s: s["doc_id"])
    for record, sample in zip(ours.records, samples, strict=True):
        loglikelihoods = [float(r[0]) for r in sample["filtered_resps"]]
        assert record["logprobs"] == pytest.approx(loglikelihoods, abs=1e-3)
        assert not any(math.isnan(v) for v in loglikelihoods)
