"""Masked diffusion LM vs the autoregressive baseline, on the same data, parameters and FLOPs.

    python bench/diffusion.py [--steps 400] [--out bench/diffusion.png]

Both models are the course transformer at one size (the diffusion one has one more embedding
row, its ``[MASK]``), trained by the same trainer for the same steps on the same token
batches, so the same training FLOPs up to that row. The corpus is a generated English-like
grammar (``grammar_documents``): a tiny model learns it in minutes, and it lets sample quality
be measured exactly, as the fraction of generated sentences the grammar accepts, beside the
usual generative perplexity (samples scored by an independent model, SmolLM2-135M-Instruct,
as MDLM reports it; skipped when that model is absent). Reported:

- validation: the AR cross-entropy (perplexity) against the diffusion NELBO (a perplexity
  *bound*: a fair comparison favours the AR number, which is exact);
- generation: tokens/s and quality of the diffusion sampler at 4..48 denoising steps for a
  48-token answer, against our inference engine decoding the AR model token by token.

Each model's training is a run in the registry (``sai runs``); the table prints at the end,
the plot (loss curves; quality and speed against steps) goes to ``--out``.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from scalable_ai.data.bpe import train_tokenizer
from scalable_ai.data.tokenize import ShardConfig, write_shards
from scalable_ai.diffusion.generate import sample_texts
from scalable_ai.runs import open_run
from scalable_ai.train.config import load_train_config
from scalable_ai.train.trainer import Trainer

NOUNS = [
    "student",
    "teacher",
    "model",
    "group",
    "node",
    "reviewer",
    "scribe",
    "kernel",
    "server",
    "dataset",
    "optimizer",
]
ADJECTIVES = ["quiet", "careful", "late", "tired", "curious", "small", "patient", "eager"]
VERBS = [
    "trains",
    "reads",
    "serves",
    "grades",
    "writes",
    "checks",
    "measures",
    "explains",
    "compares",
    "loads",
]
PLACES = [
    "before the deadline",
    "on one GPU",
    "with a slack day",
    "in the lab",
    "after class",
    "during office hours",
    "at midnight",
]
SENTENCE = re.compile(
    rf"The ({'|'.join(ADJECTIVES)}) ({'|'.join(NOUNS)}) ({'|'.join(VERBS)}) "
    rf"(a|the|every) ({'|'.join(NOUNS)}) ({'|'.join(PLACES)})\."
)
GEN_LENGTH = 48  # prompt + answer stay inside the 64-token training windows
STEP_COUNTS = (4, 8, 16, 24, 48)


def sentence(rng: random.Random) -> str:
    return (
        f"The {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(VERBS)} "
        f"{rng.choice(['a', 'the', 'every'])} {rng.choice(NOUNS)} {rng.choice(PLACES)}."
    )


def grammar_documents(path: Path, documents: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with path.open("w") as handle:
        for index in range(documents):
            text = " ".join(sentence(rng) for _ in range(rng.randint(4, 10)))
            handle.write(json.dumps({"id": f"g-{index}", "text": text}) + "\n")
    return path


def grammatical_fraction(texts: list[str]) -> float:
    """Of the complete sentences (ending in '.'), the fraction the grammar accepts."""
    sentences = [s.strip() + "." for t in texts for s in t.split(".")[:-1] if s.strip()]
    if not sentences:
        return 0.0
    return sum(bool(SENTENCE.fullmatch(s)) for s in sentences) / len(sentences)


def build_data(root: Path) -> tuple[Path, Path]:
    corpus = grammar_documents(root / "grammar.jsonl", documents=3000)
    tokenizer = train_tokenizer(corpus, 512, root / "tokenizer")
    shards = root / "shards"
    write_shards(corpus, tokenizer, shards, ShardConfig(val_fraction=0.05), progress=False)
    return tokenizer, shards


def train(
    objective: str, shards: Path, steps: int, batch: int, seq_len: int
) -> tuple[Trainer, float, Path]:
    overrides = [
        f"data.shards={shards}",
        "model.vocab_size=512",
        "model.dim=128",
        "model.n_layers=4",
        "model.n_heads=4",
        "model.n_kv_heads=2",
        "model.ffn_hidden=384",
        "model.max_seq_len=256",
        f"data.seq_len={seq_len}",
        f"train.batch_size={batch}",
        f"train.steps={steps}",
        "train.warmup_steps=20",
        f"train.eval_every={max(steps // 8, 1)}",
        f"train.checkpoint_every={steps}",
        "train.eval_batches=8",
        "train.log_every=10",
        "train.threads=2",
        f"train.objective={objective}",
        "optim.lr=3e-3",
    ]
    config = load_train_config(preset=None, overrides=overrides)
    with open_run(f"bench-diffusion-{objective}", config=config, seed=0) as run:
        start = time.perf_counter()
        trainer = Trainer(config, run)
        result = trainer.fit()
        seconds = time.perf_counter() - start
        run.summary(train_seconds=seconds, objective=objective)
    return trainer, result.val_loss, run.path


def curve(run: Path, key: str) -> tuple[list[int], list[float]]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    pairs = [(row["step"], row[key]) for row in rows if key in row]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def ar_samples(trainer: Trainer, prompt: str, count: int) -> tuple[list[str], float]:
    from scalable_ai.infer.engine import EngineConfig, LLMEngine
    from scalable_ai.infer.sampling import SamplingParams

    model = trainer.model.eval()
    engine = LLMEngine(
        model,
        trainer.tokenizer,
        EngineConfig(kv_cache_megabytes=32, forward_path="model", use_cuda_graphs=False),
        eos_token_ids=[],
    )
    params = SamplingParams(
        max_tokens=GEN_LENGTH, temperature=1.0, seed=0, ignore_eos=True, n=count
    )
    start = time.perf_counter()
    (choices,) = engine.generate([prompt], params)
    seconds = time.perf_counter() - start
    texts = [trainer.tokenizer.decode(ids, skip_special_tokens=True) for ids in choices]
    return texts, count * GEN_LENGTH / seconds


def diffusion_samples(
    trainer: Trainer, prompt: str, count: int, steps: int
) -> tuple[list[str], float]:
    model = trainer.model.eval()
    start = time.perf_counter()
    texts = sample_texts(
        model,
        trainer.tokenizer,
        prompt,
        GEN_LENGTH,
        steps=steps,
        temperature=1.0,
        num_samples=count,
        seed=0,
    )
    return texts, count * GEN_LENGTH / (time.perf_counter() - start)


@functools.cache
def judge() -> tuple[Any, Any] | None:
    """SmolLM2-135M-Instruct, loaded once (None when it is not available)."""
    try:
        from scalable_ai.model.registry import load_pretrained

        return load_pretrained("smollm2-135m", dtype="float32", device="cpu")
    except Exception as error:
        print(f"(no judge: {error})", file=sys.stderr)
        return None


def judge_perplexity(texts: list[str]) -> float | None:
    """Generative perplexity of the samples under the judge (MDLM's sample-quality metric)."""
    loaded = judge()
    if loaded is None:
        return None
    model, tokenizer = loaded
    total, count = 0.0, 0
    with torch.no_grad():
        for text in texts:
            ids = tokenizer.encode(text)
            if len(ids) < 2:
                continue
            tensor = torch.tensor([ids])
            logits = model(tensor)[0, :-1].float()
            total += torch.nn.functional.cross_entropy(
                logits, tensor[0, 1:], reduction="sum"
            ).item()
            count += len(ids) - 1
    return math.exp(total / count) if count else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--out", type=Path, default=Path("bench/diffusion.png"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    prompt = "The"
    with tempfile.TemporaryDirectory() as scratch:
        _, shards = build_data(Path(scratch))
        sizes = (args.steps, args.batch, args.seq_len)
        ar, ar_val, ar_run = train("autoregressive", shards, *sizes)
        dm, dm_val, dm_run = train("diffusion", shards, *sizes)
        rows = []
        texts, speed = ar_samples(ar, prompt, args.samples)
        rows.append(
            (
                "autoregressive (engine)",
                GEN_LENGTH,
                speed,
                grammatical_fraction(texts),
                judge_perplexity(texts),
            )
        )
        for steps in STEP_COUNTS:
            texts, speed = diffusion_samples(dm, prompt, args.samples, steps)
            rows.append(
                (
                    f"diffusion, {steps} steps",
                    steps,
                    speed,
                    grammatical_fraction(texts),
                    judge_perplexity(texts),
                )
            )
        print(
            f"\nsame data, same size ({sum(p.numel() for p in ar.model.parameters()):,} "
            f"parameters), {args.steps} steps each"
        )
        print(
            f"validation: autoregressive CE {ar_val:.4f} (ppl {math.exp(ar_val):.2f}); "
            f"diffusion NELBO {dm_val:.4f} (ppl bound {math.exp(dm_val):.2f})"
        )
        print("| sampler | forward passes | tokens/s | grammatical | judge ppl |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, passes, speed, grammar, judged in rows:
            judged_text = f"{judged:.1f}" if judged else "n/a"
            print(f"| {name} | {passes} | {speed:,.0f} | {grammar:.1%} | {judged_text} |")
        plot(args.out, ar_run, dm_run, rows)
        print(f"runs: {ar_run} {dm_run}; plot: {args.out}")


def plot(out: Path, ar_run: Path, dm_run: Path, rows: list[tuple]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.2))
    for run, label in ((ar_run, "autoregressive CE"), (dm_run, "diffusion NELBO")):
        steps, values = curve(run, "val_loss")
        left.plot(steps, values, marker="o", label=label)
    left.set(xlabel="step", ylabel="validation nats/token", title="Same data, size, FLOPs")
    left.legend()
    diffusion = rows[1:]
    counts = [row[1] for row in diffusion]
    middle.plot(counts, [row[3] for row in diffusion], marker="o", label="diffusion")
    middle.axhline(rows[0][3], color="grey", linestyle="--", label="autoregressive")
    middle.set(
        xscale="log",
        xlabel="denoising steps (48 tokens)",
        ylabel="grammatical sentences",
        title="Quality vs steps",
    )
    middle.legend()
    right.plot(counts, [row[2] for row in diffusion], marker="o", label="diffusion")
    right.axhline(rows[0][2], color="grey", linestyle="--", label="autoregressive engine")
    right.set(
        xscale="log",
        yscale="log",
        xlabel="denoising steps",
        ylabel="tokens/s",
        title="Speed vs steps",
    )
    right.legend()
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
