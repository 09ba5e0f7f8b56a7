"""A tiny chat model that already half-solves an environment: the starting point RL needs.

GRPO learns only from groups whose rewards differ, so a model that never earns a reward
learns nothing (the reason DeepSeek-R1 and Tülu 3 run RL after SFT). For tests and
``bench/rl.py`` this module makes the smallest such model in seconds: a byte-level BPE
tokenizer with our chat template trained on the environment's own prompts, the course's
``Transformer`` at a tiny size, and a short supervised warm start on (prompt, reference
answer) pairs with the loss on the answer tokens only. Stopped early, it answers some tasks
right and some wrong: room for RL to improve.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from scalable_ai.model.config import ModelConfig
from scalable_ai.model.tokenizer import Tokenizer
from scalable_ai.model.transformer import Transformer
from scalable_ai.post.envs import Environment
from scalable_ai.post.rollout import continuation_ids, prompt_ids


def environment_tokenizer(
    env: Environment, samples: int = 2000, vocab_size: int = 300
) -> Tokenizer:
    """Byte-level BPE with chat tokens (``data.bpe``) trained on the environment's tasks."""
    from scalable_ai.data.bpe import train_tokenizer

    rng = random.Random(0)
    texts = []
    for _ in range(samples):
        task = env.sample_task(rng)
        texts.append(task.messages[-1]["content"] + " " + task.answer)
    with tempfile.TemporaryDirectory() as folder:
        train_tokenizer(texts, vocab_size, folder)
        return Tokenizer.load(Path(folder))


def tiny_model(vocab_size: int, seed: int = 0, **sizes: Any) -> Transformer:
    """The course's Transformer at a size that trains in seconds on a CPU core."""
    torch.manual_seed(seed)
    config = {
        "vocab_size": vocab_size,
        "dim": 64,
        "n_layers": 2,
        "n_heads": 4,
        "n_kv_heads": 2,
        "ffn_hidden": 192,
        "max_seq_len": 256,
        "name": "tiny-rl",
        **sizes,
    }
    return Transformer(ModelConfig(**config))


def answer_ids(tokenizer: Tokenizer, answer: str) -> list[int]:
    """The assistant's answer as the model should write it: the text, then the turn's end."""
    end = tokenizer.token_id("<|im_end|>")
    return continuation_ids(tokenizer, answer) + ([] if end is None else [end])


def warm_start(
    model: Transformer,
    tokenizer: Tokenizer,
    env: Environment,
    steps: int,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
) -> list[float]:
    """Supervised steps on the environment's tasks with their reference answers (loss on the
    answer tokens only); returns the losses. AdamW at a constant rate."""
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    for _ in range(steps):
        rows = []
        for _ in range(batch_size):
            task = env.sample_task(rng)
            prompt = prompt_ids(tokenizer, task.messages)
            rows.append((prompt, answer_ids(tokenizer, task.answer)))
        length = max(len(p) + len(a) for p, a in rows)
        ids = torch.zeros(batch_size, length, dtype=torch.long)
        targets = torch.full((batch_size, length), -100, dtype=torch.long)
        for i, (prompt, answer) in enumerate(rows):
            tokens = prompt + answer
            ids[i, : len(tokens)] = torch.tensor(tokens)
            targets[i, len(prompt) - 1 : len(tokens) - 1] = torch.tensor(answer)
        logits = model(ids)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses
