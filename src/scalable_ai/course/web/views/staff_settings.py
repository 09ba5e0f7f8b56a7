"""The instructor's settings page (issue 13): where questions and hand-ins happen (the
syllabus's Ed and Gradescope, switched on by giving their https link; empty means this
platform) and whether sign-in must go through the institution's OpenID Connect provider.
Everything else stays with ``sai course settings``. Rules: ``policy.settings``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from scalable_ai.course.service.course import settings_of
from scalable_ai.course.service.setup import update_settings
from scalable_ai.course.web.visit import Visit, checked_form, open_visit
from scalable_ai.errors import UserError

router = APIRouter(prefix="/staff")
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]


@router.get("/settings")
def settings_page(visit: VisitDep) -> Response:
    visit.staff()
    return visit.page(
        "staff/settings.html",
        title="Course settings",
        active="/staff/settings",
        course=settings_of(visit.db),
        oidc_configured=bool(visit.state.settings.oidc_issuer),
        oidc_name=visit.state.settings.oidc_name,
    )


@router.post("/settings")
def save(visit: VisitDep, form: FormDep) -> Response:
    visit.staff()
    require_oidc = str(form.get("require_oidc") or "") == "on"

    def use_case() -> Any:
        if require_oidc and not visit.state.settings.oidc_issuer:
            raise UserError(
                "no OpenID Connect provider is configured (SAI_OIDC_ISSUER); requiring it "
                "would lock everyone out",
                field="require_oidc",
            )
        return update_settings(
            visit.db,
            visit.actor(),
            {
                "ed_url": str(form.get("ed_url") or "").strip(),
                "gradescope_url": str(form.get("gradescope_url") or "").strip(),
                "require_oidc": require_oidc,
            },
            clock=visit.state.clock,
        )

    return visit.act(use_case, back="/staff/settings", ok="Course settings saved.", keep=form)
