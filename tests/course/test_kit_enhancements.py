"""Enhancements into kits (issue 16): a group's enhancement accepted on the platform is folded
into the kit's next version, credited in the kit's ``enhancements.toml`` (and its score is in
the grade book's enhancements component, as the community flow already does)."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from scalable_ai.course.community.service import project
from scalable_ai.course.service import Actor
from scalable_ai.course.tables import Score
from scalable_ai.errors import UserError
from scalable_ai.kits.enhancements import accepted_enhancements, credit_enhancement, credits
from scalable_ai.kits.kit import kits_root, load_kit


@pytest.fixture
def a1_copy(tmp_path):
    """A copy of the A1 kit to write credits into (the repository's stays as it is)."""
    target = tmp_path / "A1"
    shutil.copytree(kits_root() / "A1", target, ignore=shutil.ignore_patterns("__pycache__"))
    return load_kit(target)


def test_an_accepted_enhancement_is_credited_in_the_kits_next_version(
    session, make_group, staff, clock, a1_copy
):
    group = make_group(4)
    proposed = project.propose_enhancement(
        session, Actor.of(group.members[0]), group.id, assignment_key="A1",
        kind="harder_programmatic", title="A tree all-reduce for small messages",
        description="Adds a binary-tree all-reduce and a test that it beats the ring below 4 KB.",
        clock=clock,
    )  # fmt: skip
    session.flush()
    pending = project.propose_enhancement(
        session, Actor.of(group.members[1]), group.id, assignment_key="A1",
        kind="added_questions", title="Two questions on HSDP", description="...", clock=clock,
    )  # fmt: skip
    session.flush()
    with pytest.raises(UserError, match="not an accepted enhancement of A1"):
        credit_enhancement(session, a1_copy, proposed.id)
    project.review_enhancement(
        session, staff, proposed.id, decision="accepted", score=90, clock=clock
    )
    [listed] = accepted_enhancements(session, a1_copy)
    assert (listed.id, listed.in_version, listed.score) == (proposed.id, None, 90)

    entry = credit_enhancement(session, a1_copy, proposed.id)
    assert entry["version"] == a1_copy.version + 1 == 2
    assert credits(load_kit(a1_copy.root)) == [entry]  # written, and the kit still loads
    assert accepted_enhancements(session, a1_copy)[0].in_version == 2
    with pytest.raises(UserError, match="already in A1 version 2"):
        credit_enhancement(session, a1_copy, proposed.id)
    with pytest.raises(UserError, match="not an accepted enhancement"):
        credit_enhancement(session, a1_copy, pending.id)
    # The platform's side: the score is every member's enhancements component for A1.
    scores = session.scalars(select(Score).where(Score.item == "A1.enhancement")).all()
    assert {s.person_id for s in scores} == {p.id for p in group.members}
