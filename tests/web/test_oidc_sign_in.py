"""Sign-in as universities do it (issue 13): OpenID Connect beside passwords, against a small
provider this test starts on localhost (tests/web/oidc_provider.py). The provider's e-mail
is looked up on the roster; a forged or stale callback, an unverified e-mail or someone not
on the roster signs nobody in; and once staff require it, passwords no longer sign in."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from scalable_ai.course.db import unit_of_work
from scalable_ai.course.service.setup import update_settings
from scalable_ai.course.web import oidc
from tests.web.conftest import STAFF_TOOL, add_people, post_form, sign_in
from tests.web.oidc_provider import CLIENT_ID, CLIENT_SECRET, running_provider


def pointed_at(settings, issuer: str):
    """The platform's settings with ``issuer`` as its OpenID provider (``SAI_OIDC_*``)."""
    return settings.model_copy(
        update={
            "oidc_issuer": issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
            "oidc_name": "CalNet",
        }
    )


@pytest.fixture
def provider(platform):
    with running_provider() as made:
        state = platform.app.state.web
        state.settings = pointed_at(state.settings, made.url)
        oidc._discovered.clear()
        yield made


def through_provider(client, next_url: str = "/"):
    """Start at the platform, pass the provider (which signs in its configured person), and
    come back: the platform's answer to the callback."""
    start = client.get(f"/sign-in/oidc?next={next_url}")
    assert start.status_code == 303, start.text
    assert start.headers["location"].startswith("http://127.0.0.1:")
    at_provider = httpx.get(start.headers["location"], follow_redirects=False)
    assert at_provider.status_code == 302
    back = urlsplit(at_provider.headers["location"])
    assert back.path == "/sign-in/oidc/callback"
    return client.get(f"{back.path}?{back.query}")


def test_the_providers_email_signs_in_the_roster_person(platform, accounts, provider):
    client = platform.client
    assert "Sign in with CalNet" in client.get("/sign-in").text
    provider.email = accounts["student"][0].upper()  # e-mail case does not matter
    answer = through_provider(client, "/qa")
    assert answer.status_code == 303 and answer.headers["location"] == "/qa"
    page = client.get("/qa")
    assert page.status_code == 200 and "Ada Lovelace" in page.text


def test_a_forged_callback_signs_nobody_in(platform, accounts, provider):
    client = platform.client
    provider.email = accounts["student"][0]
    start = client.get("/sign-in/oidc")
    at_provider = httpx.get(start.headers["location"], follow_redirects=False)
    query = parse_qs(urlsplit(at_provider.headers["location"]).query)
    forged = client.get(f"/sign-in/oidc/callback?code={query['code'][0]}&state=not-ours")
    assert forged.status_code == 401 and "start again" in forged.text
    assert client.get("/qa").status_code == 303  # still signed out
    assert provider.tokens_issued == 0  # the code was never even exchanged


def test_someone_not_on_the_roster_or_unverified_is_refused(platform, accounts, provider):
    client = platform.client
    provider.email = "stranger@berkeley.example"
    refused = through_provider(client)
    assert refused.status_code == 403 and "nobody on the course roster" in refused.text
    provider.email, provider.email_verified = accounts["student"][0], False
    refused = through_provider(client)
    assert refused.status_code == 401 and "has not verified" in refused.text
    assert client.get("/qa").status_code == 303


def test_staff_require_it_and_passwords_stop_signing_in(platform, accounts, provider):
    client = platform.client
    sign_in(client, *accounts["staff"])
    post_form(client, "/staff/settings", "/staff/settings", {"require_oidc": "on"})
    refused = post_form(
        client,
        "/qa",
        "/sign-in",
        {"email": accounts["student"][0], "password": accounts["student"][1], "next": "/"},
    )
    assert refused.status_code == 403 and "signs in with CalNet only" in refused.text
    post_form(client, "/qa", "/sign-out")
    page = client.get("/sign-in").text
    assert "Sign in with CalNet" in page and 'name="password"' not in page
    provider.email = accounts["student"][0]
    assert through_provider(client).status_code == 303
    # the staff tool on the server can always switch it off again
    with unit_of_work(platform.engine) as session:
        update_settings(session, STAFF_TOOL, {"require_oidc": False}, clock=platform.clock)


BROWSER_PEOPLE = {
    "grace": ("Grace Hopper", "grace.oidc@berkeley.example", "student"),
    "tess": ("Tess Assistant", "tess.oidc@berkeley.example", "staff"),
}


@pytest.fixture
def live_provider(live_server):
    """The live platform pointed at a provider this test starts (as ``SAI_OIDC_*`` would)."""
    state = live_server.platform.app.state.web
    before = state.settings
    with running_provider() as made:
        state.settings = pointed_at(before, made.url)
        oidc._discovered.clear()
        try:
            yield made
        finally:
            state.settings = before
            oidc._discovered.clear()


@pytest.mark.browser
def test_in_chromium_a_student_signs_in_through_the_provider_and_a_stranger_is_told_why(
    live_server, live_provider, new_page
):
    from playwright.sync_api import expect

    add_people(live_server.platform.engine, live_server.platform.clock, BROWSER_PEOPLE)
    page = new_page(1366, 900)
    page.goto(f"{live_server.url}/qa")  # signed out: sent to sign in, and back here after
    live_provider.email = BROWSER_PEOPLE["grace"][1]
    page.get_by_role("link", name="Sign in with CalNet").click()
    # chromium went to the provider and came back through the callback, with a cookie
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert urlsplit(page.url).path == "/qa"
    expect(page.get_by_text("Grace Hopper").first).to_be_visible()
    assert live_provider.tokens_issued == 1
    live_server.screenshot(page, "oidc-signed-in")

    stranger = new_page(390, 844)
    live_provider.email = "stranger@berkeley.example"
    stranger.goto(f"{live_server.url}/sign-in")
    stranger.get_by_role("link", name="Sign in with CalNet").click()
    expect(stranger.get_by_text("nobody on the course roster")).to_be_visible()
    stranger.goto(f"{live_server.url}/qa")
    assert urlsplit(stranger.url).path == "/sign-in"  # still signed out
