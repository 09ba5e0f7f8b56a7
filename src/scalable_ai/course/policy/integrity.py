"""Academic integrity statements.

Syllabus: "If you use external code or AI assistants, you must cite the source clearly";
for scribing, "If you use external sources or AI tools, you must cite them clearly". So
every submission carries a statement of the external code, the sources and the AI
assistance used. Each of the three is required; "none" is a valid answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scalable_ai.errors import UserError

NONE = "none"
STATEMENT_FIELDS: tuple[str, ...] = ("external_code", "sources", "ai_assistance")


@dataclass(frozen=True)
class IntegrityStatement:
    """What the submitters used from outside their group, each field required ("none" when
    nothing was used)."""

    external_code: str
    sources: str
    ai_assistance: str

    def __post_init__(self) -> None:
        for name in STATEMENT_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise UserError(
                    "required: cite what you used, or write 'none'", field=f"integrity.{name}"
                )

    @property
    def declares_nothing(self) -> bool:
        return all(getattr(self, n).strip().lower() == NONE for n in STATEMENT_FIELDS)

    def text(self) -> str:
        return (
            f"External code: {self.external_code}\nSources: {self.sources}\n"
            f"AI assistance: {self.ai_assistance}\n"
        )


def integrity_statement(data: Mapping[str, Any] | None) -> IntegrityStatement:
    """Build a statement from submitted data, naming the missing field."""
    if data is None:
        raise UserError(
            "every submission carries an integrity statement (external code, "
            "sources, AI assistance; 'none' is fine)",
            field="integrity",
        )
    values = {}
    for name in STATEMENT_FIELDS:
        value = data.get(name)
        if value is None:
            raise UserError(
                "required: cite what you used, or write 'none'", field=f"integrity.{name}"
            )
        values[name] = str(value).strip()
    return IntegrityStatement(**values)
