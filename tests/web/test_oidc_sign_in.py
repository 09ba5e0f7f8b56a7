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
from tests.web.conftest import STAFF_TOOL, post_form, sign_in
from tests.web.oidc_provider import CLIENT_ID, CLIENT_SECRET, running_provider


@pytest.fixture
def provider(platform):
    with running_provider() as made:
        state = platform.app.state.web
        state.settings = state.settings.model_copy(
            update={
                "oidc_issuer": made.url,
                "oidc_client_id": CLIENT_ID,
                "oidc_client_secret": CLIENT_SECRET,
                "oidc_name": "CalNet",
            }
        )
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
