"""Enhancements into kits: a group's accepted enhancement (syllabus, "Enhancements (10%)":
added questions or a harder programmatic part) becomes part of the kit's next version, with
the credit written in the kit itself.

The course platform already runs the proposal: a group proposes on the project page, staff
accept it with a score, and the score lands in the grade book's enhancements component
(``course/community/service/project.py``). This module is the kit's side: staff list the
accepted enhancements of an assignment with whether the kit has folded each in yet
(``sai kit enhancements A1``), and after adding the questions to ``questions.yaml`` or the
part's tests, record it (``sai kit credit A1 ID``): an entry in the kit's
``enhancements.toml`` with the group, the title and the kit version it ships in. The file
travels with the kit (the student bundle included), so next year's students see who wrote
what.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scalable_ai.errors import UserError
from scalable_ai.kits.kit import Kit

CREDITS_FILE = "enhancements.toml"


@dataclass(frozen=True)
class AcceptedEnhancement:
    """An accepted enhancement of the kit's assignment, and where it is in the kit."""

    id: int
    group: str
    kind: str
    title: str
    score: float | None
    in_version: int | None  # None: not folded into the kit yet


def credits(kit: Kit) -> list[dict[str, Any]]:
    """The kit's credited enhancements (``enhancements.toml``), oldest first."""
    path = kit.root / CREDITS_FILE
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: {exc}", field=CREDITS_FILE) from exc
    return list(data.get("credit", []))


def accepted_enhancements(session: Session, kit: Kit) -> list[AcceptedEnhancement]:
    """Every accepted enhancement of ``kit``'s assignment, with the version it is in."""
    from scalable_ai.course.tables import Assignment, Group
    from scalable_ai.course.tables.community import Enhancement

    rows = session.execute(
        select(Enhancement, Group.name)
        .join(Assignment, Enhancement.assignment_id == Assignment.id)
        .join(Group, Enhancement.group_id == Group.id)
        .where(Assignment.key == kit.id, Enhancement.status == "accepted")
        .order_by(Enhancement.id)
    ).all()
    folded = {int(entry["id"]): int(entry["version"]) for entry in credits(kit)}
    return [
        AcceptedEnhancement(row.id, name, row.kind, row.title, row.score, folded.get(row.id))
        for row, name in rows
    ]


def credit_enhancement(
    session: Session, kit: Kit, enhancement_id: int, version: int | None = None
) -> dict[str, Any]:
    """Record accepted enhancement ``enhancement_id`` in the kit's ``enhancements.toml``
    (shipping in ``version``, by default the one after ``kit.toml``'s)."""
    found = {e.id: e for e in accepted_enhancements(session, kit)}
    if enhancement_id not in found:
        raise UserError(
            f"enhancement {enhancement_id} is not an accepted enhancement of {kit.id} "
            "(staff accept it on the platform first)",
            field="enhancement",
        )
    enhancement = found[enhancement_id]
    if enhancement.in_version is not None:
        raise UserError(
            f"enhancement {enhancement_id} is already in {kit.id} version {enhancement.in_version}",
            field="enhancement",
        )
    entry = {
        "id": enhancement.id,
        "group": enhancement.group,
        "kind": enhancement.kind,
        "title": enhancement.title,
        "version": version if version is not None else kit.version + 1,
    }
    lines = ["", "[[credit]]"] + [f"{key} = {json.dumps(value)}" for key, value in entry.items()]
    path = kit.root / CREDITS_FILE
    header = "" if path.is_file() else (
        f"# Enhancements of {kit.id} by groups of earlier terms (sai kit credit).\n"
    )  # fmt: skip
    with path.open("a") as out:
        out.write(header + "\n".join(lines) + "\n")
    return entry
