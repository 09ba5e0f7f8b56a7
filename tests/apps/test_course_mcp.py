"""The course platform as an MCP server, driven by the official ``mcp`` client over
streamable HTTP and stdio: each tool answers for the token's own person, exactly what the
service layer says, and a student's token never reads another student's data."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import select

from scalable_ai.course.clock import FixedClock, parse_instant
from scalable_ai.course.db import make_engine, unit_of_work, upgrade
from scalable_ai.course.service import Actor
from scalable_ai.course.service.credentials import create_api_token, revoke_api_token
from scalable_ai.course.service.groups import list_groups
from scalable_ai.course.service.slack import slack_balance
from scalable_ai.course.tables import Person
from tests.apps.conftest import free_port

NOW = "2026-03-06T12:00"  # inside the demo's first two-node reservation window
STAFF = Actor.local_staff("test")
TOOLS = {"my_deadlines", "my_slack_days", "my_group", "my_reservation_hostfile",
         "course_schedule", "syllabus_rules"}  # fmt: skip


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The demo course at NOW, API tokens for a student of the reserving group, a student of
    another group, and a staff member; and the expected answers from the service layer."""
    from scalable_ai.course.demo import seed_demo

    path = tmp_path_factory.mktemp("mcp") / "course.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    clock = FixedClock(parse_instant(NOW))
    with unit_of_work(engine) as session:
        seed_demo(session, clock)
    with unit_of_work(engine) as session:
        groups = list(list_groups(session, STAFF))
        first, other = groups[0].members[0], groups[5].members[0]
        staff_person = session.scalar(select(Person).where(Person.role == "staff"))
        people = {"first": first, "other": other, "staff": staff_person}
        tokens = {
            key: create_api_token(session, STAFF, person_id=p.id, name="mcp", clock=clock)[1]
            for key, p in people.items()
        }
        revoked_row, revoked = create_api_token(
            session, STAFF, person_id=first.id, name="old", clock=clock
        )
        revoke_api_token(session, STAFF, revoked_row.id, clock=clock)
        expected = {
            "first_group": groups[0].name,
            "other_group": groups[5].name,
            "first_email": first.email,
            "other_email": other.email,
            "other_slack_left": slack_balance(session, STAFF, other.id).left,
            "first_slack": slack_balance(session, STAFF, first.id),
            "node_ip": groups[0].node.external_ip,
        }
    engine.dispose()
    env = {**os.environ, "SAI_DATABASE_URL": f"sqlite:///{path}", "SAI_NOW": NOW}
    return {"env": env, "tokens": {**tokens, "revoked": revoked}, "expected": expected}


@pytest.fixture(scope="module")
def mcp_url(course):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "scalable_ai.cli", "mcp", "--transport", "http", "--port",
         str(port)],
        env=course["env"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(process.stdout.read().decode())
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("sai mcp did not come up") from None
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(20)


async def _calls(streams, calls: list[tuple[str, dict]]) -> tuple[set[str], list]:
    read, write = streams[0], streams[1]
    async with ClientSession(read, write) as session:
        await session.initialize()
        names = {tool.name for tool in (await session.list_tools()).tools}
        results = [await session.call_tool(name, arguments) for name, arguments in calls]
    return names, results


def over_http(url: str, token: str, *calls: tuple[str, dict]) -> tuple[set[str], list]:
    async def go():
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx.AsyncClient(headers=headers, timeout=30) as http,
            streamable_http_client(url, http_client=http) as streams,
        ):
            return await _calls(streams, list(calls))

    return asyncio.run(go())


def payload(result) -> dict:
    assert not result.isError, result.content
    return json.loads(result.content[0].text)


def test_a_student_reads_their_own_record_over_http(mcp_url, course):
    expected = course["expected"]
    names, (group, slack, hostfile, deadlines) = over_http(
        mcp_url, course["tokens"]["first"],
        ("my_group", {}), ("my_slack_days", {}), ("my_reservation_hostfile", {}),
        ("my_deadlines", {}),
    )  # fmt: skip
    assert names >= TOOLS
    assert payload(group)["group"] == expected["first_group"]
    assert payload(group)["node_ip"] == expected["node_ip"]
    assert payload(slack)["left"] == expected["first_slack"].left
    assert payload(slack)["used"] == expected["first_slack"].used
    active = [r for r in payload(hostfile)["reservations"] if r["hostfile"]]
    assert active and f"{expected['node_ip']} slots=8" in active[0]["hostfile"]
    upcoming = payload(deadlines)["assignments"]
    assert [a["assignment"] for a in upcoming] == ["A3", "A4", "A5"]


def test_a_student_token_never_reads_another_students_data(mcp_url, course):
    other = course["expected"]["other_email"]
    _, (slack, deadlines, group) = over_http(
        mcp_url, course["tokens"]["first"],
        ("my_slack_days", {"student_email": other}),
        ("my_deadlines", {"student_email": other}), ("my_group", {}),
    )  # fmt: skip
    assert slack.isError and "yourself" in slack.content[0].text
    assert deadlines.isError and "yourself" in deadlines.content[0].text
    assert payload(group)["group"] != course["expected"]["other_group"]


def test_staff_may_ask_about_any_student(mcp_url, course):
    other = course["expected"]["other_email"]
    _, (slack,) = over_http(
        mcp_url, course["tokens"]["staff"], ("my_slack_days", {"student_email": other})
    )
    assert payload(slack)["left"] == course["expected"]["other_slack_left"]


def test_no_token_or_a_revoked_token_reads_nothing(mcp_url, course):
    refused = httpx.post(mcp_url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert refused.status_code == 401
    _, (slack,) = over_http(mcp_url, course["tokens"]["revoked"], ("my_slack_days", {}))
    assert slack.isError and "unknown or revoked" in slack.content[0].text


def test_the_stdio_transport_answers_for_sai_api_token(course):
    async def go():
        parameters = StdioServerParameters(
            command=sys.executable,
            args=["-m", "scalable_ai.cli", "mcp"],
            env={**course["env"], "SAI_API_TOKEN": course["tokens"]["other"]},
            cwd=str(Path.cwd()),
        )
        async with stdio_client(parameters) as streams:
            return await _calls(streams, [("my_group", {}), ("syllabus_rules", {})])

    names, (group, rules) = asyncio.run(go())
    assert names >= TOOLS
    assert payload(group)["group"] == course["expected"]["other_group"]
    assert payload(rules)["slack_days"]["total"] == 3


def test_the_agents_mcp_tools_reach_the_course_over_both_transports(mcp_url, course):
    """``apps.tools.mcp_tools`` turns the server's tools into agent tools (OpenAI schema)."""
    from scalable_ai.apps.tools import mcp_tools

    token = course["tokens"]["other"]
    command = [sys.executable, "-m", "scalable_ai.cli", "mcp"]
    with mcp_tools(command=command, env={**course["env"], "SAI_API_TOKEN": token}) as tools:
        by_name = {tool.name: tool for tool in tools}
        assert set(by_name) >= TOOLS
        parameters = by_name["my_slack_days"].schema()["function"]["parameters"]
        assert parameters["type"] == "object"
        assert parameters["additionalProperties"] is False  # closed: no made-up arguments
        stdio = json.loads(by_name["my_group"]({}))
    headers = {"Authorization": f"Bearer {token}"}
    with mcp_tools(url=mcp_url, headers=headers) as tools:
        http = json.loads({t.name: t for t in tools}["my_group"]({}))
        refused = {t.name: t for t in tools}["my_slack_days"](
            {"student_email": course["expected"]["first_email"]}
        )
    assert stdio == http and stdio["group"] == course["expected"]["other_group"]
    assert refused.startswith("error:") and "yourself" in refused


def test_sai_assistant_tells_the_tokens_student_their_own_slack_days(course, tmp_path):
    """``sai assistant`` (the page's ``ask_assistant`` over ``sai mcp``'s stdio tools) against
    a real ``sai serve`` of a tiny random model: the model only makes the forced call; the
    answer is the course tool's line for the token's student (two students with different
    records, and another student's grade refused: tests/web/test_assistant_page.py)."""
    from tests.apps.conftest import start_server
    from tests.eval.conftest import save_tiny_checkpoint

    process, url = start_server(save_tiny_checkpoint(tmp_path / "tiny"), tmp_path, "", 4096)
    left, total = course["expected"]["other_slack_left"], course["expected"]["first_slack"].total
    try:
        done = subprocess.run(
            [sys.executable, "-m", "scalable_ai.cli", "assistant",
             "How many slack days do I have left?", "--base-url", url, "--model", "tiny",
             "--index", str(tmp_path / "index.db")],
            env={**course["env"], "SAI_API_TOKEN": course["tokens"]["other"],
                 "SAI_DATA_DIR": str(tmp_path / "data"), "SAI_RUNS_DIR": str(tmp_path)},
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"You have {left} of {total} slack days left"), done.stdout
    finally:
        process.terminate()
        process.wait(30)
