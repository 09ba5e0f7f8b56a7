"""Markdown for posts, answers, comments and scribe notes, rendered safely.

Everything students write is shown to classmates, so it is rendered with markdown-it-py
(CommonMark, raw HTML switched off) and then sanitized with nh3 (an allow-list HTML cleaner):
a ``<script>``, an ``onerror=`` attribute or a ``javascript:`` link never reaches a page,
even if a future markdown-it option lets HTML through.
"""

from __future__ import annotations

import functools
import html

import nh3
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "code": {"class"},
    "th": {"align"},
    "td": {"align"},
}
URL_SCHEMES = {"http", "https", "mailto"}


@functools.lru_cache(maxsize=512)
def render_markdown(text: str) -> str:
    """``text`` (Markdown) as sanitized HTML, safe to insert into a page unescaped."""
    html = _MARKDOWN.render(text or "")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
    )


@functools.lru_cache(maxsize=512)
def excerpt(text: str, length: int = 160) -> str:
    """A one-line plain-text preview of a post (for lists and search results): the Markdown
    is rendered and every tag dropped, so ``**bold**`` shows as "bold", not as asterisks."""
    plain = html.unescape(nh3.clean(_MARKDOWN.render(text or ""), tags=set()))
    flat = " ".join(plain.split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"
