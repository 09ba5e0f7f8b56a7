"""Signing in and out (rate-limited, argon2-checked) and the account page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from scalable_ai.course.web.security import verify_password
from scalable_ai.course.web.visit import Visit, checked_form, open_visit

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]


def _safe_next(target: str | None) -> str:
    """Only same-site paths: ``next=https://evil.example`` must not redirect off the platform."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/sign-in")
def sign_in_page(visit: VisitDep, next: str = "/") -> Response:
    if visit.signed_in() is not None:
        return visit.redirect(_safe_next(next))
    return visit.page("sign_in.html", title="Sign in", next_url=_safe_next(next), email="",
                      error=None)


@router.post("/sign-in")
def sign_in(visit: VisitDep, form: FormDep) -> Response:
    """Check the password; after 5 failures for one address (or 20 from one client) within
    5 minutes further tries are refused with 429 whatever the password."""
    from scalable_ai.course.service.credentials import start_web_session
    from scalable_ai.course.service.people import find_by_email

    email = str(form.get("email") or "").strip().lower()
    password = str(form.get("password") or "")
    next_url = _safe_next(str(form.get("next") or "/"))
    client = _client(visit.request)
    limiter = visit.state.limiter
    wait = limiter.retry_after(email, client)
    if wait > 0:
        return visit.page("sign_in.html", title="Sign in", next_url=next_url, email=email,
                          status_code=429,
                          error=f"too many failed sign-ins: try again in {int(wait) + 1} s")
    person = find_by_email(visit.db, email) if email else None
    if person is None or not person.active or not verify_password(person.password_hash, password):
        limiter.record_failure(email, client)
        return visit.page("sign_in.html", title="Sign in", next_url=next_url, email=email,
                          status_code=401, error="e-mail or password is not right")
    limiter.record_success(email)
    token = start_web_session(visit.db, person, clock=visit.state.clock)
    visit.db.commit()
    visit.session.sign_in(token)
    return visit.redirect(next_url)


@router.post("/sign-out")
def sign_out(visit: VisitDep, form: FormDep) -> Response:
    from scalable_ai.course.service.credentials import end_web_session

    if visit.session.token:
        end_web_session(visit.db, visit.session.token, clock=visit.state.clock)
        visit.db.commit()
    visit.session.sign_out()
    return visit.redirect("/sign-in", ok="You are signed out.")
