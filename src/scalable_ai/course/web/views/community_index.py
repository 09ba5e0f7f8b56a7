"""All community pages in one router (the web app mounts this module like any view module),
and their entries in the main navigation.

Pages: Q&A and tickets (:mod:`.community_qa`), the questionnaire
(:mod:`.community_onboarding`), lecture notes and scribe notes (:mod:`.community_notes`),
attendance and participation (:mod:`.community_participation`), the project and enhancements
(:mod:`.community_project`) and the public course site (:mod:`.community_site`).
"""

from __future__ import annotations

import importlib

from fastapi import APIRouter

PAGE_MODULES = (
    "community_site",
    "community_qa",
    "community_qa_posts",
    "community_onboarding",
    "community_notes",
    "community_participation",
    "community_project",
)

STUDENT_LINKS = [
    ("/qa", "Q&A"),
    ("/questionnaire", "Questionnaire"),
    ("/lectures", "Lecture notes"),
    ("/check-in", "Check in"),
    ("/project", "Project"),
    ("/participation", "Participation"),
]
STAFF_LINKS = [
    ("/qa", "Q&A"),
    ("/questionnaire", "Questionnaire"),
    ("/staff/scribe-notes", "Scribe notes"),
    ("/staff/attendance", "Attendance"),
    ("/staff/participation", "Participation"),
    ("/staff/project", "Project"),
]

router = APIRouter()
for _name in PAGE_MODULES:
    router.include_router(importlib.import_module(f"scalable_ai.course.web.views.{_name}").router)


def extend_navigation(student_nav: list[tuple[str, str]], staff_nav: list[tuple[str, str]]) -> None:
    """Add the community pages to the navigation lists (before "Account"; idempotent)."""
    for nav, links in ((student_nav, STUDENT_LINKS), (staff_nav, STAFF_LINKS)):
        for link in links:
            if link not in nav:
                at = next((i for i, (href, _) in enumerate(nav) if href == "/account"), len(nav))
                nav.insert(at, link)


def _install_navigation() -> None:
    from scalable_ai.course.web import app

    extend_navigation(app.STUDENT_NAV, app.STAFF_NAV)


_install_navigation()
