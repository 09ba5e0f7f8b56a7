"""``sai model`` on the real model (``sai generate``/``sai chat``: tests/infer/test_real_model.py)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from scalable_ai.infer.terminal import generate_app
from scalable_ai.model.cli import model_app

pytestmark = pytest.mark.slow


@pytest.fixture
def pulled(smollm2_data_dir, monkeypatch):
    monkeypatch.setenv("SAI_DATA_DIR", str(smollm2_data_dir))
    return smollm2_data_dir


def test_model_info_prints_parameters_and_flops(pulled):
    result = CliRunner().invoke(model_app, ["info", "smollm2-135m"])
    assert result.exit_code == 0, result.output
    assert "params.total: 134,515,008" in result.stdout
    assert "flops/token forward" in result.stdout


def test_unknown_model_is_one_line_and_exit_code_2(pulled):
    result = CliRunner().invoke(generate_app, ["--model", "nope", "hello"])
    assert result.exit_code == 2
    assert "nope" in result.stderr
