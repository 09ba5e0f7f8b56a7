"""Part 2, hidden: limits, fairness, and admission inside the lab stack's engine."""

import pytest


@pytest.mark.points(3)
def test_at_most_max_num_seqs_run(submission, lab):
    """Admission never runs more sequences than max_num_seqs."""
    scheduler = lab.scheduler(
        submission.module("admission").AdmissionScheduler, max_num_seqs=3, max_num_batched_tokens=64
    )
    for i in range(6):
        scheduler.add(lab.sequence(f"r{i}", prompt_length=2))
    step = scheduler.schedule()
    assert len(step.scheduled) == 3
    assert len(scheduler.running) == 3
    assert len(scheduler.waiting) == 3


@pytest.mark.points(3)
def test_no_admission_without_free_blocks(submission, lab):
    """A request whose chunk needs more blocks than are free waits, and takes none."""
    scheduler = lab.scheduler(submission.module("admission").AdmissionScheduler, num_blocks=3)
    seq = lab.sequence("big", prompt_length=16)
    scheduler.add(seq)
    step = scheduler.schedule()
    assert step.scheduled == []
    assert seq.block_table == []
    assert scheduler.pool.num_free == 3


@pytest.mark.points(5)
def test_the_head_of_the_queue_is_not_overtaken(submission, lab):
    """First come, first served: while the oldest waiting request does not fit, no later
    request is admitted in its place (else short requests could starve it)."""
    scheduler = lab.scheduler(submission.module("admission").AdmissionScheduler, num_blocks=6)
    holder = lab.sequence("holder", prompt_length=12, max_tokens=50)
    scheduler.add(holder)
    scheduler.after_step(scheduler.schedule())  # holds 3 of the 6 blocks
    big = lab.sequence("big", prompt_length=16)
    small = lab.sequence("small", prompt_length=2)
    scheduler.add(big)
    scheduler.add(small)
    step = scheduler.schedule()
    assert small not in [item.seq for item in step.scheduled]
    assert list(scheduler.waiting) == [big, small]


@pytest.mark.points(4)
def test_a_long_request_finishes_under_a_steady_stream_of_short_ones(submission, lab):
    """No starvation: with two short requests arriving every step, a long request that
    arrived at the start still finishes within 100 steps (first come, first served gets it
    through in 8 here; a policy that lets later requests overtake it never does)."""
    scheduler = lab.scheduler(submission.module("admission").AdmissionScheduler, num_blocks=8)
    long_request = lab.sequence("long", prompt_length=16, max_tokens=2)
    counter = iter(range(100_000))

    def arrivals(step: int):
        shorts = [lab.sequence(f"s{next(counter)}", prompt_length=4, max_tokens=6) for _ in "ab"]
        return [*shorts, long_request] if step == 1 else shorts

    steps = lab.simulate(scheduler, arrivals, max_steps=100, watch=long_request)
    assert steps <= 100, "the long request never finished"


@pytest.mark.points(4)
def test_the_engine_with_your_admission_matches_the_reference(submission, lab):
    """The lab stack's engine with your admission produces the reference greedy tokens."""
    admission = submission.module("admission")
    engine = lab.with_scheduler(lab.engine(num_blocks=40), admission.AdmissionScheduler)
    expected = lab.run(lab.engine(num_blocks=40), lab.prompts, max_tokens=12)
    assert lab.run(engine, lab.prompts, max_tokens=12) == expected
