"""The public course site (issue 5): "a page anyone can read without signing in, rendered from
the same seeded data ... It must match the syllabus text (a test compares the schedule and
weights it shows with the seed data)"."""

from __future__ import annotations

from html.parser import HTMLParser

import yaml

from scalable_ai.course.spec import default_spec_path


class Rows(HTMLParser):
    """Every table row of a page: its table's id, its attributes and its cell texts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.rows: list[tuple[str, dict[str, str], list[str]]] = []
        self._table = ""
        self._cells: list[str] | None = None
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        values = {k: v or "" for k, v in attrs}
        if tag == "table":
            self._table = values.get("id", "")
        elif tag == "tr":
            self._cells, self._attrs = [], values
        elif tag in ("td", "th"):
            self._text = []

    def handle_data(self, data):
        self._text.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cells is not None:
            self._cells.append(" ".join("".join(self._text).split()))
        elif tag == "tr" and self._cells is not None:
            self.rows.append((self._table, self._attrs, self._cells))
            self._cells = None

    def table(self, name: str) -> list[tuple[dict[str, str], list[str]]]:
        return [(attrs, cells) for table, attrs, cells in self.rows if table == name]


SEED = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))


def _site(platform) -> Rows:
    answer = platform.client.get("/course")
    assert answer.status_code == 200, "the course site needs no sign-in"
    return Rows(answer.text)


def test_the_course_site_needs_no_sign_in_and_names_the_course_and_staff(platform):
    answer = platform.client.get("/course")
    assert answer.status_code == 200
    assert "Scalable AI: Bridging Theory, Understanding, and Practice" in answer.text
    for member in SEED["staff"]:
        assert member["name"] in answer.text
    assert "/api/calendar.ics" in answer.text


def test_the_grading_table_shows_the_seeds_weights(platform):
    shown = {
        attrs["data-key"]: cells[-1]
        for attrs, cells in _site(platform).table("grading-table")
        if "data-key" in attrs
    }
    expected = {}
    for component in SEED["components"]:
        expected[component["key"]] = f"{component['weight']:g}%"
        for part in component.get("parts", []):
            expected[part["key"]] = f"{part['weight']:g}%"
    assert shown == expected


def test_every_lecture_is_on_its_day_with_its_syllabus_title(platform):
    lectures = {
        (attrs["data-day"], cells[1])
        for attrs, cells in _site(platform).table("schedule")
        if attrs.get("data-kind") == "lecture"
    }
    expected = {(str(lec["date"]), f"{lec['key']}. {lec['title']}") for lec in SEED["lectures"]}
    assert lectures == expected
    assert len(lectures) == 26


def test_every_release_and_deadline_is_on_its_day(platform):
    rows = [
        (attrs.get("data-kind"), attrs.get("data-day"), cells[1])
        for attrs, cells in _site(platform).table("schedule")
        if "data-kind" in attrs
    ]
    for a in SEED["assignments"]:
        assert any(
            k == "release" and d == str(a["release"]) and a["key"] in t for k, d, t in rows
        ), a["key"]
        assert any(k == "deadline" and d == str(a["due"]) and a["key"] in t for k, d, t in rows), a[
            "key"
        ]
    for m in SEED["milestones"]:
        if m.get("calendar") is False:
            continue
        title = m.get("schedule_title") or m["title"]
        assert any(d == str(m["date"]) and title.split(" (")[0] in t for _, d, t in rows), title
    for day in SEED["recess"]:
        assert ("recess", str(day["date"])) in {(k, d) for k, d, _ in rows}


def test_the_assignment_table_matches_the_seed(platform):
    shown = {
        attrs["data-key"]: (attrs["data-release"], attrs["data-due"], cells[1])
        for attrs, cells in _site(platform).table("assignments")
        if "data-key" in attrs
    }
    assert shown == {
        a["key"]: (str(a["release"]), str(a["due"]), a["title"]) for a in SEED["assignments"]
    }


def test_the_project_milestones_match_the_seed(platform):
    shown = {
        attrs["data-key"]: attrs["data-day"]
        for attrs, _ in _site(platform).table("milestones")
        if "data-key" in attrs
    }
    assert shown == {m["key"]: str(m["date"]) for m in SEED["milestones"] if m.get("project", True)}
