"""The course as published: settings, assignments, milestones, lectures, the calendar; and
the staff's schedule changes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from sqlalchemy import select

from scalable_ai.course.api.context import Public, SignedIn
from scalable_ai.course.api.schemas import (
    AssignmentOut,
    ClockOut,
    CourseOut,
    LectureMoveIn,
    LectureOut,
    LectureRetitleIn,
    LectureSwapIn,
    MilestoneOut,
    PersonOut,
)
from scalable_ai.course.service import people, setup
from scalable_ai.course.service.course import due_at, load_course, settings_of
from scalable_ai.course.service.credentials import person_for_calendar_token
from scalable_ai.course.service.schedule import (
    calendar_ics,
    personal_calendar_ics,
    schedule_markdown,
)
from scalable_ai.course.tables import Assignment, Lecture, Milestone
from scalable_ai.errors import NotFound

router = APIRouter(tags=["course"])
LectureKey = Annotated[str, Path(max_length=16, pattern=r"^[A-Za-z0-9]+$")]


@router.get(
    "/clock",
    response_model=ClockOut,
    summary="The course clock: now, and whether SAI_NOW pins it (not the wall clock)",
)
def course_clock(public: Public) -> ClockOut:
    clock = public[1]
    return ClockOut(now=clock.now(), pinned=clock.pinned)


@router.get("/course", response_model=CourseOut, summary="The course and its settings")
def course(public: Public) -> object:
    return load_course(public[0])


@router.patch(
    "/course/settings",
    response_model=CourseOut,
    summary="Change course settings (staff; validated as a whole)",
)
def update_settings(call: SignedIn, body: dict[str, Any]) -> object:
    return setup.update_settings(call.session, call.actor, body, clock=call.clock)


@router.get("/staff", response_model=list[PersonOut], summary="The teaching staff")
def staff(public: Public) -> object:
    return people.list_staff(public[0])


@router.get(
    "/assignments",
    response_model=list[AssignmentOut],
    summary="A1–A5 with release dates and deadlines",
)
def assignments(public: Public) -> object:
    session = public[0]
    settings = settings_of(session)
    return [
        AssignmentOut(
            key=a.key,
            title=a.title,
            released_on=a.released_on,
            due_on=a.due_on,
            due_at=due_at(a, settings),
        )
        for a in session.scalars(select(Assignment).order_by(Assignment.key))
    ]


@router.get("/milestones", response_model=list[MilestoneOut])
def milestones(public: Public) -> object:
    return public[0].scalars(select(Milestone).order_by(Milestone.day, Milestone.id)).all()


@router.get("/lectures", response_model=list[LectureOut])
def lectures(public: Public) -> object:
    return public[0].scalars(select(Lecture).order_by(Lecture.held_on)).all()


@router.post(
    "/lectures/{key}/move",
    response_model=list[LectureOut],
    summary="Move a lecture to another meeting day (staff)",
)
def move_lecture(call: SignedIn, key: LectureKey, body: LectureMoveIn) -> object:
    return setup.move_lecture(call.session, call.actor, key, day=body.day, clock=call.clock)


@router.post(
    "/lectures/{key}/retitle",
    response_model=list[LectureOut],
    summary="Give a lecture a new title (staff)",
)
def retitle_lecture(call: SignedIn, key: LectureKey, body: LectureRetitleIn) -> object:
    return setup.retitle_lecture(call.session, call.actor, key, title=body.title, clock=call.clock)


@router.post(
    "/lectures/swap",
    response_model=list[LectureOut],
    summary="Exchange the days of two lectures (staff)",
)
def swap_lectures(call: SignedIn, body: LectureSwapIn) -> object:
    return setup.swap_lectures(call.session, call.actor, body.first, body.second, clock=call.clock)


@router.get(
    "/calendar.ics",
    response_class=Response,
    summary="The course calendar (RFC 5545)",
    responses={200: {"content": {"text/calendar": {}}}},
)
def calendar(public: Public) -> Response:
    session, clock = public
    return Response(calendar_ics(session, clock=clock), media_type="text/calendar")


@router.get(
    "/calendar/feed/{token}.ics",
    response_class=Response,
    summary="A personal calendar feed (the token is revocable)",
    responses={200: {"content": {"text/calendar": {}}}},
)
def calendar_feed(public: Public, token: Annotated[str, Path(max_length=100)]) -> Response:
    session, clock = public
    person = person_for_calendar_token(session, token)
    if person is None:
        raise NotFound("this calendar link is unknown or was revoked", field="token")
    return Response(personal_calendar_ics(session, person, clock=clock), media_type="text/calendar")


@router.get(
    "/schedule.md",
    response_class=Response,
    summary="The schedule as Markdown",
    responses={200: {"content": {"text/markdown": {}}}},
)
def schedule(public: Public) -> Response:
    return Response(schedule_markdown(public[0]), media_type="text/markdown")
