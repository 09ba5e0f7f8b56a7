"""The syllabus as data: ``seed/spring2026.yaml`` says what the syllabus says, and a file
that contradicts itself is refused with the field named."""

from __future__ import annotations

import copy
from datetime import date, time

import pytest
import yaml

from scalable_ai.course.policy.milestones import PROJECT_MILESTONE_KEYS
from scalable_ai.course.spec import default_spec_path, load_spec, parse_spec
from scalable_ai.errors import UserError

RAW = yaml.safe_load(default_spec_path().read_text())
SPEC = load_spec()

# The syllabus's "Lecture and Deadline Schedule", verbatim.
SYLLABUS_LECTURES = [
    ("2026-01-20", "Course Overview and the Modern AI Stack"),
    ("2026-01-22", "All About Performance"),
    ("2026-01-27", "Architectures To Break Bottlenecks: MoE, Sparse & Long-Context Architectures"),
    ("2026-01-29", "Parallelism Strategies"),
    ("2026-02-03", "NeMo AutoModel Guest Lecture"),
    ("2026-02-05", "Introduction to Pre-Training"),
    ("2026-02-10", "Powering Pre-Training: NeMo Curator"),
    ("2026-02-12", "Case Study: The Pre-Training of Nano-V3"),
    ("2026-02-17", "Optimizer Fundamentals"),
    ("2026-02-19", "Looking To The Future: Emerging Optimizers"),
    ("2026-02-24", "Intro To the LLM Post-Training Lifecycle and Evaluation"),
    ("2026-02-26", "The Data Powering Post-Training: SFT Data Engineering and RL Environments"),
    ("2026-03-03", "Building SFT Datasets: Foundations of SFT Data Generation and Tooling"),
    ("2026-03-05", "NeMo Data Designer Deep Dive"),
    ("2026-03-10", "Using The NeMo RL Stack For RL Post-Training"),
    ("2026-03-12", "Case Study: Post-Training of Nemotron-NanoV3"),
    ("2026-03-17", "Deployment Preparation: Speculative Decoding, Quantization, Pruning, and NAS"),
    ("2026-03-19", "Fundamentals and Overview of High-Performance Inference Frameworks"),
    ("2026-03-31", "High-Performance Inference using Dynamo and TRT-LLM"),
    ("2026-04-02", "High-Performance Inference using vLLM and SGLang"),
    ("2026-04-07", "Fundamentals of Context Engineering"),
    ("2026-04-09", "Agentic Applications"),
    ("2026-04-14", "Safety Guardrails"),
    ("2026-04-16", "Diffusion Language Models"),
    ("2026-04-21", "Advanced RL Algorithms"),
    ("2026-04-23", "Multi-Agent Systems and Architecture"),
]


def broken(edit) -> dict:
    data = copy.deepcopy(RAW)
    edit(data)
    return data


def refused(edit) -> UserError:
    with pytest.raises(UserError) as info:
        parse_spec(broken(edit))
    return info.value


def test_course_title_number_and_term():
    assert SPEC.course.title == "Scalable AI: Bridging Theory, Understanding, and Practice"
    assert SPEC.course.number == "EE 290 / 194" and SPEC.course.term == "Spring 2026"
    assert SPEC.course.grading_basis == "letter"


def test_staff_and_their_roles():
    roles = {s.name: s.role for s in SPEC.staff}
    assert roles == {
        "Anant Sahai": "instructor",
        "Jiantao Jiao": "instructor",
        "Haocheng Xi": "teaching",
        "Paul Zhou": "teaching",
        "Venkat Srinivasan": "infrastructure",
    }


def test_lectures_office_hours_and_resources():
    assert (SPEC.meeting.starts, SPEC.meeting.ends, SPEC.meeting.room) == (
        time(9, 30),
        time(11, 0),
        "521 Cory Hall",
    )
    (hours,) = SPEC.office_hours
    assert (hours.weekday, hours.starts, hours.ends) == (1, time(11), time(12))
    assert SPEC.resources.website == "https://scalable-ai.eecs.berkeley.edu/"
    assert SPEC.resources.forum == "https://edstem.org/us/courses/93630"
    assert SPEC.resources.gradescope_code == "4DDRWY"


def test_all_26_lectures_with_the_syllabus_titles():
    assert [(lec.day.isoformat(), lec.title) for lec in SPEC.lectures] == SYLLABUS_LECTURES
    assert [lec.label.split(".")[0] for lec in SPEC.lectures] == [f"L{i}" for i in range(1, 27)]


def test_assignments_a1_to_a5_with_release_and_due_dates():
    assert [(a.key, a.release.isoformat(), a.due.isoformat()) for a in SPEC.assignments] == [
        ("A1", "2026-01-27", "2026-02-10"),
        ("A2", "2026-02-10", "2026-02-24"),
        ("A3", "2026-02-24", "2026-03-10"),
        ("A4", "2026-03-17", "2026-04-07"),
        ("A5", "2026-04-07", "2026-04-21"),
    ]


def test_every_project_milestone_with_its_date():
    days = {m.key: m.day.isoformat() for m in SPEC.milestones}
    assert [days[k] for k in PROJECT_MILESTONE_KEYS] == [
        "2026-01-22",
        "2026-01-29",
        "2026-02-12",
        "2026-02-26",
        "2026-03-19",
        "2026-04-26",
        "2026-04-28",
        "2026-05-01",
        "2026-05-05",
        "2026-05-10",
        "2026-05-15",
    ]
    assert SPEC.milestone("presentations").last_day == date(2026, 4, 30)
    assert [(p.session, p.day.isoformat()) for p in SPEC.presentations] == [
        ("A", "2026-04-28"),
        ("B", "2026-04-30"),
    ]


def test_eight_nodes_with_static_ips():
    assert [n.name for n in SPEC.nodes] == [f"node-{i}" for i in range(1, 9)]
    assert len({n.ip for n in SPEC.nodes}) == 8 and all(n.gpus == 8 for n in SPEC.nodes)


def test_components_and_settings_match_the_syllabus():
    assert {c.key: c.weight for c in SPEC.components} == {
        "project": 50,
        "assignments": 35,
        "scribing": 5,
        "participation": 10,
    }
    assert SPEC.settings.slack_days_total == 3
    assert SPEC.settings.deadline_time == time(23, 59)


def test_a_due_date_before_its_release_is_refused():
    error = refused(lambda d: d["assignments"][2].update(due=date(2026, 2, 1)))
    assert error.field == "assignments[2].due" and error.message == "before release"


def test_weights_not_summing_to_100_are_refused():
    error = refused(lambda d: d["components"][2].update(weight=10))
    assert error.field == "components" and "not 100" in error.message


def test_parts_not_summing_to_their_component_are_refused():
    error = refused(lambda d: d["components"][0]["parts"][1].update(weight=5))
    assert error.field == "components[0].parts"


def test_duplicate_lecture_numbers_are_refused():
    error = refused(lambda d: d["lectures"][7].update(key="L7"))
    assert error.field == "lectures[7].key" and "duplicate lecture L7" in error.message


def test_a_lecture_on_a_recess_day_is_refused():
    error = refused(lambda d: d["lectures"][18].update(date=date(2026, 3, 24)))
    assert error.field == "lectures[18].date" and "recess" in error.message


def test_a_date_outside_the_term_is_refused():
    error = refused(lambda d: d["milestones"][3].update(date=date(2027, 1, 1)))
    assert error.field == "milestones[3].date" and "outside the term" in error.message


def test_a_lecture_off_the_meeting_days_is_refused():
    error = refused(lambda d: d["lectures"][0].update(date=date(2026, 1, 21)))
    assert error.field == "lectures[0].date" and "Wednesday" in error.message


def test_a_lecture_hour_that_is_no_time_of_day_is_refused_naming_the_field():
    error = refused(lambda d: d["lectures_meet"].update(starts=99999))
    assert error.field == "lectures_meet.starts" and "time of day" in error.message
    assert refused(lambda d: d["lectures_meet"].update(ends=True)).field == "lectures_meet.ends"


def test_a_missing_project_milestone_is_refused():
    error = refused(
        lambda d: d.update(milestones=[m for m in d["milestones"] if m["key"] != "peer_review"])
    )
    assert error.field == "milestones" and "peer_review" in error.message


def test_a_missing_field_is_named():
    error = refused(lambda d: d["lectures"][4].pop("title"))
    assert error.field == "lectures[4].title" and error.message == "required"


def test_a_wrong_node_count_is_refused():
    error = refused(lambda d: d["nodes"].pop())
    assert error.field == "nodes" and "node pool has 8" in error.message


def test_a_bad_node_ip_is_refused():
    error = refused(lambda d: d["nodes"][2].update(ip="node3.example"))
    assert error.field == "nodes[2].ip"


def test_pass_no_pass_is_refused():
    error = refused(lambda d: d["course"].update(grading_basis="P/NP"))
    assert error.field == "course.grading_basis"


def test_an_unknown_section_or_setting_is_refused():
    assert refused(lambda d: d.update(exams=[])).field == "exams"
    assert refused(lambda d: d["settings"].update(late_penalty=10)).field == "settings.late_penalty"


def test_unreadable_or_invalid_files_are_refused(tmp_path):
    with pytest.raises(UserError) as missing:
        load_spec(tmp_path / "nope.yaml")
    assert missing.value.field == "path"
    bad = tmp_path / "bad.yaml"
    bad.write_text("course: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_spec(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(UserError, match="mapping"):
        load_spec(listed)


def test_lectures_are_numbered_in_date_order():
    def swap_dates(d):
        d["lectures"][3]["date"], d["lectures"][4]["date"] = (
            d["lectures"][4]["date"],
            d["lectures"][3]["date"],
        )

    error = refused(swap_dates)
    assert error.field == "lectures[4].key" and "date order" in error.message


def test_settings_time_zone_must_be_the_course_time_zone():
    error = refused(lambda d: d["settings"].update(timezone="America/New_York"))
    assert error.field == "settings.timezone"


def test_settings_omitted_from_the_file_take_the_syllabus_defaults():
    spec = parse_spec(broken(lambda d: d.pop("settings")))
    assert spec.settings.slack_days_total == 3 and spec.settings.group_size_max == 6
