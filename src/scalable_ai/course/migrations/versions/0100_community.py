"""community: the onboarding questionnaire and group proposals, Q&A threads and posts with
infrastructure tickets, lecture-note comments and scribe notes, the participation ledger,
assignment enhancements, research directions and project deliverables

Revision ID: 0100
Revises: 0001
Create Date: 2026-11-26 01:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0100"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "questionnaire_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=48), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("measures_experience", sa.Boolean(), nullable=False),
        sa.Column("flagged_options", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_questions")),
        sa.UniqueConstraint("key", name=op.f("uq_questionnaire_questions_key")),
    )
    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lecture_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("marked_at", sa.DateTime(), nullable=False),
        sa.Column("marked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lecture_id"], ["lectures.id"], name=op.f("fk_attendance_lecture_id_lectures")
        ),
        sa.ForeignKeyConstraint(
            ["marked_by_id"], ["people.id"], name=op.f("fk_attendance_marked_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_attendance_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance")),
        sa.UniqueConstraint(
            "lecture_id", "person_id", name=op.f("uq_attendance_lecture_id_person_id")
        ),
    )
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attendance_lecture_id"), ["lecture_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attendance_person_id"), ["person_id"], unique=False)

    op.create_table(
        "enrollment_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("enrolled", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["people.id"],
            name=op.f("fk_enrollment_decisions_decided_by_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_enrollment_decisions_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment_decisions")),
        sa.UniqueConstraint("person_id", name=op.f("uq_enrollment_decisions_person_id")),
    )
    op.create_table(
        "forum_threads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("announcement", sa.Boolean(), nullable=False),
        sa.Column("lecture_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["people.id"], name=op.f("fk_forum_threads_author_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["lecture_id"], ["lectures.id"], name=op.f("fk_forum_threads_lecture_id_lectures")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forum_threads")),
    )
    with op.batch_alter_table("forum_threads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_forum_threads_announcement"), ["announcement"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_forum_threads_author_id"), ["author_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_forum_threads_category"), ["category"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_forum_threads_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "group_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("honoured_requests", sa.Integer(), nullable=False),
        sa.Column("requests_made", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"],
            ["people.id"],
            name=op.f("fk_group_proposals_confirmed_by_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["people.id"], name=op.f("fk_group_proposals_created_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_proposals")),
    )
    op.create_table(
        "lecture_check_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lecture_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("opens_at", sa.DateTime(), nullable=False),
        sa.Column("closes_at", sa.DateTime(), nullable=False),
        sa.Column("opened_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lecture_id"], ["lectures.id"], name=op.f("fk_lecture_check_ins_lecture_id_lectures")
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_id"], ["people.id"], name=op.f("fk_lecture_check_ins_opened_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lecture_check_ins")),
        sa.UniqueConstraint("lecture_id", name=op.f("uq_lecture_check_ins_lecture_id")),
    )
    op.create_table(
        "note_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lecture_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["people.id"], name=op.f("fk_note_comments_author_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["lecture_id"], ["lectures.id"], name=op.f("fk_note_comments_lecture_id_lectures")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note_comments")),
    )
    with op.batch_alter_table("note_comments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_note_comments_author_id"), ["author_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_note_comments_lecture_id"), ["lecture_id"], unique=False
        )

    op.create_table(
        "participation_credits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("credited_at", sa.DateTime(), nullable=False),
        sa.Column("credited_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["credited_by_id"],
            ["people.id"],
            name=op.f("fk_participation_credits_credited_by_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_participation_credits_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participation_credits")),
    )
    with op.batch_alter_table("participation_credits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_participation_credits_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "questionnaire_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_questionnaire_responses_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_responses")),
        sa.UniqueConstraint("person_id", name=op.f("uq_questionnaire_responses_person_id")),
    )
    op.create_table(
        "questionnaires",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("finalized_at", sa.DateTime(), nullable=True),
        sa.Column("finalized_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["finalized_by_id"],
            ["people.id"],
            name=op.f("fk_questionnaires_finalized_by_id_people"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaires")),
    )
    op.create_table(
        "research_directions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("released_on", sa.Date(), nullable=False),
        sa.Column("posted_at", sa.DateTime(), nullable=False),
        sa.Column("posted_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["posted_by_id"], ["people.id"], name=op.f("fk_research_directions_posted_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_research_directions")),
    )
    op.create_table(
        "scribe_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lecture_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("sources_statement", sa.Text(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("feedback", sa.Text(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lecture_id"], ["lectures.id"], name=op.f("fk_scribe_notes_lecture_id_lectures")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_scribe_notes_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["people.id"], name=op.f("fk_scribe_notes_reviewed_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scribe_notes")),
        sa.UniqueConstraint(
            "lecture_id",
            "person_id",
            "version",
            name=op.f("uq_scribe_notes_lecture_id_person_id_version"),
        ),
    )
    with op.batch_alter_table("scribe_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scribe_notes_lecture_id"), ["lecture_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_scribe_notes_person_id"), ["person_id"], unique=False)

    op.create_table(
        "direction_choices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("direction_id", sa.Integer(), nullable=True),
        sa.Column("own_title", sa.String(length=200), nullable=False),
        sa.Column("own_summary", sa.Text(), nullable=False),
        sa.Column("chosen_at", sa.DateTime(), nullable=False),
        sa.Column("chosen_by_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("feedback", sa.Text(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["chosen_by_id"], ["people.id"], name=op.f("fk_direction_choices_chosen_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["direction_id"],
            ["research_directions.id"],
            name=op.f("fk_direction_choices_direction_id_research_directions"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["project_groups.id"],
            name=op.f("fk_direction_choices_group_id_project_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"],
            ["people.id"],
            name=op.f("fk_direction_choices_reviewed_by_id_people"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_direction_choices")),
        sa.UniqueConstraint("group_id", name=op.f("uq_direction_choices_group_id")),
    )
    op.create_table(
        "enhancements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(), nullable=False),
        sa.Column("proposed_by_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("feedback", sa.Text(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_enhancements_assignment_id_assignments"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["project_groups.id"],
            name=op.f("fk_enhancements_group_id_project_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_id"], ["people.id"], name=op.f("fk_enhancements_proposed_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["people.id"], name=op.f("fk_enhancements_reviewed_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enhancements")),
    )
    with op.batch_alter_table("enhancements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enhancements_assignment_id"), ["assignment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_enhancements_group_id"), ["group_id"], unique=False)

    op.create_table(
        "forum_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("endorsed_at", sa.DateTime(), nullable=True),
        sa.Column("endorsed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["people.id"], name=op.f("fk_forum_posts_author_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["endorsed_by_id"], ["people.id"], name=op.f("fk_forum_posts_endorsed_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"], ["forum_threads.id"], name=op.f("fk_forum_posts_thread_id_forum_threads")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forum_posts")),
    )
    with op.batch_alter_table("forum_posts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_forum_posts_author_id"), ["author_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_forum_posts_thread_id"), ["thread_id"], unique=False)

    op.create_table(
        "infra_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("job_ids", sa.Text(), nullable=False),
        sa.Column("logs", sa.Text(), nullable=False),
        sa.Column("repro", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(), nullable=False),
        sa.Column("status_changed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_infra_tickets_node_id_nodes")
        ),
        sa.ForeignKeyConstraint(
            ["status_changed_by_id"],
            ["people.id"],
            name=op.f("fk_infra_tickets_status_changed_by_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["forum_threads.id"],
            name=op.f("fk_infra_tickets_thread_id_forum_threads"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_infra_tickets")),
        sa.UniqueConstraint("thread_id", name=op.f("uq_infra_tickets_thread_id")),
    )
    with op.batch_alter_table("infra_tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_infra_tickets_node_id"), ["node_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_infra_tickets_status"), ["status"], unique=False)

    op.create_table(
        "project_deliverables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("link", sa.String(length=1000), nullable=False),
        sa.Column("code_link", sa.String(length=1000), nullable=False),
        sa.Column("evidence_kind", sa.String(length=32), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("integrity_statement", sa.Text(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("deadline", sa.DateTime(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("feedback", sa.Text(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["project_groups.id"],
            name=op.f("fk_project_deliverables_group_id_project_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"],
            ["people.id"],
            name=op.f("fk_project_deliverables_reviewed_by_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"],
            ["people.id"],
            name=op.f("fk_project_deliverables_submitted_by_id_people"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_deliverables")),
        sa.UniqueConstraint(
            "group_id",
            "kind",
            "version",
            name=op.f("uq_project_deliverables_group_id_kind_version"),
        ),
    )
    with op.batch_alter_table("project_deliverables", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_project_deliverables_group_id"), ["group_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("project_deliverables", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_deliverables_group_id"))

    op.drop_table("project_deliverables")
    with op.batch_alter_table("infra_tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_infra_tickets_status"))
        batch_op.drop_index(batch_op.f("ix_infra_tickets_node_id"))

    op.drop_table("infra_tickets")
    with op.batch_alter_table("forum_posts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_forum_posts_thread_id"))
        batch_op.drop_index(batch_op.f("ix_forum_posts_author_id"))

    op.drop_table("forum_posts")
    with op.batch_alter_table("enhancements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enhancements_group_id"))
        batch_op.drop_index(batch_op.f("ix_enhancements_assignment_id"))

    op.drop_table("enhancements")
    op.drop_table("direction_choices")
    with op.batch_alter_table("scribe_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scribe_notes_person_id"))
        batch_op.drop_index(batch_op.f("ix_scribe_notes_lecture_id"))

    op.drop_table("scribe_notes")
    op.drop_table("research_directions")
    op.drop_table("questionnaires")
    op.drop_table("questionnaire_responses")
    with op.batch_alter_table("participation_credits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participation_credits_person_id"))

    op.drop_table("participation_credits")
    with op.batch_alter_table("note_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_note_comments_lecture_id"))
        batch_op.drop_index(batch_op.f("ix_note_comments_author_id"))

    op.drop_table("note_comments")
    op.drop_table("lecture_check_ins")
    op.drop_table("group_proposals")
    with op.batch_alter_table("forum_threads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_forum_threads_created_at"))
        batch_op.drop_index(batch_op.f("ix_forum_threads_category"))
        batch_op.drop_index(batch_op.f("ix_forum_threads_author_id"))
        batch_op.drop_index(batch_op.f("ix_forum_threads_announcement"))

    op.drop_table("forum_threads")
    op.drop_table("enrollment_decisions")
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendance_person_id"))
        batch_op.drop_index(batch_op.f("ix_attendance_lecture_id"))

    op.drop_table("attendance")
    op.drop_table("questionnaire_questions")
