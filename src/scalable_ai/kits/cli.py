"""``sai kit``: list kits, build what students and Gradescope get, and grade a submission."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from scalable_ai.errors import UserError

kit_app = typer.Typer(help="Assignment kits: bundles, the Gradescope zip, sandboxed grading.")
console = Console()


@kit_app.command("list")
def list_command() -> None:
    """The kits under the kits folder, with their points."""
    from scalable_ai.kits.enhancements import credits
    from scalable_ai.kits.kit import kits_root, list_kits, load_kit

    table = Table("kit", "title", "version", "points", "starter scores", "enhancements")
    for name in list_kits():
        kit = load_kit(name)
        table.add_row(
            kit.id, kit.title, str(kit.version), f"{kit.points:g}", f"{kit.starter_score:g}",
            str(len(credits(kit))),
        )  # fmt: skip
    console.print(table if table.rows else f"no kits under {kits_root()}")


@kit_app.command("build")
def build_command(
    kit_name: str = typer.Argument(..., metavar="KIT", help="A kit's name (A4) or folder."),
    student: bool = typer.Option(False, "--student", help="The student bundle (no solution)."),
    gradescope: bool = typer.Option(False, "--gradescope", help="Gradescope's autograder zip."),
    out: Path = typer.Option(Path("dist"), help="Folder to write the zip into."),
) -> None:
    """Write the student bundle and/or the Gradescope autograder zip."""
    from scalable_ai.kits.bundle import build_gradescope_zip, build_student_bundle
    from scalable_ai.kits.kit import load_kit

    if not (student or gradescope):
        raise UserError("say what to build: --student, --gradescope or both", field="build")
    kit = load_kit(kit_name)
    if student:
        console.print(f"student bundle: {build_student_bundle(kit, out)}")
    if gradescope:
        console.print(f"Gradescope autograder: {build_gradescope_zip(kit, out)}")


@kit_app.command("grade")
def grade_command(
    kit_name: str = typer.Argument(..., metavar="KIT", help="A kit's name (A4) or folder."),
    submission: str = typer.Argument(..., help="A folder, a zip file or a local git repository."),
    out: Path = typer.Option(Path("results.json"), help="Where to write Gradescope's JSON."),
    sandbox: str = typer.Option("auto", help="bwrap, auto (bwrap when it works) or none."),
    time_limit: int = typer.Option(0, help="Seconds for the whole run (0: the kit's limit)."),
    test_timeout: int = typer.Option(0, help="Seconds per test (0: the kit's limit)."),
) -> None:
    """Grade a submission in the sandbox and write results.json (Gradescope's format)."""
    from scalable_ai.kits.grade import grade_submission
    from scalable_ai.kits.kit import load_kit

    kit = load_kit(kit_name)
    result = grade_submission(
        kit,
        submission,
        sandbox=sandbox,
        time_limit_s=time_limit or None,
        test_timeout_s=test_timeout or None,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result.as_json(), indent=2) + "\n")
    table = Table("test", "score", "visibility")
    for test in result.tests:
        table.add_row(test.name, f"{test.score:g} / {test.max_score:g}", test.visibility)
    console.print(table)
    console.print(result.output)
    console.print(f"[bold]{result.score:g} / {result.max_score:g}[/bold] written to {out}")


@kit_app.command("jobs")
def jobs_command(
    assignment: str = typer.Option(None, help="Only this assignment's jobs (A4)."),
) -> None:
    """The autograder's queue in the course database: status and score of every job."""
    from scalable_ai.course.db import make_engine, unit_of_work
    from scalable_ai.course.service import Actor
    from scalable_ai.course.service.grading_jobs import list_jobs

    engine = make_engine()
    table = Table("job", "assignment", "group", "status", "attempts", "score", "queued")
    with unit_of_work(engine) as session:
        for job in list_jobs(session, Actor.local_staff(), assignment=assignment):
            score = "" if job.score is None else f"{job.score:g} / {job.max_score:g}"
            table.add_row(
                str(job.id), job.assignment_key, str(job.group_id), job.status,
                str(job.attempts), score, job.queued_at.isoformat(timespec="minutes"),
            )  # fmt: skip
    engine.dispose()
    console.print(table if table.rows else "no grading jobs")


@kit_app.command("regrade")
def regrade_command(
    assignment: str = typer.Argument(..., help="The assignment to grade again (A4)."),
) -> None:
    """Queue every group's latest graded hand-in of an assignment again (after fixing its
    kit); the worker regrades them, and the audit log keeps old and new scores."""
    from scalable_ai.course.clock import clock_from_env
    from scalable_ai.course.db import make_engine, unit_of_work
    from scalable_ai.course.service import Actor
    from scalable_ai.course.service.grading_jobs import regrade_assignment

    engine = make_engine()
    with unit_of_work(engine, write=True) as session:
        jobs = regrade_assignment(
            session, Actor.local_staff("sai kit regrade"), assignment, clock=clock_from_env()
        )
        count = len(jobs)
    engine.dispose()
    console.print(f"{count} hand-ins of {assignment} queued for grading again")


@kit_app.command("enhancements")
def enhancements_command(
    kit_name: str = typer.Argument(..., metavar="KIT", help="A kit's name (A1) or folder."),
) -> None:
    """Accepted enhancements of the kit's assignment (from the course database), and the kit
    version each is in (or that it still has to be folded in)."""
    from scalable_ai.course.db import make_engine, unit_of_work
    from scalable_ai.kits.enhancements import accepted_enhancements
    from scalable_ai.kits.kit import load_kit

    kit = load_kit(kit_name)
    engine = make_engine()
    table = Table("id", "group", "kind", "title", "score", "in the kit")
    with unit_of_work(engine) as session:
        for e in accepted_enhancements(session, kit):
            score = "" if e.score is None else f"{e.score:g}"
            where = f"version {e.in_version}" if e.in_version else "not yet: sai kit credit"
            table.add_row(str(e.id), e.group, e.kind, e.title, score, where)
    engine.dispose()
    console.print(table if table.rows else f"no accepted enhancements of {kit.id}")


@kit_app.command("credit")
def credit_command(
    kit_name: str = typer.Argument(..., metavar="KIT", help="A kit's name (A1) or folder."),
    enhancement: int = typer.Argument(..., help="The accepted enhancement's id."),
    version: int = typer.Option(0, help="The kit version it ships in (0: the next one)."),
) -> None:
    """Record an accepted enhancement, once folded into the kit, in its enhancements.toml."""
    from scalable_ai.course.db import make_engine, unit_of_work
    from scalable_ai.kits.enhancements import credit_enhancement
    from scalable_ai.kits.kit import load_kit

    kit = load_kit(kit_name)
    engine = make_engine()
    with unit_of_work(engine) as session:
        entry = credit_enhancement(session, kit, enhancement, version or None)
    engine.dispose()
    console.print(
        f"{kit.id} version {entry['version']}: {entry['title']!r} by {entry['group']} credited"
    )
