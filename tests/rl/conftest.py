"""Fixtures for the RL tests: a tiny chat model (random weights) with a BPE tokenizer trained
on the arithmetic environment's prompts, saved as a checkpoint ``sai grpo`` loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from scalable_ai.model.load.safetensors import save_checkpoint
from scalable_ai.model.tokenizer import Tokenizer
from scalable_ai.post.envs import make_environment
from scalable_ai.post.grpo import GRPOConfig, variant_config
from scalable_ai.post.warm_start import environment_tokenizer, tiny_model


@pytest.fixture(scope="session")
def chat_tokenizer() -> Tokenizer:
    return environment_tokenizer(make_environment("arithmetic", max_operand=9), samples=300)


@pytest.fixture
def tiny_checkpoint(tmp_path: Path, chat_tokenizer: Tokenizer) -> Path:
    folder = tmp_path / "tiny-chat"
    model = tiny_model(chat_tokenizer.vocab_size, dim=32, n_layers=1, ffn_hidden=64)
    save_checkpoint(model, folder)
    chat_tokenizer.save(folder)
    return folder


def small_config(checkpoint: Path, variant: str = "grpo", **fields) -> GRPOConfig:
    """A config that runs a step in well under a second on one core."""
    config = variant_config(variant)
    config.model = str(checkpoint)
    config.env_options = {"max_operand": 9}
    config.steps, config.prompts_per_step, config.group_size = 2, 2, 4
    config.max_tokens, config.progress, config.eval_tasks = 4, False, 4
    config.kv_cache_megabytes = 8
    for name, value in fields.items():
        setattr(config, name, value)
    return config


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
