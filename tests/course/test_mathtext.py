"""Written answers' Markdown with math (issue 16: "Markdown with math rendered"): KaTeX on the
server turns ``$...$`` and ``$$...$$`` into MathML, everything else stays sanitized Markdown,
and what is not math (prices, code) stays text."""

from __future__ import annotations

from scalable_ai.course.mathtext import render_markdown_math


def test_inline_and_displayed_formulas_become_mathml_with_their_source():
    html = render_markdown_math("Accept with $\\min(1, p/q)$:\n\n$$\\sum_x p(x) = 1$$")
    assert html.count("<math") == 2 and 'display="block"' in html
    assert '<annotation encoding="application/x-tex">\\min(1, p/q)</annotation>' in html
    assert "<munder><mo>∑</mo><mi>x</mi></munder>" in html  # displayed: the limit goes under


def test_prices_code_and_escaped_dollars_are_not_math():
    html = render_markdown_math("It costs $5 and $6; `$x$` in code; \\$y\\$ escaped")
    assert "<math" not in html
    assert "<code>$x$</code>" in html


def test_a_formula_that_does_not_parse_shows_its_source_and_the_reason():
    html = render_markdown_math("broken $\\frac{1$ here")
    assert '<code class="math-error"' in html and "\\frac{1" in html and "<math" not in html


def test_html_around_and_inside_formulas_never_reaches_the_page():
    html = render_markdown_math("<script>alert(1)</script> $\\text{<img src=x onerror=1>}$")
    assert "<script" not in html and "<img" not in html and "onerror=1>" not in html
    assert render_markdown_math("KATEXSLOT7X is text") == "<p>KATEXSLOT7X is text</p>\n"
    linked = render_markdown_math("$\\href{javascript:alert(1)}{x}$")  # KaTeX's trust is off
    assert "<math" in linked and 'href="' not in linked


def test_formulas_typeset_from_many_short_lived_threads_at_once_are_all_mathml():
    """The web server renders pages on pool threads that come and go. pykatex's runtime
    belongs to the thread that first used it: from another thread it failed ("size
    exceeded", the answer shown as source: the flaky written-answers browser test), and two
    threads at once crashed the process."""
    from concurrent.futures import ThreadPoolExecutor

    def page(i: int) -> str:
        return render_markdown_math(f"Thread {i}: $p_{{{i}}} + q$ and $$\\min(x_{{{i}}}, 1)$$")

    for _round in range(3):  # fresh threads each round, as an idle pool lets its threads go
        with ThreadPoolExecutor(max_workers=6) as pool:
            pages = list(pool.map(page, range(_round * 12, _round * 12 + 12)))
        assert all(p.count("<math") == 2 and "math-error" not in p for p in pages), pages
