"""The page views, one module per part of the course; each exports a ``router``."""

from __future__ import annotations

import importlib

from fastapi import FastAPI

VIEW_MODULES: tuple[str, ...] = (
    "account",
    "dashboard",
    "runs",
    "groups",
    "assignments",
    "schedule",
    "nodes",
    "staff",
    "staff_board",
    "activities",
    "peer_review",
    "playground",
)
# issue 5: Q&A, questionnaire, notes, project, site
VIEW_MODULES += ("community_index",)
# issue 13: the running grade and grade book, grading hand-ins in the browser
VIEW_MODULES += ("gradebook", "staff_hand_ins")
# issue 16: conceptual questions answered and graded with the kit's rubric; the checkoff's
VIEW_MODULES += ("written", "checkoff_rubric")
# issue 13: the notification bell, its page and each person's settings
VIEW_MODULES += ("notifications", "staff_settings", "oidc_sign_in")
# issue 19: the course assistant's page beside the playground
VIEW_MODULES += ("assistant",)


def include_views(app: FastAPI) -> None:
    for name in VIEW_MODULES:
        module = importlib.import_module(f"scalable_ai.course.web.views.{name}")
        app.include_router(module.router)
