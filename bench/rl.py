"""RL post-training evidence: GRPO and its variants on the arithmetic environment, and what
the step's time goes to, with our engine against ``transformers.generate`` in the same run.

1. **A starting model**: a tiny chat model (``post/warm_start.py``: BPE on the environment's
   prompts, the course's Transformer at 64 wide, 2 layers) trained with a short supervised
   warm start so it answers some problems right (GRPO learns nothing from all-zero groups).
2. **The variants** (``post/grpo.py``'s ``VARIANTS``: grpo, dapo, dr_grpo, rloo, async), each a
   ``sai grpo`` run of its own from the same start, seed and settings; mean sampled reward
   against steps and wall-clock seconds in ONE plot (``variants.png``), greedy reward on 128
   fixed held-out problems before and after.
3. **Generation vs the peer**: the same rollouts (the same prompts, ``group_size`` samples
   each, temperature 1, the same token budget and stop token) through our engine and through
   ``transformers.generate`` (a ``LlamaForCausalLM`` holding the same weights, one static
   batch with left padding): generated tokens per second and the ratio.
4. **SmolLM2-135M-Instruct** (``--smollm2-steps``, 0 skips): a few GRPO steps on the ``math``
   environment, for the generation share of a real model's step.

Run: ``python bench/rl.py [--steps 80] [--variants grpo,dapo,...]`` (what RESULTS.md records); the bench run's folder
holds the plot and each variant's run id.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path
from typing import Any

import torch

from _peers import hf_llama
from scalable_ai.model.load.safetensors import save_checkpoint
from scalable_ai.post.envs import make_environment
from scalable_ai.post.grpo import GRPOConfig, GRPOTrainer, variant_config
from scalable_ai.post.rl_report import plot_reward_curves
from scalable_ai.runs import load_run, open_run, read_metrics


def warm_model(run: Any, args: argparse.Namespace) -> Path:
    from scalable_ai.post.warm_start import environment_tokenizer, tiny_model, warm_start

    env = make_environment("arithmetic", max_operand=args.max_operand)
    tokenizer = environment_tokenizer(env)
    model = tiny_model(tokenizer.vocab_size, seed=args.seed)
    start = time.perf_counter()
    losses = warm_start(model, tokenizer, env, args.warm_steps, seed=args.seed)
    folder = run.artifact("warm-model")
    save_checkpoint(model, folder)
    tokenizer.save(folder)
    run.summary(
        warm_steps=args.warm_steps, warm_seconds=time.perf_counter() - start, warm_loss=losses[-1]
    )
    return folder


def variant_run(
    name: str, model: Path, args: argparse.Namespace
) -> tuple[str, list[dict[str, Any]]]:
    config = variant_config(name)
    config.model = str(model)
    config.env_options = {"max_operand": args.max_operand}
    config.steps, config.prompts_per_step, config.group_size = args.steps, args.prompts, args.group
    config.max_tokens, config.eval_every, config.eval_tasks = 8, args.eval_every, 128
    config.optim.lr, config.seed, config.progress = args.lr, args.seed, False
    config.forward_path = args.forward_path
    config.updates_per_batch = args.updates_per_batch
    with open_run("grpo", config=config, seed=config.seed) as run:
        result = GRPOTrainer(config, run).fit()
    rows = read_metrics(load_run(run.path))
    print(
        f"{name:8s} sampled reward {result.first_reward:.3f} -> {result.last_reward:.3f}  "
        f"greedy {_eval(rows, first=True):.3f} -> {_eval(rows, first=False):.3f}  "
        f"{rows[-1]['wall_seconds']:.0f} s  run {run.id}",
        flush=True,
    )
    return run.id, rows


def _eval(rows: list[dict[str, Any]], first: bool) -> float:
    values = [r["eval_reward"] for r in rows if "eval_reward" in r]
    return values[0] if first else values[-1]


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    values = [r[key] for r in rows if key in r]
    return sum(values) / len(values)


def generation_race(trainer: GRPOTrainer, prompts: int, seed: int, label: str) -> dict[str, float]:
    """The same rollouts through our engine and through ``transformers.generate`` (same
    weights and dtype); best of two tries each, alternating (the machine is shared)."""
    from scalable_ai.post.rollout import prompt_ids

    rng = random.Random(seed + 1)
    tasks = [trainer.env.sample_task(rng) for _ in range(prompts)]
    hf = hf_llama(trainer.model).to(next(trainer.engine.model.parameters()).dtype)
    stop = trainer.engine.eos_token_ids
    pad = stop[0]
    encoded = [prompt_ids(trainer.tokenizer, t.messages) for t in tasks]
    width = max(map(len, encoded))
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in encoded])
    attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in encoded])
    config = trainer.config
    ours = peer = 0.0
    ours_tokens = peer_tokens = 0
    trainer.worker.rollout(tasks[:1], group_size=2)  # warm both paths once
    with torch.no_grad():
        hf.generate(
            ids[:1],
            attention_mask=attention[:1],
            max_new_tokens=2,
            do_sample=True,
            pad_token_id=pad,
        )
    for _ in range(2):
        rollouts, stats = trainer.worker.rollout(tasks)
        ours = max(ours, stats.sampled_tokens / stats.seconds)
        ours_tokens = stats.sampled_tokens
        with torch.no_grad():
            start = time.perf_counter()
            out = hf.generate(
                ids,
                attention_mask=attention,
                max_new_tokens=config.max_tokens,
                do_sample=True,
                temperature=1.0,
                top_k=0,
                top_p=1.0,
                num_return_sequences=config.group_size,
                eos_token_id=stop,
                pad_token_id=pad,
            )
            seconds = time.perf_counter() - start
        peer_tokens = sum(_generated(row, stop) for row in out[:, width:].tolist())
        peer = max(peer, peer_tokens / seconds)
    print(
        f"{label} generation, {len(rollouts)} rollouts: ours {ours:,.0f} tok/s ({ours_tokens} tokens), "
        f"transformers.generate {peer:,.0f} tok/s ({peer_tokens} tokens): {ours / peer:.2f}x",
        flush=True,
    )
    return {
        f"{label}_engine_tokens_per_s": ours,
        f"{label}_transformers_tokens_per_s": peer,
        f"{label}_engine_vs_transformers": ours / peer,
    }


def _generated(row: list[int], stop: list[int]) -> int:
    """Tokens a row generated, up to and including its first stop token."""
    for count, token in enumerate(row, start=1):
        if token in stop:
            return count
    return len(row)


def smollm2_share(args: argparse.Namespace) -> dict[str, float]:
    config = GRPOConfig(
        env="math",
        steps=args.smollm2_steps,
        prompts_per_step=2,
        group_size=4,
        max_tokens=32,
        progress=False,
        engine_dtype="bfloat16",
        micro_batch_size=4,
        save=False,
    )
    with open_run("grpo", config=config, seed=0) as run:
        trainer = GRPOTrainer(config, run)
        race = generation_race(trainer, 2, args.seed, "smollm2")
        trainer.fit()
    rows = [r for r in read_metrics(load_run(run.path)) if "generation_share" in r]
    share = _mean(rows, "generation_share")
    print(
        f"SmolLM2-135M GRPO on math, {args.smollm2_steps} steps: generation {share:.0%} of the step, "
        f"{_mean(rows, 'generation_tokens_per_s'):,.0f} tok/s, step {_mean(rows, 'step_seconds'):.1f} s; run {run.id}",
        flush=True,
    )
    return {
        **race,
        "smollm2_generation_share": share,
        "smollm2_step_seconds": _mean(rows, "step_seconds"),
        "smollm2_generation_tokens_per_s": _mean(rows, "generation_tokens_per_s"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--max-operand", type=int, default=9)
    parser.add_argument("--warm-steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--variants", default="grpo,dapo,dr_grpo,rloo,async")
    parser.add_argument("--forward-path", default="auto")
    # > 1: PPO-style epochs over each batch, the only way the clip (and clip-higher) acts
    parser.add_argument("--updates-per-batch", type=int, default=1)
    parser.add_argument("--smollm2-steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    with open_run("bench.rl", config=vars(args), seed=args.seed) as run:
        model = warm_model(run, args)
        curves: dict[str, list[dict[str, Any]]] = {}
        summary: dict[str, Any] = {}
        for name in args.variants.split(","):
            run_id, rows = variant_run(name, model, args)
            curves[name] = rows
            summary[f"{name}_run"] = run_id
            tail = [r["reward_mean"] for r in rows if "reward_mean" in r]
            summary[f"{name}_reward_first10"] = sum(tail[:10]) / len(tail[:10])
            summary[f"{name}_reward_last10"] = sum(tail[-10:]) / len(tail[-10:])
            summary[f"{name}_greedy_before"] = _eval(rows, first=True)
            summary[f"{name}_greedy_after"] = _eval(rows, first=False)
            summary[f"{name}_seconds"] = rows[-1]["wall_seconds"]
            summary[f"{name}_generation_share"] = _mean(rows, "generation_share")
        title = (
            f"GRPO variants, arithmetic (operands 0-{args.max_operand}), "
            f"{args.prompts}x{args.group} samples/step, {args.updates_per_batch} update(s)/batch"
        )
        plot_reward_curves(curves, run.artifact("variants.png"), title=title, window=5)
        plot_reward_curves(curves, run.artifact("variants-eval.png"), "eval_reward", title)
        config = variant_config("grpo")
        config.model, config.max_tokens, config.progress = str(model), 8, False
        config.prompts_per_step, config.group_size = args.prompts, args.group
        config.env_options = {"max_operand": args.max_operand}
        summary.update(generation_race(GRPOTrainer(config), args.prompts, args.seed, "tiny"))
        if args.smollm2_steps:
            summary.update(smollm2_share(args))
        run.summary(**summary)
        print(f"plot: {run.artifact('variants.png')}")


if __name__ == "__main__":
    main()
