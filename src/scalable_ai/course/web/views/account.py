"""Signing in and out (rate-limited, argon2-checked) and the account page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from scalable_ai.course.web.oidc import sign_in_choices
from scalable_ai.course.web.security import verify_password
from scalable_ai.course.web.visit import Visit, checked_form, open_visit

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]


def _safe_next(target: str | None) -> str:
    """Only same-site paths: ``next=https://evil.example`` must not redirect off the platform."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 for c in target)
    ):
        return "/"
    return target


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/sign-in")
def sign_in_page(visit: VisitDep, next: str = "/") -> Response:
    if visit.signed_in() is not None:
        return visit.redirect(_safe_next(next))
    return visit.page(
        "sign_in.html",
        title="Sign in",
        next_url=_safe_next(next),
        email="",
        error=None,
        **sign_in_choices(visit.state.settings, visit.db),
    )


@router.post("/sign-in")
def sign_in(visit: VisitDep, form: FormDep) -> Response:
    """Check the password. Each attempt first takes a slot (``SignInLimiter.take``: 5 per
    account at one client address and 20 per client in 5 minutes, counted atomically in the
    database); without one it is refused with 429 and no password is checked. An unknown
    account is checked against a dummy hash, so it takes as long as a known one."""
    from scalable_ai.course.service.credentials import start_web_session
    from scalable_ai.course.service.people import find_by_email

    email = str(form.get("email") or "").strip().lower()[:320]
    password = str(form.get("password") or "")[:1024]
    next_url = _safe_next(str(form.get("next") or "/"))
    client = _client(visit.request)
    choices = sign_in_choices(visit.state.settings, visit.db)
    if choices["oidc_only"]:  # staff require the institution's sign-in (issue 13)
        return visit.page(
            "sign_in.html",
            title="Sign in",
            next_url=next_url,
            email=email,
            status_code=403,
            error=f"this course signs in with {choices['oidc_name']} only",
            **choices,
        )
    limiter = visit.state.limiter
    wait = limiter.take(visit.state.sessions, email, client)
    if wait > 0:
        return visit.page(
            "sign_in.html",
            title="Sign in",
            **sign_in_choices(visit.state.settings, visit.db),
            next_url=next_url,
            email=email,
            status_code=429,
            error=f"too many failed sign-ins from this address: try again in {int(wait) + 1} s",
        )
    person = find_by_email(visit.db, email) if email else None
    right = verify_password(person.password_hash if person is not None else None, password)
    if person is None or not person.active or not right:
        return visit.page(
            "sign_in.html",
            title="Sign in",
            **sign_in_choices(visit.state.settings, visit.db),
            next_url=next_url,
            email=email,
            status_code=401,
            error="e-mail or password is not right",
        )
    limiter.succeeded(visit.state.sessions, email, client)
    person_id = person.id
    visit.begin_write()
    token = start_web_session(
        visit.db, visit.db.get_one(type(person), person_id), clock=visit.state.clock
    )
    visit.db.commit()
    visit.session.sign_in(token)
    return visit.redirect(next_url)


@router.post("/sign-out")
def sign_out(visit: VisitDep, form: FormDep) -> Response:
    from scalable_ai.course.service.credentials import end_web_session

    if visit.session.token:
        visit.begin_write()
        end_web_session(visit.db, visit.session.token, clock=visit.state.clock)
        visit.db.commit()
    visit.session.sign_out()
    return visit.redirect("/sign-in", ok="You are signed out.")


MIN_PASSWORD_LENGTH = 10


def _account_page(visit: Visit, *, feed_url: str | None = None) -> Response:
    from sqlalchemy import select

    from scalable_ai.course.service.credentials import list_ssh_keys
    from scalable_ai.course.tables import CalendarToken

    me = visit.person()
    keys = list_ssh_keys(visit.db, visit.actor(), me.id)
    live_feed = visit.db.scalar(
        select(CalendarToken).where(
            CalendarToken.person_id == me.id, CalendarToken.revoked_at.is_(None)
        )
    )
    return visit.page(
        "account.html",
        title="Account",
        active="/account",
        keys=keys,
        live_feed=live_feed,
        feed_url=feed_url,
        min_password_length=MIN_PASSWORD_LENGTH,
    )


@router.get("/account")
def account(visit: VisitDep) -> Response:
    return _account_page(visit)


@router.post("/account/password")
def change_password(visit: VisitDep, form: FormDep) -> Response:
    """Change one's own password: the current one must be right, the new one long enough."""
    from scalable_ai.course.service.people import set_password_hash
    from scalable_ai.course.web.security import hash_password

    me = visit.person()
    current = str(form.get("current_password") or "")
    new = str(form.get("new_password") or "")
    if not verify_password(me.password_hash, current):
        return visit.redirect("/account", error="current_password: that is not your password")
    if len(new) < MIN_PASSWORD_LENGTH:
        return visit.redirect(
            "/account", error=f"new_password: use at least {MIN_PASSWORD_LENGTH} characters"
        )
    if new != str(form.get("confirm_password") or ""):
        return visit.redirect("/account", error="confirm_password: the two new passwords differ")
    return visit.act(
        lambda: set_password_hash(
            visit.db,
            visit.actor(),
            me.id,
            hash_password(new),
            clock=visit.state.clock,
            keep_web_session=visit.session.token,
        ),
        back="/account",
        ok=lambda change: change.message(),
    )


@router.post("/account/calendar")
def new_calendar_link(visit: VisitDep, form: FormDep) -> Response:
    """Make a fresh feed link (the old one stops working). The link is shown once, on this
    answer: only its hash is stored."""
    from scalable_ai.course.service.credentials import issue_calendar_token

    me = visit.person()
    visit.begin_write()
    token = issue_calendar_token(visit.db, visit.actor(), me.id, clock=visit.state.clock)
    visit.db.commit()
    base = str(visit.request.base_url).rstrip("/")
    return _account_page(visit, feed_url=f"{base}/calendar/{token}.ics")


@router.post("/account/calendar/revoke")
def revoke_calendar_link(visit: VisitDep, form: FormDep) -> Response:
    from scalable_ai.course.service.credentials import revoke_calendar_tokens

    me = visit.person()
    return visit.act(
        lambda: revoke_calendar_tokens(visit.db, visit.actor(), me.id, clock=visit.state.clock),
        back="/account",
        ok="Your calendar feed link no longer works.",
    )


@router.post("/account/ssh-keys")
def add_ssh_key(visit: VisitDep, form: FormDep) -> Response:
    from scalable_ai.course.service.credentials import add_ssh_key as add_key

    me = visit.person()
    return visit.act(
        lambda: add_key(
            visit.db,
            visit.actor(),
            person_id=me.id,
            public_key=str(form.get("public_key") or ""),
            clock=visit.state.clock,
        ),
        back="/account",
        ok=lambda key: (
            f"Key {key.fingerprint} added: it goes into your group's node's authorized_keys."
        ),
    )


@router.post("/account/ssh-keys/{key_id}/remove")
def remove_ssh_key(visit: VisitDep, form: FormDep, key_id: int) -> Response:
    from scalable_ai.course.service.credentials import revoke_ssh_key

    visit.person()
    return visit.act(
        lambda: revoke_ssh_key(visit.db, visit.actor(), key_id, clock=visit.state.clock),
        back="/account",
        ok="Key removed.",
    )
