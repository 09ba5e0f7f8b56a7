"""Syllabus: "Groups of 4–6", proposed by staff from the onboarding questionnaire — balanced on
experience, respecting requested teammates where possible, deterministic given a seed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalable_ai.course.community.grouping import (
    GroupProposal,
    Respondent,
    group_count,
    honoured_requests,
    propose_groups,
)
from scalable_ai.errors import UserError

# Every class size that can be split into groups of 4–6 (7 cannot; neither can 1–3).
class_sizes = st.integers(min_value=4, max_value=80).filter(lambda n: n != 7)


@st.composite
def classes(draw) -> list[Respondent]:
    n = draw(class_sizes)
    levels = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    requests = draw(
        st.lists(st.frozensets(st.integers(0, n - 1), max_size=3), min_size=n, max_size=n)
    )
    return [Respondent(i, levels[i], requests[i]) for i in range(n)]


@settings(max_examples=200, deadline=None)
@given(classes(), st.integers(0, 10_000))
def test_every_student_is_in_exactly_one_group_of_4_to_6(respondents, seed):
    proposals = propose_groups(respondents, seed=seed)
    placed = [m for p in proposals for m in p.members]
    assert sorted(placed) == sorted(r.student for r in respondents)
    assert all(4 <= p.size <= 6 for p in proposals)


@settings(max_examples=200, deadline=None)
@given(classes(), st.integers(0, 10_000))
def test_the_same_answers_and_seed_give_the_same_proposal(respondents, seed):
    assert propose_groups(respondents, seed=seed) == propose_groups(
        list(reversed(respondents)), seed=seed
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=8, max_size=60), st.integers(0, 10_000))
def test_groups_are_balanced_on_experience_within_one_students_experience(levels, seed):
    proposals = propose_groups([Respondent(i, level) for i, level in enumerate(levels)], seed=seed)
    totals = [p.experience_total for p in proposals]
    assert max(totals) - min(totals) <= max(levels)


@settings(max_examples=200, deadline=None)
@given(st.integers(4, 15), st.integers(0, 10_000))
def test_mutual_teammate_pairs_are_kept_together(pairs, seed):
    """Disjoint mutual pairs always fit a group of 4–6, so every one is honoured."""
    respondents = []
    for p in range(pairs):
        a, b = 2 * p, 2 * p + 1
        respondents += [Respondent(a, p % 4, frozenset({b})), Respondent(b, 0, frozenset({a}))]
    proposals = propose_groups(respondents, seed=seed)
    assert honoured_requests(proposals, respondents) == (2 * pairs, 2 * pairs)


def test_a_requested_circle_larger_than_a_group_is_split_but_everyone_is_placed():
    everyone = frozenset(range(10))
    respondents = [Respondent(i, 1, everyone) for i in range(10)]
    proposals = propose_groups(respondents, seed=3)
    assert [p.size for p in proposals] == [5, 5]


def test_a_different_seed_can_give_a_different_proposal():
    respondents = [Respondent(i, 1) for i in range(20)]
    seen = {tuple(p.members for p in propose_groups(respondents, seed=s)) for s in range(5)}
    assert len(seen) > 1


def test_a_class_of_seven_cannot_be_split_into_groups_of_4_to_6():
    with pytest.raises(UserError) as refused:
        propose_groups([Respondent(i) for i in range(7)])
    assert refused.value.field == "students"


def test_group_count_prefers_groups_of_five():
    assert group_count(40) == 8
    assert group_count(12) == 2  # 6 + 6 (three groups of 4 sit further from 5)
    assert group_count(0) == 0


def test_no_respondents_no_groups():
    assert propose_groups([]) == []


def test_honoured_requests_counts_requests_to_known_students_only():
    proposals = [GroupProposal((1, 2, 3, 4), 0.0)]
    respondents = [
        Respondent(1, requested=frozenset({2, 99})),
        Respondent(2),
        Respondent(3),
        Respondent(4),
    ]
    assert honoured_requests(proposals, respondents) == (1, 1)
