"""Project groups (4-6 students, one node each), their membership history and invitations,
and multi-node reservations that join several groups' nodes for a bounded window.

Membership is a history (joined, left), never a counter: slack-day balances and grade
explanations are computed per member from ledgers, so a student who changes group
mid-semester keeps the right balance.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scalable_ai.course.tables.base import Base
from scalable_ai.course.tables.people import Person
from scalable_ai.course.tables.syllabus import Node


class Group(Base):
    """A project group; ``node_id`` is its one H100 node once assigned."""

    __tablename__ = "project_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    node_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"), unique=True)
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    confirmed_at: Mapped[datetime | None]
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    project_title: Mapped[str | None] = mapped_column(String(300))

    node: Mapped[Node | None] = relationship(lazy="joined")
    memberships: Mapped[list[GroupMembership]] = relationship(
        back_populates="group", lazy="selectin", order_by="GroupMembership.id"
    )

    @property
    def members(self) -> list[Person]:
        return [m.person for m in self.memberships if m.left_at is None]


class GroupMembership(Base):
    """A student's time in a group; at most one open membership per student."""

    __tablename__ = "group_memberships"
    __table_args__ = (
        Index(
            "uq_group_memberships_open_person",
            "person_id",
            unique=True,
            sqlite_where=text("left_at IS NULL"),
            postgresql_where=text("left_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("project_groups.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None]

    group: Mapped[Group] = relationship(back_populates="memberships")
    person: Mapped[Person] = relationship(lazy="joined")


class GroupInvitation(Base):
    """A member's invitation to another student; answered once (accepted or declined)."""

    __tablename__ = "group_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("project_groups.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    accepted: Mapped[bool | None]


class Reservation(Base):
    """Several groups' nodes joined for one window; active only once every owner consents."""

    __tablename__ = "reservations"

    id: Mapped[int] = mapped_column(primary_key=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    purpose: Mapped[str] = mapped_column(Text, default="")
    rendezvous_id: Mapped[str] = mapped_column(String(64))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))

    nodes: Mapped[list[ReservationNode]] = relationship(
        back_populates="reservation", lazy="selectin", order_by="ReservationNode.id"
    )

    @property
    def consented(self) -> bool:
        return all(n.consented_at is not None for n in self.nodes)


class ReservationNode(Base):
    """One node in a reservation, with its owning group's consent."""

    __tablename__ = "reservation_nodes"
    __table_args__ = (UniqueConstraint("reservation_id", "node_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reservation_id: Mapped[int] = mapped_column(ForeignKey("reservations.id"), index=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("project_groups.id"))
    consented_at: Mapped[datetime | None]
    consented_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))

    reservation: Mapped[Reservation] = relationship(back_populates="nodes")
    node: Mapped[Node] = relationship(lazy="joined")
    group: Mapped[Group] = relationship(lazy="joined")

    @property
    def group_name(self) -> str:
        return self.group.name
