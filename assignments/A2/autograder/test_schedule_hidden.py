"""Part 3, hidden: the schedule equals the lab stack's at every step."""

import pytest

from scalable_ai.train.schedule import lr_factor


@pytest.mark.points(6)
def test_schedule_equals_the_lab_stack_at_every_step(submission):
    """Cosine and warmup-stable-decay, with and without warm-up, equal peak times the lab
    stack's lr_factor at every step of several runs."""
    lr = submission.module("schedule").learning_rate
    for kind in ("cosine", "wsd"):
        for total, warmup in ((100, 10), (37, 0), (5, 2)):
            for step in range(total):
                expected = 3e-4 * lr_factor(
                    step, total, warmup, kind, min_ratio=0.1, decay_fraction=0.2
                )
                got = lr(step, total, warmup, 3e-4, kind=kind, min_ratio=0.1, decay_fraction=0.2)
                assert got == pytest.approx(expected, rel=1e-9, abs=1e-15), (
                    kind,
                    total,
                    warmup,
                    step,
                )
