"""``sai notify``: the notifications worker by hand: one round (reminders due, e-mail for
each notification, the daily digests) or, with ``--every``, rounds until stopped."""

from __future__ import annotations

from typing import Annotated

import typer

notify_app = typer.Typer(add_completion=False, help="Send deadline reminders and e-mail.")


@notify_app.command()
def notify(
    every: Annotated[
        float, typer.Option(help="Seconds between rounds; 0 runs one round and stops.")
    ] = 0,
) -> None:
    """Deadline reminders (24 h before, by the course clock), then e-mail through SAI_SMTP_HOST
    (each notification, or the daily digest); without SAI_SMTP_HOST only the bell is fed."""
    from scalable_ai.course.clock import clock_from_env
    from scalable_ai.course.db import make_engine
    from scalable_ai.course.notify.mail import mailer_from_settings
    from scalable_ai.course.notify.worker import run_once, work
    from scalable_ai.settings import get_settings

    engine = make_engine(get_settings().database_url)
    clock, mailer = clock_from_env(), mailer_from_settings()
    try:
        if every > 0:
            typer.echo(f"notifications: a round every {every:g} s (Ctrl-C stops)")
            work(engine, clock, mailer, every_s=every)
            return
        done = run_once(engine, clock, mailer)
        typer.echo(
            f"{done.reminders} deadline reminders, {done.emails} e-mails, "
            f"{done.digests} digests" + ("" if mailer else " (no SAI_SMTP_HOST: bell only)")
        )
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()
