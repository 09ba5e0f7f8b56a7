"""Part 3, hidden: 1F1B's memory bound and pipeline fill, and a real 4-stage pipeline run on
the lab stack's stages."""

import pytest
import torch

CASES = [(4, 8), (4, 2), (2, 5), (3, 3), (8, 16)]


def _schedules(module, p, m):
    return [[tuple(a) for a in module.one_f_one_b_schedule(s, p, m)] for s in range(p)]


@pytest.mark.points(4)
def test_one_f_one_b_holds_at_most_p_minus_s_microbatches(submission, lab):
    """Stage s of p never holds more than min(p - s, m) micro-batches' activations: the
    memory saving that is the reason for 1F1B."""
    module = submission.module("pipeline_schedule")
    for p, m in CASES:
        run = lab.simulate_pipeline(_schedules(module, p, m))
        bound = [min(p - s, m) for s in range(p)]
        assert run.peak_in_flight == bound, (
            f"p={p} m={m}: peak {run.peak_in_flight}, 1F1B holds {bound}"
        )


@pytest.mark.points(3)
def test_one_f_one_b_keeps_the_pipeline_as_full_as_gpipe(submission, lab):
    """With unit-time F and B, 1F1B finishes in 2(m + p - 1) ticks, GPipe's time: it saves
    memory, not time (no extra bubble from missing warm-up forwards)."""
    module = submission.module("pipeline_schedule")
    for p, m in CASES:
        run = lab.simulate_pipeline(_schedules(module, p, m))
        assert run.ticks == 2 * (m + p - 1), f"p={p} m={m}: {run.ticks} ticks"


@pytest.mark.points(4)
def test_a_four_stage_pipeline_matches_one_process(submission, lab):
    """The lab model cut into 4 stages on 4 processes, run in your 1F1B order with 4
    micro-batches, gets the gradients one process gets for the whole batch."""
    module = submission.module("pipeline_schedule")
    reference = lab.whole_model_gradients(4)
    for rank, grads in enumerate(lab.world(lab.run_pipeline_stage, module.one_f_one_b_schedule, 4)):
        assert grads, f"stage {rank} computed no gradient"
        for name, grad in grads.items():
            torch.testing.assert_close(
                grad, reference[name], atol=1e-5, rtol=1e-4, msg=f"stage {rank}: {name}"
            )
