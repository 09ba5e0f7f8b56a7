"""The two legs of OpenID Connect sign-in (``course.web.oidc``): off to the provider, and
back with a code that becomes a web session for the roster's person with that e-mail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from scalable_ai.course.web import oidc
from scalable_ai.course.web.views.account import _safe_next
from scalable_ai.course.web.visit import Visit, open_visit
from scalable_ai.errors import UserError

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]


def _callback_url(request: Request) -> str:
    return str(request.url_for("oidc_callback"))


def _refused(visit: Visit, message: str, status_code: int = 401) -> Response:
    return visit.page(
        "sign_in.html",
        title="Sign in",
        next_url="/",
        email="",
        status_code=status_code,
        error=message,
        **oidc.sign_in_choices(visit.state.settings, visit.db),
    )


@router.get("/sign-in/oidc")
def oidc_start(visit: VisitDep, next: str = "/") -> Response:
    settings = visit.state.settings
    if not oidc.configured(settings):
        return _refused(visit, "sign-in with the institution is not set up here", 404)
    try:
        url, pending = oidc.start(settings, _callback_url(visit.request), _safe_next(next))
    except UserError as exc:
        return _refused(visit, exc.message, 502)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        oidc.PENDING_COOKIE,
        pending.dumps(),
        max_age=oidc.PENDING_MAX_AGE_S,
        httponly=True,
        samesite="lax",  # the provider's redirect back is a top-level GET: the cookie comes
        secure=visit.request.url.scheme == "https",
        path="/sign-in/oidc",
    )
    return visit.finish(response)


@router.get("/sign-in/oidc/callback", name="oidc_callback")
def oidc_callback(visit: VisitDep) -> Response:
    from scalable_ai.course.service.credentials import start_web_session
    from scalable_ai.course.service.people import find_by_email

    settings = visit.state.settings
    if not oidc.configured(settings):
        return _refused(visit, "sign-in with the institution is not set up here", 404)
    pending = oidc.Pending.loads(visit.request.cookies.get(oidc.PENDING_COOKIE))
    params = {k: v[:2048] for k, v in visit.request.query_params.items()}
    try:
        email = oidc.finish(settings, _callback_url(visit.request), pending, params)
    except UserError as exc:
        return _refused(visit, exc.message)
    person = find_by_email(visit.db, email)
    if person is None or not person.active:
        return _refused(
            visit,
            f"{settings.oidc_name} signed you in as {email}, but nobody on the course roster "
            "has that e-mail: ask the teaching staff to add you",
            403,
        )
    person_id = person.id
    visit.begin_write()
    token = start_web_session(
        visit.db, visit.db.get_one(type(person), person_id), clock=visit.state.clock
    )
    visit.db.commit()
    visit.session.sign_in(token)
    response = visit.redirect(pending.next_url if pending else "/")
    response.delete_cookie(oidc.PENDING_COOKIE, path="/sign-in/oidc")
    return response
