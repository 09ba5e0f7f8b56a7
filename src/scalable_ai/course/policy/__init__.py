"""The syllabus's rules as pure code: no I/O, no database, "now" always passed in.

One module per rule family; the names below are the public API the service layer, the API
and the CLI use. Everything is a frozen dataclass or a function of its arguments.

- :mod:`.settings`: :class:`CourseSettings` (every course setting, syllabus defaults)
- :mod:`.grading`: components and weights, :func:`compute_grade` → :class:`GradeReport`
- :mod:`.late`: deadlines, the slack-day ledger, approved exceptions, submission verdicts
- :mod:`.groups`: group formation, node assignment, SSH keys, ``authorized_keys``
- :mod:`.nodes`: nodes, multi-node reservations, hostfiles, torchrun args, access rules
- :mod:`.scribing`: scribe assignments; :mod:`.peer_review`: the review derangement
- :mod:`.milestones`: project milestones, sign-up slots
- :mod:`.integrity`: integrity statements; :mod:`.schedule`: lectures and events
- :mod:`.roster`: names and email addresses on the roster
"""

from scalable_ai.course.policy.grading import (
    ASSIGNMENT_KEYS,
    COMPONENT_WEIGHTS,
    COMPONENTS,
    AssignmentParts,
    GradeReport,
    StudentScores,
    compute_grade,
)
from scalable_ai.course.policy.groups import (
    Group,
    SshPublicKey,
    assign_node,
    authorized_keys,
    parse_ssh_public_key,
)
from scalable_ai.course.policy.integrity import IntegrityStatement, integrity_statement
from scalable_ai.course.policy.late import (
    ApprovedException,
    SlackDayUse,
    SubmissionVerdict,
    Verdict,
    deadline_at,
    judge_submission,
    slack_days_left,
    spend_slack_day,
)
from scalable_ai.course.policy.milestones import Milestone, MilestoneKind, SignupSlot, SlotKind
from scalable_ai.course.policy.nodes import Node, Reservation, reservation_plan
from scalable_ai.course.policy.peer_review import assign_peer_reviews
from scalable_ai.course.policy.schedule import (
    Assignment,
    CourseEvent,
    Lecture,
    MeetingPattern,
    Recess,
    schedule_events,
)
from scalable_ai.course.policy.scribing import assign_scribes
from scalable_ai.course.policy.settings import CourseSettings, SlackPool, settings_from_dict

__all__ = [
    "ASSIGNMENT_KEYS",
    "COMPONENTS",
    "COMPONENT_WEIGHTS",
    "ApprovedException",
    "Assignment",
    "AssignmentParts",
    "CourseEvent",
    "CourseSettings",
    "GradeReport",
    "Group",
    "IntegrityStatement",
    "Lecture",
    "MeetingPattern",
    "Milestone",
    "MilestoneKind",
    "Node",
    "Recess",
    "Reservation",
    "SignupSlot",
    "SlackDayUse",
    "SlackPool",
    "SlotKind",
    "SshPublicKey",
    "StudentScores",
    "SubmissionVerdict",
    "Verdict",
    "assign_node",
    "assign_peer_reviews",
    "assign_scribes",
    "authorized_keys",
    "compute_grade",
    "deadline_at",
    "integrity_statement",
    "judge_submission",
    "parse_ssh_public_key",
    "reservation_plan",
    "schedule_events",
    "settings_from_dict",
    "slack_days_left",
    "spend_slack_day",
]
