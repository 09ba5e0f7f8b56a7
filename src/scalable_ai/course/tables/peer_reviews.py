"""A group's structured peer review of another group's draft report.

Syllabus, Research Project: "each group will provide a structured, constructive review of
another group's report", and "Technical quality (40%). Assessed on clarity of hypothesis,
technical depth, correctness, experimental rigor, and quality of the final artifact" — so a
review scores those five criteria (1–5) and gives strengths, weaknesses and suggestions.

The row names both groups rather than the pairing's row: staff may re-deal the pairings
(which replaces those rows), and a review already written must survive that.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from scalable_ai.course.tables.base import Base


class PeerReview(Base):
    """Group ``reviewer`` reviews group ``reviewed``'s draft report; one review per pair,
    edited in place until the peer-review deadline."""

    __tablename__ = "peer_reviews"
    __table_args__ = (UniqueConstraint("reviewer_group_id", "reviewed_group_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reviewer_group_id: Mapped[int] = mapped_column(ForeignKey("project_groups.id"), index=True)
    reviewed_group_id: Mapped[int] = mapped_column(ForeignKey("project_groups.id"), index=True)
    clarity_of_hypothesis: Mapped[int]
    technical_depth: Mapped[int]
    correctness: Mapped[int]
    experimental_rigor: Mapped[int]
    artifact_quality: Mapped[int]
    strengths: Mapped[str] = mapped_column(Text)
    weaknesses: Mapped[str] = mapped_column(Text)
    suggestions: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
