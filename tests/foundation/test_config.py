"""Typed configs: defaults, TOML, dotted overrides, and errors that name the field."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from scalable_ai.config import dump_toml, load_config, parse_override_args
from scalable_ai.errors import UserError


@dataclass
class OptimConfig:
    lr: float = 3e-4
    betas: tuple[float, ...] = (0.9, 0.95)
    name: Literal["adamw", "muon", "soap"] = "adamw"


@dataclass
class TrainConfig:
    steps: int = 100
    compile: bool = False
    out: Path | None = None
    optim: OptimConfig = field(default_factory=OptimConfig)

    def __post_init__(self) -> None:
        if self.steps <= 0:
            raise UserError("must be positive", field="steps")


def test_defaults_are_the_config_without_a_file():
    assert load_config(TrainConfig) == TrainConfig()


def test_toml_file_overrides_defaults(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("steps = 7\n[optim]\nlr = 0.01\nname = 'muon'\n")
    config = load_config(TrainConfig, path)
    assert (config.steps, config.optim.lr, config.optim.name) == (7, 0.01, "muon")


def test_command_line_overrides_win_over_the_file(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("steps = 7\n")
    config = load_config(TrainConfig, path, ["steps=9", "optim.betas=0.8,0.9", "compile=yes"])
    assert config.steps == 9 and config.optim.betas == (0.8, 0.9) and config.compile is True


def test_three_override_spellings_are_equivalent():
    assert parse_override_args(
        ["--optim.lr", "1e-3", "--steps=5", "--set", "out=x", "--compile"]
    ) == ["optim.lr=1e-3", "steps=5", "out=x", "compile=true"]


@pytest.mark.parametrize(
    ("override", "field", "reason"),
    [
        ("optim.lr=fast", "optim.lr", "expected a float"),
        ("steps=2.5", "steps", "expected an integer"),
        ("optim.name=sgd", "optim.name", "must be one of adamw, muon, soap"),
        ("optim.momentum=1", "optim.momentum", "unknown field"),
        ("compile=maybe", "compile", "expected true or false"),
        ("steps=0", "steps", "must be positive"),
    ],
)
def test_bad_values_name_the_field_and_the_reason(override, field, reason):
    with pytest.raises(UserError) as caught:
        load_config(TrainConfig, None, [override])
    assert caught.value.field == field
    assert reason in caught.value.message


def test_unknown_field_in_toml_is_named(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[optim]\nlearning_rate = 1\n")
    with pytest.raises(UserError) as caught:
        load_config(TrainConfig, path)
    assert caught.value.field == "optim.learning_rate"


def test_dumped_toml_loads_back_to_the_same_config(tmp_path):
    config = load_config(TrainConfig, None, ["steps=3", "optim.name=soap", "out=/tmp/x"])
    path = tmp_path / "round.toml"
    path.write_text(dump_toml(config))
    assert load_config(TrainConfig, path) == config
