"""A small parallel training run: the program ``sai launch`` starts on every rank until
``sai train --parallel`` takes its place, and the loop the equivalence tests compare with
one process.

``python -m scalable_ai.parallel.run --spec fsdp=2 --steps 5 --out result.json`` under
``torchrun`` trains a tiny model on a fixed random token stream (seeded, the same on every
rank and in a single process), prints each step's loss from rank 0 and writes the loss
curve, tokens/s and the gathered parameters' checksum.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from scalable_ai.model.config import ModelConfig, preset
from scalable_ai.model.transformer import Transformer
from scalable_ai.parallel.checkpoint import gathered_parameters
from scalable_ai.parallel.mesh import build_mesh, init_process_group
from scalable_ai.parallel.parallelize import ParallelModel, ParallelOptions, token_loss
from scalable_ai.parallel.spec import ParallelSpec, check_spec
from scalable_ai.runs import open_run
from scalable_ai.settings import get_settings


@dataclass
class RunSettings:
    """What to train and for how long."""

    steps: int = 5
    batch_size: int = 4
    seq_len: int = 16
    lr: float = 1e-3
    seed: int = 0
    model: dict = field(default_factory=dict)  # ModelConfig fields over the "tiny" preset
    optimizer: str = "adamw"  # or muon / soap (train/optim; whole matrices gathered per step)


def make_optimizer(model: nn.Module, settings: RunSettings) -> torch.optim.Optimizer:
    """AdamW (torch's, per element: shards need nothing), or train/optim's Muon or SOAP,
    which gather each sharded matrix whole for their per-matrix math (train/optim/sharding)."""
    if settings.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=settings.lr, foreach=False)
    from scalable_ai.train.optim.factory import OptimizerConfig

    return OptimizerConfig(name=settings.optimizer, lr=settings.lr).build(model)


def micro_config(**overrides: object) -> ModelConfig:
    """The smallest model that still exercises every dimension (2 layers, 4 heads, 4 experts
    when MoE): test-sized, seconds per step with 4 processes on 2 cores."""
    base = dict(
        vocab_size=256,
        dim=32,
        n_layers=2,
        n_heads=4,
        n_kv_heads=2,
        ffn_hidden=64,
        max_seq_len=64,
        tie_embeddings=False,
        name="micro",
    )
    return ModelConfig.from_dict({**preset("tiny").to_dict(), **base, **overrides})


def batches(settings: RunSettings, vocab_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``steps`` global batches of (inputs, next-token labels), the same in every process."""
    generator = torch.Generator().manual_seed(settings.seed + 1)
    shape = (settings.steps, settings.batch_size, settings.seq_len + 1)
    stream = torch.randint(0, vocab_size, shape, generator=generator)
    return [(rows[:, :-1], rows[:, 1:]) for rows in stream]


def build_model(config: ModelConfig, seed: int, huggingface: bool = False) -> nn.Module:
    """Our Transformer, or the same architecture as a ``transformers`` ``LlamaForCausalLM``
    (the AutoModel lecture: parallelize a Hugging Face model without rewriting it)."""
    torch.manual_seed(seed)
    if not huggingface:
        return Transformer(config)
    from transformers import LlamaForCausalLM

    from scalable_ai.model.load.safetensors import hf_llama_config

    return LlamaForCausalLM(hf_llama_config(config, attn_implementation="sdpa"))


def train_single(config: ModelConfig, settings: RunSettings, huggingface: bool = False) -> dict:
    """The reference: one process, no parallelism, the same batches and optimizer."""
    model = build_model(config, settings.seed, huggingface)
    optimizer = make_optimizer(model, settings)
    losses = []
    for inputs, labels in batches(settings, config.vocab_size):
        optimizer.zero_grad()
        logits = model(input_ids=inputs).logits if huggingface else model(inputs)
        loss = token_loss(logits, labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"losses": losses, "params": gathered_parameters(model)}


def train_parallel(
    spec: ParallelSpec,
    config: ModelConfig,
    settings: RunSettings,
    options: ParallelOptions | None = None,
    huggingface: bool = False,
) -> dict:
    """The same run split by ``spec`` (the process group must be up); every rank returns its
    losses, its gathered parameters, and its step times."""
    options = options or ParallelOptions()
    check_spec(
        spec,
        config,
        world_size=dist.get_world_size(),
        batch_size=settings.batch_size,
        seq_len=settings.seq_len,
        microbatches=options.microbatches,
    )
    mesh = build_mesh(spec)
    parallel = ParallelModel(
        build_model(config, settings.seed, huggingface),
        spec,
        mesh,
        options,
        huggingface=huggingface,
    )
    optimizer = make_optimizer(parallel.model, settings)
    losses, seconds = [], []
    for step, (inputs, labels) in enumerate(batches(settings, config.vocab_size)):
        start = time.perf_counter()
        optimizer.zero_grad()
        losses.append(parallel.step(inputs, labels))
        optimizer.step()
        seconds.append(time.perf_counter() - start)
        if parallel.is_writer:
            print(f"step {step}: loss {losses[-1]:.4f}", flush=True)
    return {
        "losses": losses,
        "params": gathered_parameters(parallel.model),
        "seconds": seconds,
        "parallel": parallel,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default=get_settings().parallel)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=16)
    parser.add_argument("--experts", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    init_process_group()
    torch.set_num_threads(1)
    settings = RunSettings(steps=args.steps, batch_size=args.batch_size, seq_len=args.seq_len)
    config = micro_config(n_experts=args.experts)
    spec = ParallelSpec.parse(args.spec) if args.spec else ParallelSpec(dp=dist.get_world_size())
    writer = dist.get_rank() == 0
    record = {"spec": str(spec), "settings": asdict(settings), "model": config.to_dict()}
    # One run for the job: rank 0 records it; every rank's tokens count in its throughput.
    with open_run("parallel.run", config=record) if writer else contextlib.nullcontext() as run:
        result = train_parallel(spec, config, settings)
        tokens = settings.batch_size * settings.seq_len * settings.steps
        summary = {
            "spec": str(spec),
            "world_size": dist.get_world_size(),
            "losses": result["losses"],
            "tokens_per_second": tokens / sum(result["seconds"]),
            "settings": asdict(settings),
            "nodes": int(os.environ.get("GROUP_WORLD_SIZE", "1")),
        }
        if run is not None:
            for step, loss in enumerate(result["losses"]):
                run.log(step, loss=loss)
            run.summary(
                final_loss=result["losses"][-1],
                tokens_per_second=summary["tokens_per_second"],
                world_size=summary["world_size"],
                nodes=summary["nodes"],
            )
            summary["run"] = run.id
    if writer and args.out:
        args.out.write_text(json.dumps(summary, indent=2))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
