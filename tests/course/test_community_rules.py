"""The pure rules of the rest of the course's life: questionnaire, Q&A visibility, Markdown
safety, tickets, participation, project deliverables and enhancements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from scalable_ai.course.community.forum_rules import (
    ANONYMOUS,
    TicketDetails,
    Viewer,
    can_see_thread,
    check_category,
    check_ticket,
    move_ticket,
    shown_author,
)
from scalable_ai.course.community.markdown import excerpt, render_markdown
from scalable_ai.course.community.participation_rules import (
    ParticipationRule,
    check_in,
    new_check_in_code,
    summarize_participation,
)
from scalable_ai.course.community.project_rules import (
    check_impact_link,
    check_statement,
    decide,
    enhancements_component,
)
from scalable_ai.course.community.questions import (
    DEFAULT_QUESTIONS,
    Question,
    QuestionKind,
    check_question,
    clean_answers,
    experience_level,
    flags,
    requested_teammates,
    summarize,
)
from scalable_ai.errors import Conflict, UserError

NOW = datetime(2026, 2, 10, 18, 0, tzinfo=UTC)
GOOD = {
    "background": "EECS MEng, took CS 182",
    "gpu_experience": DEFAULT_QUESTIONS[1].options[2],
    "preferred_teammates": "Ada@Berkeley.edu, bob@berkeley.edu",
    "time_commitments": DEFAULT_QUESTIONS[3].options[0],
}


# --- the questionnaire ---------------------------------------------------------------------


def test_the_default_questionnaire_asks_background_gpu_experience_teammates_and_time():
    assert [q.key for q in DEFAULT_QUESTIONS] == [
        "background",
        "gpu_experience",
        "preferred_teammates",
        "time_commitments",
    ]


def test_answers_are_cleaned_and_teammates_lower_cased():
    answers = clean_answers(DEFAULT_QUESTIONS, GOOD)
    assert answers["preferred_teammates"] == ["ada@berkeley.edu", "bob@berkeley.edu"]
    assert requested_teammates(DEFAULT_QUESTIONS, answers) == answers["preferred_teammates"]


def test_a_required_question_left_empty_is_refused_naming_it():
    with pytest.raises(UserError) as refused:
        clean_answers(DEFAULT_QUESTIONS, {**GOOD, "background": "  "})
    assert refused.value.field == "answers.background"


def test_a_choice_outside_the_options_is_refused():
    with pytest.raises(UserError) as refused:
        clean_answers(DEFAULT_QUESTIONS, {**GOOD, "gpu_experience": "I built Frontier"})
    assert refused.value.field == "answers.gpu_experience"


def test_experience_is_the_position_of_the_chosen_option():
    assert experience_level(DEFAULT_QUESTIONS, clean_answers(DEFAULT_QUESTIONS, GOOD)) == 2


def test_major_recurring_time_commitments_are_flagged_for_staff():
    answers = {**GOOD, "time_commitments": DEFAULT_QUESTIONS[3].options[2]}
    assert flags(DEFAULT_QUESTIONS, answers) == [f"time_commitments: {answers['time_commitments']}"]


def test_a_choice_question_needs_two_options():
    with pytest.raises(UserError) as refused:
        check_question(Question("x", "Pick", QuestionKind.CHOICE, ("only",)))
    assert refused.value.field == "options"


def test_the_staff_summary_counts_each_option():
    answers = [clean_answers(DEFAULT_QUESTIONS, GOOD)] * 3
    summary = {s.question.key: s for s in summarize(DEFAULT_QUESTIONS, answers)}
    assert dict(summary["gpu_experience"].option_counts)[GOOD["gpu_experience"]] == 3
    assert summary["background"].answered == 3


# --- Q&A ------------------------------------------------------------------------------------


def test_a_private_question_is_seen_by_its_author_and_staff_only():
    assert can_see_thread(Viewer(1, False), author_id=1, private=True)
    assert can_see_thread(Viewer(9, True), author_id=1, private=True)
    assert not can_see_thread(Viewer(2, False), author_id=1, private=True)


def test_an_anonymous_post_is_anonymous_to_classmates_but_not_to_staff():
    assert (
        shown_author(Viewer(2, False), author_id=1, author_name="Ada", anonymous=True) == ANONYMOUS
    )
    assert "Ada" in shown_author(Viewer(9, True), author_id=1, author_name="Ada", anonymous=True)


def test_categories_are_lecture_assignments_project_infrastructure():
    for category in ("lecture", "A1", "A5", "project", "infrastructure"):
        assert check_category(category) == category
    with pytest.raises(UserError):
        check_category("slack")


class _Elements(HTMLParser):
    """Every element and attribute a browser would build from the HTML."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        "[x](javascript:alert(2))",
        '<img src=x onerror="alert(3)">',
        "![x](javascript:alert(4))",
        "[x](JaVaScRiPt:alert(5))",
        '<a href="javascript:alert(6)">y</a>',
        "<iframe src=https://evil.example></iframe>",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCg3KTwvc2NyaXB0Pg==)",
    ],
)
def test_markdown_never_lets_a_script_through(attack):
    elements = _Elements(render_markdown(f"Hi {attack} **bold**"))
    assert "strong" in elements.tags
    assert not {"script", "iframe"} & set(elements.tags)
    assert not [name for name, _ in elements.attributes if name.startswith("on")]
    assert not [
        v
        for name, v in elements.attributes
        if name in ("href", "src") and not v.startswith(("http", "mailto", "x"))
    ]


def test_markdown_keeps_code_blocks_and_links():
    html = render_markdown("```\ntorchrun --nnodes 2\n```\n[docs](https://pytorch.org)")
    assert "<pre><code>torchrun --nnodes 2" in html and 'href="https://pytorch.org"' in html


# --- infrastructure tickets -----------------------------------------------------------------


def _ticket(**changes) -> TicketDetails:
    fields = {
        "node": "node-3",
        "occurred_at": NOW - timedelta(hours=1),
        "job_ids": "4711",
        "logs": "NCCL WARN timeout",
        "repro": "torchrun --nnodes 2 train.py",
    }
    return TicketDetails(**{**fields, **changes})


@pytest.mark.parametrize("missing", ["job_ids", "logs", "repro"])
def test_a_ticket_needs_job_ids_logs_and_a_short_repro(missing):
    with pytest.raises(UserError) as refused:
        check_ticket(_ticket(**{missing: " "}), now=NOW)
    assert refused.value.field == missing


def test_a_ticket_cannot_have_happened_in_the_future():
    with pytest.raises(UserError) as refused:
        check_ticket(_ticket(occurred_at=NOW + timedelta(hours=1)), now=NOW)
    assert refused.value.field == "occurred_at"


def test_ticket_status_moves_open_acknowledged_resolved():
    assert move_ticket("open", "acknowledged") == "acknowledged"
    assert move_ticket("acknowledged", "resolved") == "resolved"
    assert move_ticket("resolved", "open") == "open"
    with pytest.raises(Conflict):
        move_ticket("resolved", "acknowledged")


# --- participation --------------------------------------------------------------------------


def test_check_in_needs_the_right_code_while_open():
    code = new_check_in_code()
    check_in(
        given=code.lower(),
        code=code,
        opens_at=NOW,
        closes_at=NOW + timedelta(hours=2),
        now=NOW + timedelta(minutes=5),
    )
    with pytest.raises(UserError):
        check_in(
            given="WRONG1", code=code, opens_at=NOW, closes_at=NOW + timedelta(hours=2), now=NOW
        )
    with pytest.raises(Conflict):
        check_in(
            given=code,
            code=code,
            opens_at=NOW,
            closes_at=NOW + timedelta(hours=2),
            now=NOW + timedelta(hours=3),
        )


def test_participation_blends_attendance_and_contributions():
    full = summarize_participation(
        1,
        lectures_held=10,
        lectures_attended=10,
        questions=4,
        answers=2,
        note_comments=2,
        staff_credits=0,
    )
    assert full.score == 100
    half = summarize_participation(
        1,
        lectures_held=10,
        lectures_attended=5,
        questions=0,
        answers=0,
        note_comments=0,
        staff_credits=0,
        rule=ParticipationRule(attendance_share=1.0),
    )
    assert half.score == 50 and "attended 5 of 10" in half.note


# --- project and enhancements ---------------------------------------------------------------


def test_impact_evidence_of_a_merged_pr_links_to_the_pull_request():
    check_impact_link("merged_pr", "https://github.com/pytorch/pytorch/pull/12345")
    with pytest.raises(UserError) as refused:
        check_impact_link("merged_pr", "https://github.com/pytorch/pytorch")
    assert refused.value.field == "evidence_url"


def test_scribe_notes_need_a_sources_and_ai_statement():
    with pytest.raises(UserError) as refused:
        check_statement("")
    assert refused.value.field == "sources_statement"
    assert check_statement("none") == "none"


def test_staff_return_needs_feedback_and_a_decision_is_made_once():
    with pytest.raises(UserError):
        decide("pending", "returned", "")
    assert decide("pending", "returned", "Fix eq. 3") == "returned"
    with pytest.raises(Conflict):
        decide("accepted", "returned", "late thought")


def test_enhancements_component_averages_the_best_per_assignment():
    score, note = enhancements_component([("A1", 80), ("A1", 100), ("A2", 50)])
    assert score == 30 and "A1 100" in note


def test_a_preview_is_plain_text_without_markdown_syntax():
    preview = excerpt(
        "Answer the **questionnaire** by [Jan 27](https://example.edu) & run `sai up`"
    )
    assert preview == "Answer the questionnaire by Jan 27 & run sai up"


def test_a_preview_keeps_script_tags_as_inert_text_for_the_template_to_escape():
    assert excerpt("<script>alert(1)</script>") == "<script>alert(1)</script>"
