"""Part 3, visible: pipeline schedules (lecture: pipeline parallelism; GPipe, Huang et al.
2019; 1F1B, Narayanan et al. 2021)."""

import pytest

CASES = [(4, 8), (4, 2), (2, 5), (3, 3)]


@pytest.mark.points(3)
def test_gpipe_runs_every_forward_then_every_backward(submission):
    """GPipe: F0 .. F(m-1), then B0 .. B(m-1), on every stage."""
    gpipe = submission.module("pipeline_schedule").gpipe_schedule
    assert gpipe(1, 4, 3) == [("F", 0), ("F", 1), ("F", 2), ("B", 0), ("B", 1), ("B", 2)]


@pytest.mark.points(2)
def test_bubble_fraction(submission):
    """The idle share of a step is (p - 1) / (m + p - 1)."""
    bubble = submission.module("pipeline_schedule").bubble_fraction
    assert bubble(4, 8) == pytest.approx(3 / 11)
    assert bubble(1, 8) == 0
    assert bubble(8, 1) == pytest.approx(7 / 8)


@pytest.mark.points(4)
def test_one_f_one_b_runs_every_microbatch_without_deadlock(submission, lab):
    """Every stage's 1F1B schedule runs each micro-batch's F and B once, and the stages
    together finish (no stage waits forever), for several (stages, micro-batches)."""
    schedule = submission.module("pipeline_schedule").one_f_one_b_schedule
    for p, m in CASES:
        schedules = [[tuple(a) for a in schedule(s, p, m)] for s in range(p)]
        for actions in schedules:
            lab.check_schedule(actions, m)
        lab.simulate_pipeline(schedules)
