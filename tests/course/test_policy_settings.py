"""Course settings: the syllabus's numbers as defaults, the staff's choices validated."""

from __future__ import annotations

from datetime import time

import pytest

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


@pytest.mark.parametrize(("changes", "field"), [
    ({"group_size_min": 7}, "settings.group_size_max"),
    ({"slack_days_total": -1}, "settings.slack_days_total"),
    ({"slack_days_per_assignment": 4}, "settings.slack_days_per_assignment"),
    ({"peer_review_weight": 1.5}, "settings.peer_review_weight"),
    ({"timezone": "Mars/Olympus"}, "settings.timezone"),
    ({"assignment_part_weights": AssignmentPartWeights(0.5, 0.5, 0.5)},
     "settings.assignment_part_weights"),
])
def test_invalid_settings_are_refused_naming_the_field(changes, field):
    with pytest.raises(UserError) as info:
        CourseSettings(**changes)
    assert info.value.field == field


def test_settings_round_trip_through_plain_data():
    s = CourseSettings(deadline_time=time(17, 0), slack_pool=SlackPool.PER_GROUP,
                       peer_review_weight=0.3)
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
    s = settings_from_dict({"satisfactory": {"scribing": 50},
                            "assignment_part_weights": {"code": 0.6, "written": 0.2,
                                                        "checkoff": 0.2},
                            "letter_cutoffs": {"A": 90, "B": 80, "F": 0}})
    assert s.satisfactory.scribing == 50 and s.satisfactory.project == 60
    assert [c.letter for c in s.letter_cutoffs] == ["A", "B", "F"]
    with pytest.raises(UserError) as info:
        settings_from_dict({"satisfactory": {"exam": 50}})
    assert info.value.field == "settings.satisfactory.exam"
