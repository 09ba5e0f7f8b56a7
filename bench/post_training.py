"""Post-training evidence: SFT, the reward model and DPO on a tiny model, LoRA SFT on SmolLM2.

Part 1, a tiny model (random init, our BPE tokenizer trained on the task's text):

- **SFT** on an arithmetic chat set (``user: "a+b="``, ``assistant: "c"``, a and b in
  0..99): greedy exact-match on 200 held-out prompts through our inference engine, before
  (random weights: ~0) and after ``sai sft``'s loop.
- **Reward model** (``sai rm``) on pairs (the right sum chosen, another number in 0..198
  rejected), its body the SFT model: held-out pairwise accuracy against chance (0.5).
- **DPO** from the SFT model on style pairs (``"The sum is 46."`` chosen over the SFT model's
  own bare ``"46"``): held-out preference accuracy (the policy gives the chosen answer the
  higher average log-probability) before and after, the implicit-reward accuracy, and the
  share of held-out greedy answers in the new style with the right sum.

Part 2, SmolLM2-135M-Instruct: a short LoRA SFT run on 2 CPU threads on the designer-made
arithmetic set (``examples/design/arithmetic.jsonl``, made by ``sai design``; its last 50 rows
held out), the merged model served by ``sai serve PATH`` (a subprocess) and asked a held-out
question over the OpenAI API; exact-match of the base and the merged model on the 50 rows.

Every training run is a run in the registry (loss curves as PNGs in its artifacts); this
script's own run (``bench.post_training``) holds the summary. Run:
``python bench/post_training.py [--tiny-only] [--smollm-steps 30]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import torch

from scalable_ai.data.bpe import train_tokenizer
from scalable_ai.model.config import ModelConfig
from scalable_ai.model.load.safetensors import save_checkpoint
from scalable_ai.model.registry import load_pretrained
from scalable_ai.model.tokenizer import Tokenizer
from scalable_ai.model.transformer import Transformer
from scalable_ai.post.dpo import DPOConfig, DPOSection, run_dpo
from scalable_ai.post.loop import LoopSection
from scalable_ai.post.lora import LoraSection
from scalable_ai.post.preferences import PairData
from scalable_ai.post.reward import RMConfig, run_rm
from scalable_ai.post.sft import SFTConfig, SFTData, run_sft
from scalable_ai.runs import open_run
from scalable_ai.train.optim import OptimizerConfig


def sums(count: int, seed: int, limit: int = 99) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    return [(rng.randint(0, limit), rng.randint(0, limit)) for _ in range(count)]


def chat_record(a: int, b: int) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": f"{a}+{b}="},
            {"role": "assistant", "content": str(a + b)},
        ]
    }


def correctness_pair(a: int, b: int, rng: random.Random, near_miss: bool) -> dict[str, Any]:
    """The right sum chosen; rejected a near miss (±1, ±10) or any other number in 0..198."""
    if near_miss:
        wrong = abs(a + b + rng.choice([-10, -1, 1, 10]))
    else:
        wrong = rng.choice([n for n in range(199) if n != a + b])
    return {"prompt": f"{a}+{b}=", "chosen": str(a + b), "rejected": str(wrong)}


def style_pair(a: int, b: int) -> dict[str, Any]:
    """A new answer style preferred over the SFT model's own bare answer."""
    return {"prompt": f"{a}+{b}=", "chosen": f"The sum is {a + b}.", "rejected": str(a + b)}


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def exact_match(
    model_path: str | Path, questions: list[tuple[str, str]], threads: int, max_tokens: int = 8
) -> float:
    """Greedy answers through our engine to (user message, expected answer) pairs; the share
    of answers equal to the expected text exactly (after stripping whitespace)."""
    from scalable_ai.infer.engine import EngineConfig, LLMEngine
    from scalable_ai.infer.sampling import SamplingParams

    torch.set_num_threads(threads)
    model, tokenizer = load_pretrained(model_path, dtype=torch.float32)
    config = EngineConfig(kv_cache_megabytes=64, forward_path="model", use_cuda_graphs=False)
    engine = LLMEngine(model, tokenizer, config, eos_token_ids=sorted(tokenizer.stop_ids()))
    prompts = [
        tokenizer.apply_chat_template([{"role": "user", "content": question}])
        for question, _ in questions
    ]
    outputs = engine.generate(prompts, SamplingParams(max_tokens=max_tokens, temperature=0))
    answers = [tokenizer.decode(out[0], skip_special_tokens=True).strip() for out in outputs]
    hits = [got == expected for got, (_, expected) in zip(answers, questions, strict=True)]
    return sum(hits) / len(questions)


def sum_questions(problems: list[tuple[int, int]], answer: str = "{}") -> list[tuple[str, str]]:
    return [(f"{a}+{b}=", answer.format(a + b)) for a, b in problems]


def tiny_base(folder: Path) -> Path:
    texts = ["".join(f"{a}+{b}={a + b}\n" for a, b in sums(500, seed)) for seed in range(4)]
    train_tokenizer(texts, vocab_size=300, out_dir=folder)
    tokenizer = Tokenizer.load(folder)
    torch.manual_seed(0)
    config = ModelConfig(
        vocab_size=tokenizer.vocab_size,
        dim=128,
        n_layers=4,
        n_heads=4,
        n_kv_heads=2,
        ffn_hidden=384,
        max_seq_len=256,
        init_std=0.02,
        tie_embeddings=True,
        name="tiny-arithmetic",
    )
    save_checkpoint(Transformer(config), folder)
    return folder


def part_tiny(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    base = tiny_base(work / "tiny-base")
    train_problems = sums(4000, 1)
    seen = set(train_problems)
    held_out = [p for p in sums(600, 2) if p not in seen][:200]
    chats = write_jsonl(work / "chats.jsonl", [chat_record(a, b) for a, b in train_problems])
    rng = random.Random(3)
    rm_pairs = write_jsonl(
        work / "rm_pairs.jsonl",
        [correctness_pair(a, b, rng, near_miss=False) for a, b in sums(3000, 4)],
    )
    rm_val = write_jsonl(
        work / "rm_val.jsonl", [correctness_pair(a, b, rng, near_miss=False) for a, b in held_out]
    )
    style_pairs = write_jsonl(
        work / "style_pairs.jsonl", [style_pair(a, b) for a, b in sums(2000, 5)]
    )
    style_val = write_jsonl(work / "style_val.jsonl", [style_pair(a, b) for a, b in held_out])
    loop = dict(precision="float32", threads=args.threads, progress=True, seed=0)
    results: dict[str, Any] = {"held_out_prompts": len(held_out)}
    if args.sft_model:  # reuse a model this script fine-tuned before (its run has the numbers)
        sft_model = Path(args.sft_model)
    else:
        results["exact_match_random_init"] = exact_match(
            base, sum_questions(held_out), args.threads
        )
        sft = SFTConfig(
            model=str(base),
            data=SFTData(train=str(chats), val_fraction=0.05, seq_len=128),
            optim=OptimizerConfig(lr=3e-3, weight_decay=0.0),
            train=LoopSection(
                steps=args.sft_steps, batch_size=16, warmup_steps=20, eval_every=50, **loop
            ),
        )
        started = time.perf_counter()
        with open_run("sft", config=sft, seed=0) as run:
            sft_model = run_sft(sft, run).model_dir
        results["sft_run"] = run.id
        results["sft_seconds"] = round(time.perf_counter() - started, 1)
        results["exact_match_after_sft"] = exact_match(
            sft_model, sum_questions(held_out), args.threads
        )

    rm = RMConfig(
        model=str(sft_model),
        data=PairData(train=str(rm_pairs), val=str(rm_val), max_tokens=64),
        optim=OptimizerConfig(lr=3e-4, weight_decay=0.0),
        train=LoopSection(
            steps=args.rm_steps, batch_size=16, warmup_steps=10, eval_every=25, **loop
        ),
    )
    with open_run("rm", config=rm, seed=0) as run:
        rm_summary = run_rm(rm, run)
    results["rm_run"] = run.id
    results["rm_val_accuracy"] = rm_summary["val_accuracy"]

    dpo = DPOConfig(
        model=str(sft_model),
        data=PairData(train=str(style_pairs), val=str(style_val), max_tokens=64),
        dpo=DPOSection(loss="dpo", beta=0.1),
        optim=OptimizerConfig(lr=3e-4, weight_decay=0.0),
        train=LoopSection(
            steps=args.dpo_steps, batch_size=16, warmup_steps=10, eval_every=25, **loop
        ),
    )
    with open_run("dpo", config=dpo, seed=0) as run:
        dpo_summary = run_dpo(dpo, run)
        metrics = [json.loads(x) for x in (run.path / "metrics.jsonl").read_text().splitlines()]
    evals = [m for m in metrics if "val_policy_accuracy" in m]
    results["dpo_run"] = run.id
    results["dpo_policy_accuracy_before"] = evals[0]["val_policy_accuracy"]
    results["dpo_policy_accuracy_after"] = evals[-1]["val_policy_accuracy"]
    results["dpo_reward_accuracy_after"] = evals[-1]["val_accuracy"]
    results["dpo_margin_after"] = evals[-1]["val_margin"]
    results["new_style_answers_after_sft"] = exact_match(
        sft_model, sum_questions(held_out, "The sum is {}."), args.threads, 12
    )
    results["new_style_answers_after_dpo"] = exact_match(
        dpo_summary["model"], sum_questions(held_out, "The sum is {}."), args.threads, 12
    )
    return results


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_and_ask(model_dir: Path, question: str) -> tuple[str, float]:
    """Start ``sai serve PATH`` as its own process, ask one chat question, stop it."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "scalable_ai.cli", "serve", str(model_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = time.perf_counter()
    try:
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                with urllib.request.urlopen(f"{url}/v1/models", timeout=2) as answer:
                    served = json.load(answer)["data"][0]["id"]
                break
            except OSError:
                if server.poll() is not None or time.perf_counter() - started > 240:
                    raise RuntimeError(f"sai serve did not start: {server.stderr.read()}") from None
                time.sleep(1)
        ready = time.perf_counter() - started
        body = json.dumps(
            {
                "model": served,
                "messages": [{"role": "user", "content": question}],
                "max_tokens": 12,
                "temperature": 0,
            }
        ).encode()
        request = urllib.request.Request(
            f"{url}/v1/chat/completions", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=120) as answer:
            reply = json.load(answer)["choices"][0]["message"]["content"]
        return reply, ready
    finally:
        server.terminate()
        server.wait(timeout=30)


def part_smollm(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """LoRA SFT of SmolLM2 on the designer-made arithmetic set (examples/design), its last
    rows held out; exact-match of base and merged model on them; the merged model served."""
    rows = [json.loads(line) for line in args.smollm_data.read_text().splitlines() if line]
    train, held = rows[: -args.smollm_held_out], rows[-args.smollm_held_out :]
    train_file = write_jsonl(work / "smol_train.jsonl", train)
    val_file = write_jsonl(work / "smol_val.jsonl", held)
    questions = [(r["messages"][0]["content"], r["messages"][1]["content"]) for r in held]
    sft = SFTConfig(
        model="smollm2-135m",
        data=SFTData(train=str(train_file), val=str(val_file), seq_len=96),
        lora=LoraSection(rank=8, alpha=16, dropout=0.05),
        optim=OptimizerConfig(lr=1e-3, weight_decay=0.0),
        train=LoopSection(
            steps=args.smollm_steps,
            batch_size=4,
            warmup_steps=3,
            eval_every=args.smollm_steps,
            log_every=1,
            threads=2,
            precision="auto",
            progress=True,
        ),
    )
    results: dict[str, Any] = {"smollm_held_out": len(held)}
    results["smollm_exact_match_base"] = exact_match("smollm2-135m", questions, 2)
    started = time.perf_counter()
    with open_run("sft", config=sft, seed=0) as run:
        summary = run_sft(sft, run)
    results["smollm_sft_run"] = run.id
    results["smollm_sft_seconds"] = round(time.perf_counter() - started, 1)
    results["smollm_trainable_parameters"] = summary.summary["trainable_parameters"]
    results["smollm_parameters"] = summary.summary["parameters"]
    results["smollm_val_loss_after"] = summary.summary.get("val_loss")
    results["smollm_exact_match_merged"] = exact_match(summary.model_dir, questions, 2)
    question = questions[0][0]
    reply, ready = serve_and_ask(summary.model_dir, question)
    results["smollm_served_question"] = question
    results["smollm_served_reply"] = reply
    results["smollm_expected_reply"] = questions[0][1]
    results["smollm_serve_ready_seconds"] = round(ready, 1)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sft-steps", type=int, default=400)
    parser.add_argument("--rm-steps", type=int, default=200)
    parser.add_argument("--dpo-steps", type=int, default=150)
    parser.add_argument("--smollm-steps", type=int, default=30)
    parser.add_argument("--smollm-held-out", type=int, default=50)
    parser.add_argument("--sft-model", default="", help="Skip SFT: a tiny model it made.")
    parser.add_argument(
        "--smollm-data",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "examples/design/arithmetic.jsonl",
    )
    parser.add_argument("--tiny-only", action="store_true")
    parser.add_argument("--smollm-only", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    with (
        tempfile.TemporaryDirectory() as temporary,
        open_run("bench.post_training", config=vars(args), seed=0) as run,
    ):
        work = Path(temporary)
        results: dict[str, Any] = {"cpu": _cpu_name()}
        if not args.smollm_only:
            results.update(part_tiny(work, args))
            run.summary(**results)
        if not args.tiny_only:
            results.update(part_smollm(work, args))
        run.summary(**results)
    print(json.dumps({"run": run.id, **results}, indent=2))


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
