"""Markdown with math for written answers: ``$...$`` inline and ``$$...$$`` displayed,
typeset by KaTeX on the server into MathML.

KaTeX (the ``pykatex`` package runs KaTeX's own JavaScript inside an embedded QuickJS) turns
each formula into MathML, which browsers draw natively (MathML Core: Chromium 109+, Firefox,
Safari). The page needs no script, no stylesheet and no font for it, so the platform's strict
Content-Security-Policy stays as it is and nothing is fetched from a CDN. KaTeX runs with
``trust`` off (no ``\\href``, no raw HTML) and bounded macro expansion; a formula that does
not parse is shown as its source in ``<code class="math-error">`` with KaTeX's message.

The rest of the text goes through the community's Markdown renderer (markdown-it, raw HTML
off, nh3 allow-list) with the formulas held out as placeholders, and the typeset formulas are
put back afterwards: sanitizing never sees (and never strips) KaTeX's MathML, and student
text never reaches the page unsanitized. Dollars inside code spans and fences stay text; an
inline formula needs no space after its opening ``$`` nor before its closing one, and no digit
right after it (``$5 and $6`` is prices, not math).

KaTeX runs on one thread of its own (:data:`_KATEX`). pykatex's QuickJS runtime belongs to the
thread that first used it: called from any other thread it fails ("size exceeded", so the
answer fell back to its source), or crashes the process when two threads call at once. The
web server renders pages on a pool of threads that come and go, so every formula is handed to
this one long-lived thread and waited for.
"""

from __future__ import annotations

import html
import os
import re
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from scalable_ai.course.community.markdown import render_markdown

MAX_FORMULA_CHARS = 2000
_CODE = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`", re.S)
_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"(?<![\\$])\$(?![\s$])([^$\n]+?)(?<![\s\\])\$(?!\d)")
_SLOT = re.compile(r"KATEXSLOT(\d+)X")
_CODE_SLOT = re.compile(r"KATEXCODE(\d+)X")


#: The one thread KaTeX ever runs on (see the module's docstring).
_KATEX = ThreadPoolExecutor(max_workers=1, thread_name_prefix="katex")


def _new_katex_thread() -> None:
    """A forked child has none of the parent's threads: it gets its own KaTeX thread."""
    global _KATEX
    _KATEX = ThreadPoolExecutor(max_workers=1, thread_name_prefix="katex")


os.register_at_fork(after_in_child=_new_katex_thread)


@lru_cache(maxsize=4096)
def typeset(tex: str, display: bool) -> str:
    """One formula as KaTeX MathML (or its source with the parse error, as code), typeset on
    KaTeX's own thread whichever thread asks."""
    if len(tex) > MAX_FORMULA_CHARS:
        return _failed(tex, f"a formula is at most {MAX_FORMULA_CHARS} characters")
    return _KATEX.submit(_katex, tex, display).result()


def _katex(tex: str, display: bool) -> str:
    try:
        import pykatex
    except ImportError:  # the platform still shows the source
        return f'<code class="math">{html.escape(tex)}</code>'
    try:
        options = {"output": "mathml", "throwOnError": True, "trust": False, "strict": "ignore"}
        return str(
            pykatex.renderToString(tex, displayMode=display, maxExpand=500, maxSize=50.0, **options)
        )
    except Exception as exc:  # KaTeX's ParseError and QuickJS errors alike
        return _failed(tex, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def _failed(tex: str, why: str) -> str:
    return f'<code class="math-error" title="{html.escape(why)}">{html.escape(tex)}</code>'


def render_markdown_math(text: str) -> str:
    """``text`` (Markdown with ``$`` math) as sanitized HTML with MathML formulas."""
    codes: list[str] = []
    formulas: list[tuple[str, bool]] = []

    def hold_code(match: re.Match[str]) -> str:
        codes.append(match.group(0))
        return f"KATEXCODE{len(codes) - 1}X"

    def hold_formula(display: bool):  # type: ignore[no-untyped-def]
        def hold(match: re.Match[str]) -> str:
            formulas.append((match.group(1).strip(), display))
            return f"KATEXSLOT{len(formulas) - 1}X"

        return hold

    held = _CODE.sub(hold_code, text or "")
    held = _DISPLAY.sub(hold_formula(True), held)
    held = _INLINE.sub(hold_formula(False), held)
    held = _CODE_SLOT.sub(lambda m: codes[int(m.group(1))], held)
    rendered = render_markdown(held)

    def put_back(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if index >= len(formulas):  # the text itself spelled a slot: leave it as text
            return match.group(0)
        return typeset(*formulas[index])

    return _SLOT.sub(put_back, rendered)
