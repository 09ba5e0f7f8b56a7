"""Course settings: the syllabus's numbers as defaults, the staff's choices validated."""

from __future__ import annotations

import dataclasses
from datetime import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalable_ai.course.policy.settings import (
    AssignmentPartWeights,
    CourseSettings,
    SlackPool,
    settings_from_dict,
)
from scalable_ai.errors import UserError


def test_defaults_are_the_syllabus():
    s = CourseSettings()
    assert (s.slack_days_total, s.slack_days_per_assignment, s.slack_day_hours) == (3, 1, 24)
    assert (s.group_size_min, s.group_size_max) == (4, 6)
    assert (s.node_pool_size, s.gpus_per_node) == (8, 8)
    assert s.deadline_time == time(23, 59) and s.timezone == "America/Los_Angeles"
    assert s.slack_pool is SlackPool.PER_STUDENT
    assert s.scribe_lectures_per_student == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"group_size_min": 7}, "settings.group_size_max"),
        ({"slack_days_total": -1}, "settings.slack_days_total"),
        ({"slack_days_per_assignment": 4}, "settings.slack_days_per_assignment"),
        ({"peer_review_weight": 1.5}, "settings.peer_review_weight"),
        ({"timezone": "Mars/Olympus"}, "settings.timezone"),
        (
            {"assignment_part_weights": AssignmentPartWeights(0.5, 0.5, 0.5)},
            "settings.assignment_part_weights",
        ),
    ],
)
def test_invalid_settings_are_refused_naming_the_field(changes, field):
    with pytest.raises(UserError) as info:
        CourseSettings(**changes)
    assert info.value.field == field


def test_settings_round_trip_through_plain_data():
    s = CourseSettings(
        deadline_time=time(17, 0), slack_pool=SlackPool.PER_GROUP, peer_review_weight=0.3
    )
    assert settings_from_dict(s.to_dict()) == s


def test_unknown_settings_are_refused():
    with pytest.raises(UserError) as info:
        settings_from_dict({"slack_days": 5})
    assert info.value.field == "settings.slack_days"


def test_yaml_sexagesimal_times_are_read_as_times_of_day():
    assert settings_from_dict({"deadline_time": 23 * 60 + 59}).deadline_time == time(23, 59)
    assert settings_from_dict({"deadline_time": "23:59"}).deadline_time == time(23, 59)
    with pytest.raises(UserError) as info:
        settings_from_dict({"deadline_time": "midnight"})
    assert info.value.field == "settings.deadline_time"


def test_nested_settings_from_plain_data():
    s = settings_from_dict(
        {
            "satisfactory": {"scribing": 50},
            "assignment_part_weights": {"code": 0.6, "written": 0.2, "checkoff": 0.2},
            "letter_cutoffs": {"A": 90, "B": 80, "F": 0},
        }
    )
    assert s.satisfactory.scribing == 50 and s.satisfactory.project == 60
    assert [c.letter for c in s.letter_cutoffs] == ["A", "B", "F"]
    with pytest.raises(UserError) as info:
        settings_from_dict({"satisfactory": {"exam": 50}})
    assert info.value.field == "settings.satisfactory.exam"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"deadline_time": 99999}, "settings.deadline_time"),
        ({"deadline_time": True}, "settings.deadline_time"),
        ({"deadline_time": None}, "settings.deadline_time"),
        ({"peer_review_weight": "a"}, "settings.peer_review_weight"),
        ({"peer_review_weight": float("nan")}, "settings.peer_review_weight"),
        ({"letter_cutoffs": [None]}, "settings.letter_cutoffs"),
        ({"letter_cutoffs": [["A", "x"], ["F", 0]]}, "settings.letter_cutoffs"),
        ({"letter_cutoffs": {"A": 10**400, "F": 0}}, "settings.letter_cutoffs"),
        ({"timezone": None}, "settings.timezone"),
        ({"timezone": "x" * 5000}, "settings.timezone"),
        ({"slack_pool": ["per_group"]}, "settings.slack_pool"),
        ({"satisfactory": {"scribing": 10**400}}, "settings.satisfactory.scribing"),
        ({"group_size_min": "4"}, "settings.group_size_min"),
        ({"rendezvous_port": 70000}, "settings.rendezvous_port"),
    ],
)
def test_wrongly_typed_settings_are_refused_naming_the_field(data, field):
    with pytest.raises(UserError) as info:
        settings_from_dict(data)
    assert info.value.field == field


def test_settings_that_are_not_a_mapping_are_refused():
    with pytest.raises(UserError) as info:
        settings_from_dict(["deadline_time"])  # type: ignore[arg-type]
    assert info.value.field == "settings"


@pytest.mark.parametrize("name", ["reservation_max_hours", "slack_day_hours"])
def test_a_window_in_hours_is_bounded_by_a_year(name):
    """ "A bounded window of time": an hour setting past a year is refused with a message,
    rather than overflowing the timedelta a reservation or slack day is checked with."""
    assert getattr(settings_from_dict({name: 366 * 24}), name) == 366 * 24
    with pytest.raises(UserError, match="at most 8784 hours") as info:
        settings_from_dict({name: 10**12})
    assert info.value.field == f"settings.{name}"


_plain_data = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from([f.name for f in dataclasses.fields(CourseSettings)]), value=_plain_data
)
def test_any_plain_value_of_a_setting_is_accepted_or_refused_naming_a_setting(name, value):
    """Whatever a staff member types (CLI YAML, API JSON), the answer is a valid setting or a
    UserError naming a setting, never a TypeError or OverflowError from inside a rule."""
    try:
        settings_from_dict({name: value})
    except UserError as error:
        assert (error.field or "").startswith("settings.")
