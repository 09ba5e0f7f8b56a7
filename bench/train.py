"""Pre-training speed: our trainer vs a plain PyTorch loop over transformers' Llama.

Same shape (the tiny preset: 4 layers, 192 wide, 6 heads sharing 2 key/value heads, SwiGLU
512, tied 4,096-token embeddings), same shards, same batches in the same order (both read
our ``SequenceLoader``), same validation batches, same thread count.

- **peer**: ``transformers.LlamaForCausalLM`` in float32 with ``torch.optim.AdamW`` (weight
  decay 0.1, betas 0.9/0.95), linear warmup then cosine through ``LambdaLR``, clipping at
  1.0: the loop a newcomer writes from the transformers and PyTorch docs.
- **ours, equal settings**: our trainer with the same optimizer, schedule and precision
  (float32, AdamW): tokens/s against the peer's (target >= 1.2x).
- **ours, best settings**: our trainer as the tiny preset runs it (bf16 autocast where the
  CPU has it, Muon for the hidden matrices): time until its validation loss reaches the
  peer's final validation loss (target >= 2x faster).

Two clocks: wall time and CPU time of this process. On a shared machine the wall clock
swings with other people's load; with one thread, CPU time does not count waiting to be
scheduled, so its ratios are the stable ones there. Evaluation time is excluded from both.

Run: ``python bench/train.py [--shards DIR] [--steps 150] [--batch-size 8]``. The shards
default to ``sai speedrun --preset tiny``'s (``$SAI_DATA_DIR/speedrun/tiny/shards``).
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from scalable_ai.config import parse_override_args
from scalable_ai.runs import open_run
from scalable_ai.settings import get_settings
from scalable_ai.train.config import TrainConfig, load_train_config
from scalable_ai.train.trainer import Trainer


@dataclass
class BenchConfig:
    shards: str = ""
    steps: int = 150
    batch_size: int = 8
    eval_every: int = 25
    eval_batches: int = 4
    threads: int = 1
    best: list[str] = field(default_factory=lambda: ["optim.name=muon", "train.precision=auto"])


@dataclass
class Curve:
    """Validation loss against training time (evaluations excluded)."""

    name: str
    points: list[tuple[int, float, float, float]] = field(
        default_factory=list
    )  # step, wall, cpu, loss
    tokens: int = 0
    wall: float = 0.0
    cpu: float = 0.0

    def time_to(self, target: float) -> tuple[float, float] | None:
        for _, wall, cpu, loss in self.points:
            if loss <= target:
                return wall, cpu
        return None


def config_for(bench: BenchConfig, extra: list[str]) -> TrainConfig:
    overrides = [
        f"data.shards={bench.shards}",
        f"train.steps={bench.steps}",
        f"train.batch_size={bench.batch_size}",
        f"train.eval_batches={bench.eval_batches}",
        f"train.threads={bench.threads}",
        "train.progress=false",
        *extra,
    ]
    return load_train_config(preset="tiny", overrides=overrides)


def run_ours(name: str, config: TrainConfig, eval_every: int) -> Curve:
    trainer = Trainer(config)
    curve = Curve(name)
    wall = cpu = 0.0
    while trainer.step < config.train.steps:
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        loss, _, _ = trainer.train_step()
        float(loss)  # wait for the step
        wall += time.perf_counter() - start_wall
        cpu += time.process_time() - start_cpu
        if trainer.step % eval_every == 0 or trainer.step == config.train.steps:
            curve.points.append((trainer.step, wall, cpu, trainer.evaluate()))
    curve.tokens, curve.wall, curve.cpu = trainer.tokens_seen, wall, cpu
    return curve


def run_peer(config: TrainConfig, eval_every: int) -> Curve:
    """A plain loop over transformers' Llama, fed the very batches our trainer reads."""
    from transformers import LlamaForCausalLM

    from scalable_ai.model.load.safetensors import hf_llama_config
    from scalable_ai.train.schedule import lr_factor

    model_config, loop = config.model, config.train
    torch.manual_seed(loop.seed)
    model = LlamaForCausalLM(
        hf_llama_config(
            model_config, initializer_range=model_config.init_std, attn_implementation="sdpa"
        )
    )
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=config.optim.lr,
        betas=(0.9, 0.95),
        weight_decay=config.optim.weight_decay,
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: lr_factor(
            step,
            loop.steps,
            loop.warmup_steps,
            loop.schedule,
            loop.min_lr_ratio,
            loop.decay_fraction,
        ),
    )
    data = Trainer(config)  # only for its loaders: the same batches in the same order
    curve = Curve("transformers Llama + torch AdamW (f32)")
    wall = cpu = 0.0
    for step in range(1, loop.steps + 1):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        inputs, targets = data.loader.next_batch()
        logits = model(input_ids=inputs).logits
        loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), loop.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        schedule.step()
        float(loss.detach())
        wall += time.perf_counter() - start_wall
        cpu += time.process_time() - start_cpu
        if step % eval_every == 0 or step == loop.steps:
            with torch.no_grad():
                losses = [
                    F.cross_entropy(model(input_ids=i).logits.float().flatten(0, 1), t.flatten())
                    for i, t in data.val_batches
                ]
            curve.points.append((step, wall, cpu, float(torch.stack(losses).mean())))
    curve.tokens = loop.steps * loop.batch_size * config.data.seq_len
    curve.wall, curve.cpu = wall, cpu
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shards", default="")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--best",
        nargs="*",
        default=None,
        help="Overrides for our best settings (default: Muon, bf16 autocast).",
    )
    args = parser.parse_args()
    bench = BenchConfig(
        shards=args.shards or str(get_settings().data_dir / "speedrun" / "tiny" / "shards"),
        steps=args.steps,
        batch_size=args.batch_size,
        eval_every=args.eval_every,
        threads=args.threads,
    )
    if args.best is not None:
        bench.best = parse_override_args(args.best)
    torch.set_num_threads(bench.threads)
    equal = ["optim.name=adamw", "train.precision=float32"]
    with open_run("bench.train", config=bench) as run:
        peer = run_peer(config_for(bench, equal), bench.eval_every)
        ours_equal = run_ours(
            "ours, equal settings (f32, AdamW)", config_for(bench, equal), bench.eval_every
        )
        ours_best = run_ours(
            f"ours, best settings ({', '.join(bench.best)})",
            config_for(bench, bench.best),
            bench.eval_every,
        )
        target = peer.points[-1][3]
        rows = report(target, peer, ours_equal, ours_best)
        run.summary(**rows)
        for key, curve in (("peer", peer), ("equal", ours_equal), ("best", ours_best)):
            for step, wall, cpu, loss in curve.points:
                run.log(
                    step, **{f"{key}_val_loss": loss, f"{key}_wall_s": wall, f"{key}_cpu_s": cpu}
                )
    print(f"run {run.id}")


def report(target: float, peer: Curve, equal: Curve, best: Curve) -> dict[str, float]:
    def rate(curve: Curve) -> tuple[float, float]:
        return curve.tokens / curve.wall, curve.tokens / curve.cpu

    print(f"target validation loss (the peer's final): {target:.4f}")
    print(
        f"{'':44} {'tok/s wall':>11} {'tok/s cpu':>10} {'final val':>9} "
        f"{'to target wall':>15} {'cpu':>8}"
    )
    rows: dict[str, float] = {"target_val_loss": target}
    for key, curve in (("peer", peer), ("equal", equal), ("best", best)):
        wall_rate, cpu_rate = rate(curve)
        reached = curve.time_to(target)
        shown = f"{reached[0]:14.1f}s {reached[1]:7.1f}s" if reached else f"{'not reached':>24}"
        print(
            f"{curve.name[:44]:44} {wall_rate:11.0f} {cpu_rate:10.0f} "
            f"{curve.points[-1][3]:9.4f} {shown}"
        )
        rows.update(
            {
                f"{key}_tokens_per_s_wall": wall_rate,
                f"{key}_tokens_per_s_cpu": cpu_rate,
                f"{key}_final_val_loss": curve.points[-1][3],
            }
        )
        if reached:
            rows[f"{key}_seconds_to_target_wall"], rows[f"{key}_seconds_to_target_cpu"] = reached
    for clock, index in (("wall", 0), ("cpu", 1)):
        ratio = rate(equal)[index] / rate(peer)[index]
        print(f"tokens/s at equal settings, {clock}: {ratio:.2f}x the peer (target 1.2x)")
        rows[f"tokens_per_s_ratio_{clock}"] = ratio
        peer_time, best_time = peer.time_to(target), best.time_to(target)
        if peer_time and best_time:
            speedup = peer_time[index] / best_time[index]
            print(f"time to the peer's loss, {clock}: {speedup:.2f}x faster (target 2x)")
            rows[f"time_to_target_speedup_{clock}"] = speedup
        else:
            rows[f"time_to_target_speedup_{clock}"] = math.nan
    return rows


if __name__ == "__main__":
    main()
