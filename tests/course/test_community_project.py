"""Syllabus: "Enhancements (10%): Contribute meaningfully by adding questions, or reframing the
programmatic part"; "Research directions released (Jan 22)"; the project deliverables up to
the impact update, where "Impact is scored on *evidence* of external usefulness"."""

from __future__ import annotations

from datetime import date

import pytest

from scalable_ai.course.community.service import project
from scalable_ai.course.service import Actor
from scalable_ai.course.service.grades import scores_of
from scalable_ai.errors import Conflict, Forbidden, NotFound, UserError


@pytest.fixture
def team(make_group):
    group = make_group(4)
    return group, Actor.of(group.members[0])


def test_a_group_proposes_an_enhancement_and_staff_score_it(session, staff, clock, team):
    group, member = team
    row = project.propose_enhancement(
        session,
        member,
        group.id,
        assignment_key="A1",
        kind="harder_programmatic",
        title="Pipeline bubbles",
        description="Measure 1F1B vs GPipe bubbles",
        clock=clock,
    )
    with pytest.raises(Forbidden):
        project.review_enhancement(
            session, member, row.id, decision="accepted", score=90, clock=clock
        )
    with pytest.raises(UserError):
        project.review_enhancement(session, staff, row.id, decision="accepted", clock=clock)
    project.review_enhancement(session, staff, row.id, decision="accepted", score=90, clock=clock)
    score, note = project.enhancements_score(session, member, group.id)
    assert score == 18 and "A1 90" in note
    recorded = {s.item: s.points for s in scores_of(session, staff, group.members[0].id)}
    assert recorded["A1.enhancement"] == 90


def test_another_group_cannot_see_or_act_for_a_group(session, clock, team, make_group):
    group, _ = team
    other = Actor.of(make_group(4).members[0])
    with pytest.raises(Forbidden):
        project.list_enhancements(session, other, group.id)
    with pytest.raises(Forbidden):
        project.submit_deliverable(
            session,
            other,
            group.id,
            kind="hypothesis",
            link="https://x.example/h",
            integrity_statement="none",
            clock=clock,
        )


def test_directions_are_released_on_jan_22_and_a_group_picks_one(session, staff, clock, team):
    group, member = team
    direction = project.post_direction(
        session, staff, title="Muon at scale", summary="Does Muon beat AdamW past 1B?", clock=clock
    )
    assert direction.released_on == date(2026, 1, 22)
    hidden = project.post_direction(
        session, staff, title="Later", summary="x", released_on=date(2026, 3, 1), clock=clock
    )
    assert [d.id for d in project.list_directions(session, member, clock=clock)] == [direction.id]
    with pytest.raises(NotFound):
        project.choose_direction(session, member, group.id, direction_id=hidden.id, clock=clock)
    project.choose_direction(session, member, group.id, direction_id=direction.id, clock=clock)
    project.review_direction(session, staff, group.id, decision="accepted", clock=clock)
    assert group.project_title == "Muon at scale"


def test_a_group_may_propose_its_own_direction(session, staff, clock, team):
    group, member = team
    choice = project.choose_direction(
        session,
        member,
        group.id,
        own_title="FP8 KV cache",
        own_summary="Quantize the KV cache to FP8",
        clock=clock,
    )
    assert choice.status == "pending" and choice.direction_id is None
    project.review_direction(
        session, staff, group.id, decision="returned", feedback="Narrow the scope", clock=clock
    )
    assert project.direction_choice(session, member, group.id).feedback == "Narrow the scope"


def test_a_deliverable_records_its_deadline_and_flags_lateness(session, staff, clock, team):
    group, member = team
    row = project.submit_deliverable(
        session,
        member,
        group.id,
        kind="hypothesis",
        link="https://docs.example/hypothesis",
        integrity_statement="none",
        clock=clock,
    )
    assert not row.late and row.deadline.date() in (date(2026, 2, 12), date(2026, 2, 13))
    clock.advance(days=8)  # Feb 13, past Feb 12 23:59
    late = project.submit_deliverable(
        session,
        member,
        group.id,
        kind="hypothesis",
        link="https://docs.example/h2",
        integrity_statement="none",
        clock=clock,
    )
    assert late.late and late.version == 2


def test_final_deliverables_need_the_code_link(session, clock, team):
    group, member = team
    with pytest.raises(UserError) as refused:
        project.submit_deliverable(
            session,
            member,
            group.id,
            kind="final",
            link="https://report.example",
            integrity_statement="none",
            clock=clock,
        )
    assert refused.value.field == "code_link"


def test_impact_evidence_is_verified_by_staff(session, staff, clock, team):
    group, member = team
    with pytest.raises(UserError):
        project.submit_deliverable(
            session,
            member,
            group.id,
            kind="impact",
            evidence_kind="merged_pr",
            link="https://github.com/x/y",
            integrity_statement="none",
            clock=clock,
        )
    row = project.submit_deliverable(
        session,
        member,
        group.id,
        kind="impact",
        evidence_kind="merged_pr",
        link="https://github.com/vllm-project/vllm/pull/1",
        integrity_statement="none",
        clock=clock,
    )
    project.review_deliverable(
        session, staff, row.id, decision="accepted", feedback="merged, verified", clock=clock
    )
    assert row.status == "accepted"
    with pytest.raises(Conflict):
        project.review_deliverable(
            session, staff, row.id, decision="returned", feedback="x", clock=clock
        )
