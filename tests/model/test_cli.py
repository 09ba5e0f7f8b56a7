"""``sai generate``, ``sai chat`` and ``sai model`` on the real model."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from scalable_ai.model.cli import chat_app, generate_app, model_app
from scalable_ai.model.generate import SamplingParams, complete

pytestmark = pytest.mark.slow


@pytest.fixture
def pulled(smollm2_data_dir, monkeypatch):
    monkeypatch.setenv("SAI_DATA_DIR", str(smollm2_data_dir))
    return smollm2_data_dir


def test_generate_prints_only_the_greedy_completion_of_the_raw_prompt(pulled, smollm2):
    model, tokenizer = smollm2
    result = CliRunner().invoke(generate_app, ["--model", "smollm2-135m", "--max-tokens", "12",
                                               "--temperature", "0", "The capital of France is"])
    assert result.exit_code == 0, result.output
    expected = complete(model, tokenizer, "The capital of France is",
                        SamplingParams(max_new_tokens=12, temperature=0))
    assert result.stdout == expected  # not a terminal: exactly the completion
    assert "Paris" in result.stdout


def test_chat_answers_with_the_chat_template_applied(pulled):
    result = CliRunner().invoke(chat_app, ["--message", "What is the capital of France?",
                                           "--temperature", "0", "--max-tokens", "24"])
    assert result.exit_code == 0, result.output
    assert "Paris" in result.stdout


def test_chat_reads_turns_from_stdin(pulled):
    result = CliRunner().invoke(chat_app, ["--temperature", "0", "--max-tokens", "16"],
                                input="What is the capital of France?\n/exit\n")
    assert result.exit_code == 0, result.output
    assert "Paris" in result.stdout


def test_model_info_prints_parameters_and_flops(pulled):
    result = CliRunner().invoke(model_app, ["info", "smollm2-135m"])
    assert result.exit_code == 0, result.output
    assert "params.total: 134,515,008" in result.stdout
    assert "flops/token forward" in result.stdout


def test_unknown_model_is_one_line_and_exit_code_2(pulled):
    result = CliRunner().invoke(generate_app, ["--model", "nope", "hello"])
    assert result.exit_code == 2
    assert "nope" in result.stderr
