"""A spec that cannot apply is refused before any process starts, in one line with the reason."""

from __future__ import annotations

import pytest

from scalable_ai.errors import UserError
from scalable_ai.model.config import PRESETS
from scalable_ai.parallel.run import micro_config
from scalable_ai.parallel.spec import ParallelSpec, check_spec


def refusal(spec: str, config=None, **context) -> str:
    with pytest.raises(UserError) as caught:
        check_spec(ParallelSpec.parse(spec), config or micro_config(), **context)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_spec_parses_every_dimension_and_prints_back():
    spec = ParallelSpec.parse("dp=2,fsdp=2,tp=2,pp=2,ep=2,cp=2")
    assert spec.world_size == 64 and spec.data_shards == 8 and spec.gradient_average == 16
    assert str(spec) == "pp=2,dp=2,fsdp=2,ep=2,cp=2,tp=2"
    assert ParallelSpec.parse("single") == ParallelSpec() and str(ParallelSpec()) == "single"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("xp=2", "DIM=N"),
        ("tp=two", "not an integer"),
        ("tp=0", "positive"),
        ("tp=2,tp=4", "twice"),
        ("tp", "DIM=N"),
    ],
)
def test_malformed_specs_name_the_problem(text, reason):
    with pytest.raises(UserError, match=reason):
        ParallelSpec.parse(text)


def test_tp2_on_smollm2_is_refused_for_its_nine_query_heads():
    message = refusal("tp=2", PRESETS["smollm2-135m"])
    assert "9 query heads" in message and "smollm2-135m" in message


def test_tp3_on_smollm2_is_accepted():
    """9 query heads, 3 KV heads, 1536 hidden units and 49152 entries all divide by 3."""
    check_spec(ParallelSpec.parse("tp=3"), PRESETS["smollm2-135m"], world_size=3)


def test_more_stages_than_layers_is_refused():
    assert "more stages than" in refusal("pp=3", micro_config(n_layers=2))


def test_pipeline_with_tied_embeddings_is_refused():
    assert "untied" in refusal("pp=2", micro_config(tie_embeddings=True))


def test_world_size_must_be_the_product_of_the_degrees():
    assert "needs 4 processes" in refusal("dp=2,tp=2", world_size=2)


def test_expert_parallel_needs_experts_that_divide():
    assert "dense" in refusal("ep=2")
    assert "3 experts" in refusal("ep=2", micro_config(n_experts=3))


def test_batch_sequence_and_microbatch_splits_are_checked():
    assert "batch size 3" in refusal("dp=2", batch_size=3)
    assert "multiple of 2 x cp" in refusal("cp=2", seq_len=6)
    assert "micro-batches" in refusal("pp=2", batch_size=4, microbatches=3)
