"""Syllabus, "Scribing (5%)": "Each student is expected to scribe 2 lectures." And the
project's peer review: "each group will provide a structured, constructive review of
another group's report"."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalable_ai.course.clock import BERKELEY
from scalable_ai.course.policy.peer_review import assign_peer_reviews, check_peer_review
from scalable_ai.course.policy.scribing import (
    assign_scribes,
    scribable_lectures,
    scribes_per_lecture,
)
from scalable_ai.errors import UserError

LECTURES = [f"L{i}" for i in range(1, 27)]


def roster(n: int) -> list[str]:
    return [f"student{i:03d}" for i in range(n)]


def test_each_student_scribes_two_lectures():
    assignments = assign_scribes(roster(30), LECTURES, seed=7)
    per_student = Counter(a.student for a in assignments)
    assert set(per_student.values()) == {2} and len(per_student) == 30


def test_no_student_scribes_the_same_lecture_twice():
    for n in (13, 26, 52):  # roster sizes that are multiples of the lecture count too
        assignments = assign_scribes(roster(n), LECTURES, seed=1)
        assert len({(a.student, a.lecture) for a in assignments}) == len(assignments)


def test_no_lecture_without_a_scribe_when_enough_students():
    assignments = assign_scribes(roster(13), LECTURES, seed=3)  # 26 slots for 26 lectures
    assert set(scribes_per_lecture(assignments)) == set(LECTURES)


@given(st.integers(1, 120), st.integers(2, 30), st.integers(0, 2**32))
def test_scribe_assignment_is_balanced(students, lectures, seed):
    keys = [f"L{i}" for i in range(1, lectures + 1)]
    assignments = assign_scribes(roster(students), keys, seed=seed)
    counts = Counter(a.lecture for a in assignments)
    loads = [counts.get(k, 0) for k in keys]
    assert max(loads) - min(loads) <= 1
    assert len({(a.student, a.lecture) for a in assignments}) == 2 * students
    if 2 * students >= lectures:
        assert min(loads) >= 1


def test_scribe_assignment_is_deterministic_given_a_seed():
    students = roster(40)
    assert assign_scribes(students, LECTURES, seed=5) == assign_scribes(
        list(reversed(students)), LECTURES, seed=5
    )
    assert assign_scribes(students, LECTURES, seed=5) != assign_scribes(students, LECTURES, 6)


def test_recess_days_have_no_lecture_to_scribe():
    lectures = [("L18", date(2026, 3, 19)), ("X", date(2026, 3, 24)), ("L19", date(2026, 3, 31))]
    assert scribable_lectures(lectures, [date(2026, 3, 24), date(2026, 3, 26)]) == ["L18", "L19"]


def test_guest_lectures_are_scribed_like_any_other():
    # the caller passes every lecture, guests included: L5 (AutoModel) gets scribes
    assignments = assign_scribes(roster(13), LECTURES, seed=0)
    assert "L5" in scribes_per_lecture(assignments)


def test_scribing_needs_two_distinct_lectures():
    with pytest.raises(UserError, match="2 different lectures"):
        assign_scribes(roster(3), ["L1"], seed=0)


def test_each_group_reviews_another_groups_draft_never_its_own():
    groups = [f"g{i}" for i in range(1, 9)]
    reviews = assign_peer_reviews(groups, seed=11)
    assert all(r.reviewer != r.author for r in reviews)
    with pytest.raises(UserError, match="own report"):
        check_peer_review("g1", "g1")


@given(st.integers(2, 40), st.integers(0, 2**32))
def test_peer_reviews_are_an_even_derangement(n, seed):
    groups = [f"g{i}" for i in range(n)]
    reviews = assign_peer_reviews(groups, seed=seed)
    assert sorted(r.reviewer for r in reviews) == sorted(groups)
    assert sorted(r.author for r in reviews) == sorted(groups)  # one review each
    assert all(r.reviewer != r.author for r in reviews)


def test_peer_review_assignment_is_deterministic_and_due_on_the_peer_review_date():
    due = datetime(2026, 5, 1, 23, 59, tzinfo=BERKELEY)
    groups = ["g1", "g2", "g3", "g4"]
    first = assign_peer_reviews(groups, seed=2, due=due)
    assert first == assign_peer_reviews(list(reversed(groups)), seed=2, due=due)
    assert {r.due for r in first} == {due}


def test_peer_review_needs_two_groups():
    with pytest.raises(UserError, match="at least two groups"):
        assign_peer_reviews(["g1"])
