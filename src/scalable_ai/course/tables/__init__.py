"""The course's tables (SQLAlchemy 2 typed models), one module per family; import from here."""

# The community tables (forum, questionnaire, attendance, ...) register on the same metadata,
# so Alembic, backups and the schema checks see every table.
from scalable_ai.course.tables import community, notifications, qa  # noqa: F401  (tables)
from scalable_ai.course.tables.activities import (
    PeerReviewAssignment,
    ScribeAssignment,
    SignupSlot,
    SlotSignup,
)
from scalable_ai.course.tables.audit import AuditEntry
from scalable_ai.course.tables.base import Base, UTCDateTime
from scalable_ai.course.tables.grading import GradingJob
from scalable_ai.course.tables.groups import (
    Group,
    GroupInvitation,
    GroupMembership,
    Reservation,
    ReservationNode,
)
from scalable_ai.course.tables.peer_reviews import PeerReview
from scalable_ai.course.tables.people import (
    ROLES,
    ApiToken,
    CalendarToken,
    Person,
    SignInLimit,
    SshKey,
    WebSession,
)
from scalable_ai.course.tables.syllabus import Assignment, CourseRecord, Lecture, Milestone, Node
from scalable_ai.course.tables.work import DeadlineException, Score, SlackDayUse, Submission
from scalable_ai.course.tables.written import CheckoffGrade, RubricItemPoints, WrittenAnswer

__all__ = [
    "ROLES",
    "ApiToken",
    "Assignment",
    "AuditEntry",
    "Base",
    "CalendarToken",
    "CheckoffGrade",
    "CourseRecord",
    "DeadlineException",
    "GradingJob",
    "Group",
    "GroupInvitation",
    "GroupMembership",
    "Lecture",
    "Milestone",
    "Node",
    "PeerReview",
    "PeerReviewAssignment",
    "Person",
    "Reservation",
    "ReservationNode",
    "RubricItemPoints",
    "Score",
    "ScribeAssignment",
    "SignInLimit",
    "SignupSlot",
    "SlackDayUse",
    "SlotSignup",
    "SshKey",
    "Submission",
    "UTCDateTime",
    "WebSession",
    "WrittenAnswer",
]
