"""The architecture search over pruned shapes: its Pareto front and budget (lecture 17, NAS)."""

from __future__ import annotations

import pytest
import torch

from scalable_ai.errors import UserError
from scalable_ai.infer.perplexity import perplexity
from scalable_ai.infer.search import Candidate, pareto_front, search, shapes, within_budget
from tests.infer.conftest import ByteTokenizer, tiny_model


def test_the_pareto_front_keeps_exactly_the_undominated_points():
    points = [
        Candidate(1, 1, 1, latency_ms=1.0, perplexity=50.0),
        Candidate(2, 1, 1, latency_ms=2.0, perplexity=40.0),
        Candidate(3, 1, 1, latency_ms=2.5, perplexity=45.0),  # slower and worse than the 2nd
        Candidate(4, 1, 1, latency_ms=3.0, perplexity=30.0),
        Candidate(5, 1, 1, latency_ms=0.5, perplexity=80.0),
    ]
    front = pareto_front(points)
    assert [c.n_layers for c in front] == [5, 1, 2, 4]
    for candidate in points:
        dominated = any(
            o.latency_ms <= candidate.latency_ms and o.perplexity < candidate.perplexity
            for o in points
        )
        assert candidate.on_front == (not dominated)
    assert within_budget(points, 2.2).n_layers == 2
    assert within_budget(points, 0.1) is None


def test_search_measures_every_shape_and_the_full_shape_is_the_original():
    model = tiny_model(n_layers=3)
    generator = torch.Generator().manual_seed(0)
    rows = list(torch.randint(0, 256, (3, 32), generator=generator))
    grid = shapes(model, [3, 2], [128, 64], [2])
    results, baseline = search(model, rows, rows, grid, ByteTokenizer(), latency_tokens=16)
    assert {(c.n_layers, c.ffn_hidden, c.heads_per_group) for c in results} == set(grid)
    full = next(c for c in results if (c.n_layers, c.ffn_hidden) == (3, 128))
    assert full.perplexity == pytest.approx(perplexity(model, rows, forward_path="model"))
    assert full.parameters == sum(p.numel() for p in model.parameters())
    assert (
        baseline > 0 and all(c.latency_ms > 0 for c in results) and any(c.on_front for c in results)
    )
    assert next(model.parameters()).dtype == torch.float32  # timed through a bf16 copy


def test_a_shape_outside_the_model_is_a_user_error_naming_the_list():
    with pytest.raises(UserError) as error:
        shapes(tiny_model(), [2], [999], [1])
    assert error.value.field == "widths"
