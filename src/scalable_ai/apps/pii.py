"""PII detection and redaction for the guardrails' ``pii`` rail.

Phone numbers are found by ``phonenumbers`` (Google's libphonenumber, the library Presidio
itself uses for phones), which parses and validates numbers in text for a region; the rest
are patterns with their checksums: payment cards must pass the Luhn check, US social
security numbers must use assignable area/group/serial numbers, IPv4 octets must be <= 255.

Why not ``presidio-analyzer`` (checked 2026-12-04): it installs offline and runs without a
spaCy model download if given a blank spaCy pipeline, but then it has no named-entity model,
so what it finds is these same pattern recognizers; it brings ~400 MB of dependencies
(spaCy, thinc, blis, ...) and ~3.5 min of install on 2 cores; and its e-mail and URL
validation go through ``tldextract``, which tries to download the public suffix list on
first use in every fresh process (a network call we do not make).
"""

from __future__ import annotations

import re
from collections.abc import Callable

ENTITIES = ("API_KEY", "EMAIL", "CREDIT_CARD", "US_SSN", "IP_ADDRESS", "PHONE")

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
SSN = re.compile(r"\b(\d{3})[- ](\d{2})[- ](\d{4})\b")
IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
# Secret-looking tokens of common services (OpenAI, GitHub, AWS, Slack, our course API).
API_KEY = re.compile(
    r"\b(?:sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}"
    r"|xox[abpr]-[A-Za-z0-9-]{10,})\b"
)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum (ISO/IEC 7812) every payment card number satisfies."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _cards(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            spans.append(match.span())
    return spans


def _ssns(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in SSN.finditer(text):
        area, group, serial = match.groups()
        if area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000":
            spans.append(match.span())
    return spans


def _ips(text: str) -> list[tuple[int, int]]:
    return [
        m.span() for m in IPV4.finditer(text) if all(int(p) <= 255 for p in m.group().split("."))
    ]


def _phones(text: str) -> list[tuple[int, int]]:
    import phonenumbers

    return [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, "US")]


FINDERS: dict[str, Callable[[str], list[tuple[int, int]]]] = {
    "EMAIL": lambda text: [m.span() for m in EMAIL.finditer(text)],
    "CREDIT_CARD": _cards,
    "US_SSN": _ssns,
    "IP_ADDRESS": _ips,
    "API_KEY": lambda text: [m.span() for m in API_KEY.finditer(text)],
    "PHONE": _phones,
}


def find_pii(
    text: str, entities: list[str] | tuple[str, ...] = ENTITIES
) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, entity) spans, earliest first; on overlap the entity
    listed first wins (a card number is not also a phone number)."""
    found: list[tuple[int, int, str]] = []
    for entity in entities:
        for start, end in FINDERS[entity](text):
            if all(end <= s or start >= e for s, e, _ in found):
                found.append((start, end, entity))
    return sorted(found)


def redact_pii(
    text: str, entities: list[str] | tuple[str, ...] = ENTITIES
) -> tuple[str, list[str]]:
    """``text`` with each PII span replaced by ``<ENTITY>``, and the entities found."""
    spans = find_pii(text, entities or ENTITIES)
    pieces, last = [], 0
    for start, end, entity in spans:
        pieces.append(text[last:start] + f"<{entity}>")
        last = end
    pieces.append(text[last:])
    return "".join(pieces), [entity for _, _, entity in spans]
