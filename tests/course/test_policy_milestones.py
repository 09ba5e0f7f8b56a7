"""Syllabus: "Assignment checkoffs: Checkoff slots by sign-up", midterm "check-in meetings
scheduled around this date", "Oral presentations require sign-up", and the integrity
clause: "If you use external code or AI assistants, you must cite the source clearly"."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from scalable_ai.course.clock import BERKELEY
from scalable_ai.course.policy.integrity import IntegrityStatement, integrity_statement
from scalable_ai.course.policy.milestones import (
    SignupSlot,
    SlotKind,
    check_cancel,
    seats_left,
    signup,
)
from scalable_ai.errors import Conflict, UserError

NOW = datetime(2026, 2, 9, 12, tzinfo=BERKELEY)


def slot(sid, kind=SlotKind.CHECKOFF, hours=24, capacity=1, **extra) -> SignupSlot:
    start = NOW + timedelta(hours=hours)
    if kind is SlotKind.CHECKOFF:
        extra.setdefault("assignment", "A1")
    if kind is SlotKind.PRESENTATION:
        extra.setdefault("session", "A")
    return SignupSlot(sid, kind, start, start + timedelta(minutes=15), capacity, **extra)


def test_a_slot_holds_no_more_groups_than_its_capacity():
    slots = [slot("s1", capacity=2)]
    taken = [signup(slots[0], "g1", [], slots, NOW)]
    taken.append(signup(slots[0], "g2", taken, slots, NOW))
    assert seats_left(slots[0], taken) == 0
    with pytest.raises(Conflict, match="full"):
        signup(slots[0], "g3", taken, slots, NOW)


def test_one_checkoff_per_group_per_assignment():
    slots = [slot("s1"), slot("s2", hours=30), slot("s3", assignment="A2")]
    taken = [signup(slots[0], "g1", [], slots, NOW)]
    with pytest.raises(Conflict, match="one checkoff per group per assignment"):
        signup(slots[1], "g1", taken, slots, NOW)
    signup(slots[2], "g1", taken, slots, NOW)  # another assignment is fine


def test_one_midterm_check_in_meeting_per_group():
    slots = [slot("m1", SlotKind.MIDTERM_CHECKIN), slot("m2", SlotKind.MIDTERM_CHECKIN, 48)]
    taken = [signup(slots[0], "g1", [], slots, NOW)]
    with pytest.raises(Conflict, match="midterm check-in"):
        signup(slots[1], "g1", taken, slots, NOW)


def test_presentations_sign_up_for_one_of_the_two_sessions():
    slots = [
        slot("a1", SlotKind.PRESENTATION, session="A"),
        slot("b1", SlotKind.PRESENTATION, 48, session="B"),
    ]
    taken = [signup(slots[0], "g1", [], slots, NOW)]
    with pytest.raises(Conflict, match="already presents in session A"):
        signup(slots[1], "g1", taken, slots, NOW)


def test_a_slot_that_has_started_cannot_be_booked():
    slots = [slot("s1", hours=-1)]
    with pytest.raises(Conflict, match="already started"):
        signup(slots[0], "g1", [], slots, NOW)


def test_a_group_gives_a_slot_back_only_before_it_starts_staff_any_time():
    starts = NOW + timedelta(hours=1)
    check_cancel(starts, NOW, by_staff=False)
    with pytest.raises(Conflict, match="already started") as info:
        check_cancel(starts, starts, by_staff=False)
    assert info.value.field == "signup"
    check_cancel(starts, starts + timedelta(hours=1), by_staff=True)


def test_a_checkoff_slot_names_its_assignment():
    with pytest.raises(UserError) as info:
        SignupSlot("s", SlotKind.CHECKOFF, NOW, NOW + timedelta(minutes=10))
    assert info.value.field == "assignment"


def test_every_submission_carries_an_integrity_statement():
    with pytest.raises(UserError) as info:
        integrity_statement(None)
    assert info.value.field == "integrity"
    with pytest.raises(UserError) as missing:
        integrity_statement({"external_code": "none", "sources": "none"})
    assert missing.value.field == "integrity.ai_assistance"
    with pytest.raises(UserError) as blank:
        IntegrityStatement(external_code="none", sources="  ", ai_assistance="none")
    assert blank.value.field == "integrity.sources"


def test_none_is_a_valid_integrity_answer():
    statement = integrity_statement(
        {"external_code": "none", "sources": "None", "ai_assistance": "none"}
    )
    assert statement.declares_nothing
    cited = integrity_statement(
        {
            "external_code": "torchtitan parallelize.py (BSD-3)",
            "sources": "none",
            "ai_assistance": "drafted with an LLM",
        }
    )
    assert not cited.declares_nothing and "AI assistance: drafted" in cited.text()
