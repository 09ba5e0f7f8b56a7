"""Sign-in: argon2 passwords, secure session cookies, CSRF on every form, rate limiting
(issue 4: "Sign-in with passwords hashed by a standard library … sessions with secure
cookies, CSRF protection on forms … rate-limited sign-in")."""

from __future__ import annotations

from tests.web.conftest import csrf_of, sign_in


def test_pages_ask_a_visitor_to_sign_in_first(platform):
    answer = platform.client.get("/runs")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/runs"


def test_right_password_signs_in_and_cookie_is_httponly_and_samesite_lax(platform, accounts):
    email, password = accounts["student"]
    page = platform.client.get("/sign-in")
    answer = platform.client.post(
        "/sign-in",
        data={
            "email": email,
            "password": password,
            "csrf_token": csrf_of(page.text),
            "next": "/runs",
        },
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/runs"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert platform.client.get("/runs").status_code == 200


def test_passwords_are_stored_as_argon2_hashes(platform, accounts):
    from scalable_ai.course.db import unit_of_work
    from scalable_ai.course.service.people import find_by_email

    with unit_of_work(platform.engine) as session:
        stored = find_by_email(session, accounts["student"][0]).password_hash
    assert stored.startswith("$argon2id$") and accounts["student"][1] not in stored


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(platform, accounts):
    page = platform.client.get("/sign-in")
    answer = platform.client.post(
        "/sign-in",
        data={
            "email": accounts["student"][0],
            "password": "not it",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert answer.status_code == 401
    assert "e-mail or password is not right" in answer.text
    assert platform.client.get("/runs").status_code == 303


def test_sign_in_without_the_csrf_token_is_refused(platform, accounts):
    email, password = accounts["student"]
    platform.client.get("/sign-in")
    answer = platform.client.post("/sign-in", data={"email": email, "password": password})
    assert answer.status_code == 403
    assert "security token" in answer.text


def test_a_form_with_another_sessions_token_is_refused(platform, accounts):
    """A token from another visitor's page (what a cross-site forger has) does not work."""
    forger = platform.new_client()
    forged_token = csrf_of(forger.get("/sign-in").text)
    sign_in(platform.client, *accounts["student"])
    answer = platform.client.post("/sign-out", data={"csrf_token": forged_token})
    assert answer.status_code == 403
    assert platform.client.get("/runs").status_code == 200


def test_five_failed_sign_ins_lock_the_address_even_for_the_right_password(platform, accounts):
    email, password = accounts["student"]
    for _ in range(5):
        token = csrf_of(platform.client.get("/sign-in").text)
        platform.client.post(
            "/sign-in", data={"email": email, "password": "guess", "csrf_token": token}
        )
    token = csrf_of(platform.client.get("/sign-in").text)
    answer = platform.client.post(
        "/sign-in", data={"email": email, "password": password, "csrf_token": token}
    )
    assert answer.status_code == 429
    assert "too many failed sign-ins" in answer.text


def test_sign_out_ends_the_session_on_the_server(platform, accounts):
    """A copy of the cookie taken before sign-out does not work after it."""
    sign_in(platform.client, *accounts["student"])
    stolen = dict(platform.client.cookies)
    token = csrf_of(platform.client.get("/runs").text)
    assert platform.client.post("/sign-out", data={"csrf_token": token}).status_code == 303
    thief = platform.new_client()
    thief.cookies.update(stolen)
    assert thief.get("/runs").status_code == 303


def test_sign_in_never_redirects_off_the_platform(platform, accounts):
    email, password = accounts["student"]
    token = csrf_of(platform.client.get("/sign-in").text)
    answer = platform.client.post(
        "/sign-in",
        data={
            "email": email,
            "password": password,
            "csrf_token": token,
            "next": "//evil.example/steal",
        },
    )
    assert answer.headers["location"] == "/"


def test_sign_in_refuses_a_backslash_trick_to_leave_the_platform(platform, accounts):
    email, password = accounts["student"]
    token = csrf_of(platform.client.get("/sign-in").text)
    answer = platform.client.post(
        "/sign-in",
        data={"email": email, "password": password, "csrf_token": token, "next": "/\\evil.example"},
    )
    assert answer.headers["location"] == "/"


def test_pages_are_not_framed_and_files_are_not_sniffed(platform):
    answer = platform.client.get("/sign-in")
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
