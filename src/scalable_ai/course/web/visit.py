"""One page request as the views see it: who is signed in, their database session, the clock.

Permission checks sit at this one gate (Django's habit): a view asks ``visit.person()`` or
``visit.staff()`` and never looks at roles itself. The service layer checks again with the
:class:`Actor` it is given, so a page can never do more than the API allows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scalable_ai.course.db import take_write_lock
from scalable_ai.course.web.navigation import grouped_navigation
from scalable_ai.course.web.rendering import render_template
from scalable_ai.course.web.security import (
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    CookieSession,
    csrf_matches,
)
from scalable_ai.errors import Forbidden, UserError

if TYPE_CHECKING:
    from scalable_ai.course.tables import Person
    from scalable_ai.course.web.app import WebState


T = TypeVar("T")
#: A form has at most this many files and fields (Starlette's defaults are 1000 each).
MAX_FORM_FILES = 4
MAX_FORM_FIELDS = 400


class SignInRequired(Exception):
    """Raised by :meth:`Visit.person` for a visitor without a session; answered by a redirect."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class CsrfRefused(UserError):
    """A form came without this session's CSRF token (another site, or a stale page)."""

    status_code = 403


@dataclass
class Visit:
    request: Request
    state: WebState
    db: Session
    session: CookieSession
    _person: Person | None = None
    _person_loaded: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def now(self) -> datetime:
        return self.state.clock.now()

    def signed_in(self) -> Person | None:
        """The signed-in person, or None. An unknown, expired or revoked session token (signed
        out elsewhere, account deactivated) counts as signed out."""
        if not self._person_loaded:
            self._person_loaded = True
            if self.session.token:
                from scalable_ai.course.service.credentials import person_for_web_session

                person = person_for_web_session(self.db, self.session.token, clock=self.state.clock)
                if self.request.method in ("GET", "HEAD"):
                    self._discard_pending_changes()
                if person is None:
                    self.session.sign_out()
                self._person = person
        return self._person

    def _discard_pending_changes(self) -> None:
        """A page view never writes: drop the session's "last seen" stamp so that reading a
        page takes no write lock (SQLite has one writer; 50 readers must not queue on it)."""
        for row in list(self.db.dirty):
            self.db.expire(row)

    def begin_write(self) -> None:
        """End the page's read snapshot and start the use case's transaction holding the
        write lock (``course.db.take_write_lock``; SQLite only, PostgreSQL locks rows).

        SQLite lets one connection write at a time: a transaction that read first and
        writes later fails at once ("database is locked") if another writer committed in
        between, while one that takes the lock first waits its turn (``busy_timeout``).
        """
        self.db.rollback()
        take_write_lock(self.db)

    def person(self) -> Person:
        """The signed-in person; anyone else is sent to the sign-in page and back here."""
        person = self.signed_in()
        if person is None:
            raise SignInRequired(self.request.url.path)
        return person

    def staff(self) -> Person:
        """The signed-in staff member; a student gets 403 (staff pages refuse students)."""
        person = self.person()
        if not person.is_staff:
            raise Forbidden("this page is for the teaching staff", field="role")
        return person

    def actor(self) -> Any:
        """The service layer's Actor for the signed-in person."""
        from scalable_ai.course.web.bridge import actor_for

        return actor_for(self.person())

    def act(
        self,
        use_case: Callable[[], T],
        *,
        back: str,
        ok: str | Callable[[T], str],
        warn: Callable[[T], Sequence[str]] | None = None,
        keep: Mapping[str, Any] | None = None,
        then: Callable[[T], str] | None = None,
    ) -> Response:
        """Run one use case as one unit of work and answer post/redirect/get: commit and go to
        ``back`` with ``ok`` shown (and each of ``warn``'s warnings: done, but staff should
        look), or roll back and show the rule that refused it, in words, with the text fields
        of ``keep`` (the form) filled in again on the page. ``then`` names the page to go to
        after success when it depends on the result (the new thread, not the list)."""
        try:
            self.begin_write()
            result = use_case()
            self.db.commit()
        except UserError as exc:
            self.db.rollback()
            if keep:
                self.session.keep_typed(
                    {k: v for k, v in keep.items() if isinstance(v, str) and k != "csrf_token"}
                )
            return self.redirect(back, error=refusal(exc))
        except IntegrityError:
            self.db.rollback()
            return self.redirect(
                back,
                error="this conflicts with a change made at the same time; reload and try again",
            )
        self.session.flash("ok", ok(result) if callable(ok) else ok)
        for warning in warn(result) if warn is not None else ():
            self.session.flash("warning", warning)
        return self.redirect(then(result) if then is not None else back)

    # Responses ---------------------------------------------------------------------------

    def page(
        self, template: str, *, title: str, active: str = "", status_code: int = 200, **context: Any
    ) -> Response:
        me = self.signed_in()
        values = {
            "title": title,
            "active": active,
            "me": me,
            "is_staff": bool(me and me.is_staff),
            "nav": self.state.navigation(me),
            "nav_groups": grouped_navigation(self.state.navigation(me)),
            "where": self.where(),
            "now": self.now,
            "clock_pinned": self.state.clock.pinned,
            "csrf_token": self.session.csrf,
            "flashes": self.session.take_flashes(),
            "typed": self.session.take_typed(),
            "bell": self.bell(me),
            **context,
        }
        html = render_template(self.state.templates, template, values)
        return self.finish(HTMLResponse(html, status_code=status_code))

    def bell(self, me: Person | None) -> int:
        """The bell's number: the signed-in person's unread notifications (issue 13)."""
        if me is None:
            return 0
        from scalable_ai.course.notify.events import unread_count

        return unread_count(self.db, me.id)

    def where(self) -> dict[str, str]:
        """Where questions and hand-ins go (``settings.ed_url`` / ``gradescope_url``; empty:
        on this platform), for the footer and the pages that say it."""
        from scalable_ai.course.service.course import settings_of

        try:
            settings = settings_of(self.db)
        except UserError:
            return {"ed_url": "", "gradescope_url": ""}
        return {"ed_url": settings.ed_url, "gradescope_url": settings.gradescope_url}

    def redirect(self, url: str, *, ok: str | None = None, error: str | None = None) -> Response:
        """Post/redirect/get: a form answers with a redirect and a one-time message."""
        if ok:
            self.session.flash("ok", ok)
        if error:
            self.session.flash("error", error)
        return self.finish(RedirectResponse(url, status_code=303))

    def finish(self, response: Response) -> Response:
        """Write the session cookie back when it changed."""
        if self.session.changed:
            response.set_cookie(
                SESSION_COOKIE,
                self.state.codec.dumps(self.session),
                max_age=SESSION_MAX_AGE_S,
                httponly=True,
                samesite="lax",
                secure=self.request.url.scheme == "https",
                path="/",
            )
        return response


def refusal(exc: UserError) -> str:
    """A refusal as a page shows it: the rule's message in words, without the internal field
    name the API and CLI prefix ("confirm_slack_day: …" was what students read)."""
    return exc.message.strip()


def sign_in_url(next_url: str) -> str:
    return f"/sign-in?next={quote(next_url)}"


def open_visit(request: Request) -> Iterator[Visit]:
    """FastAPI dependency: a Visit with its own database session, committed by each use case
    (the service layer's unit of work) and closed after the response."""
    state: WebState = request.app.state.web
    session = state.codec.loads(request.cookies.get(SESSION_COOKIE))
    db = state.sessions()
    try:
        yield Visit(request=request, state=state, db=db, session=session)
    finally:
        db.close()


#: The forms a visitor posts before signing in; every other form needs a live session.
PUBLIC_FORMS = frozenset({"/sign-in"})
#: A browser's own word on where a request comes from (``Sec-Fetch-Site``): other sites'
#: pages may not post our forms even when they carry a stolen token.
CROSS_SITE = "cross-site"


def _from_another_site(request: Request) -> bool:
    """True when the browser says the form comes from another site (``Sec-Fetch-Site`` or an
    ``Origin`` that is not this host)."""
    if request.headers.get("sec-fetch-site", "").lower() == CROSS_SITE:
        return True
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return False
    return urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()


def _live_person_id(state: WebState, token: str) -> int | None:
    """The person behind a web-session token, read in a session of its own (no write)."""
    from scalable_ai.course.service.credentials import person_for_web_session

    db = state.sessions()
    try:
        person = person_for_web_session(db, token, clock=state.clock)
        return None if person is None else person.id
    finally:
        db.rollback()
        db.close()


async def checked_form(request: Request) -> dict[str, Any]:
    """FastAPI dependency for every POST form: refuses a form from another site, without the
    session cookie, or (but for sign-in) without a live session *before reading the body*
    (issue 21: a 2 GiB anonymous post to /sign-in used to be read whole first), then parses
    it (the route's body limit bounds it while it streams) and refuses a missing or wrong CSRF
    token with 403 before the view runs. Files stay as UploadFile values."""
    state: WebState = request.app.state.web
    refusal = CsrfRefused(
        "the form's security token is missing or out of date; reload the page and try again",
        field="csrf_token",
    )
    if _from_another_site(request) or SESSION_COOKIE not in request.cookies:
        raise refusal
    session = state.codec.loads(request.cookies.get(SESSION_COOKIE))
    if request.url.path not in PUBLIC_FORMS:
        token = session.token
        if not token or await run_in_threadpool(_live_person_id, state, token) is None:
            raise SignInRequired(_back_to(request))
    form = await request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS)
    if not csrf_matches(session, form.get("csrf_token")):  # type: ignore[arg-type]
        raise refusal
    values: dict[str, Any] = {}
    for key in form:
        items = form.getlist(key)
        values[key] = items if len(items) > 1 else items[0]
    return values


def _back_to(request: Request) -> str:
    """Where to return after signing in: the page a form was posted from, when it is ours."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.path.startswith("/") and referer.netloc == request.headers.get("host", ""):
        return referer.path
    return "/"
