"""The notifications worker: every minute, the deadline reminders, then e-mail for each
notification and the daily digests (``sai notify``; ``sai up`` starts it as a child that
dies with it). Each step is its own unit of work, so a mail server that is away delays
mail and loses nothing."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass

from sqlalchemy import Engine

from scalable_ai.course.clock import Clock
from scalable_ai.course.db import unit_of_work
from scalable_ai.course.notify.mail import Mailer, deliver, send_digests
from scalable_ai.course.notify.reminders import remind_deadlines


@dataclass(frozen=True)
class Round:
    reminders: int
    emails: int
    digests: int


def run_once(engine: Engine, clock: Clock, mailer: Mailer | None) -> Round:
    with unit_of_work(engine, write=True) as session:
        reminders = remind_deadlines(session, clock=clock)
    emails = digests = 0
    if mailer is not None:
        with unit_of_work(engine, write=True) as session:
            emails = deliver(session, mailer, clock=clock)
        with unit_of_work(engine, write=True) as session:
            digests = send_digests(session, mailer, clock=clock)
    return Round(reminders, emails, digests)


def work(
    engine: Engine,
    clock: Clock,
    mailer: Mailer | None,
    *,
    every_s: float = 60,
    stop: threading.Event | None = None,
    first_after_s: float = 0,
) -> None:
    """A round every ``every_s`` seconds until ``stop``; the first after ``first_after_s``
    (``sai up`` starts the platform, the model server and two workers at once: the reminders
    can wait until the pages answer)."""
    stop = stop or threading.Event()
    stop.wait(first_after_s)
    while not stop.is_set():
        try:
            run_once(engine, clock, mailer)
        except Exception as exc:  # the mail server or database is away: say so, retry
            print(f"notifications: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        stop.wait(every_s)


def main() -> None:
    """The process ``sai up`` starts, on the course database and clock from the environment."""
    from scalable_ai.course.clock import clock_from_env
    from scalable_ai.course.db import make_engine
    from scalable_ai.course.notify.mail import mailer_from_settings
    from scalable_ai.kits.worker import _die_with_parent
    from scalable_ai.settings import get_settings

    engine = make_engine(get_settings().database_url)
    try:
        work(
            engine,
            clock_from_env(),
            mailer_from_settings(),
            stop=_die_with_parent(),
            first_after_s=20,
        )
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
