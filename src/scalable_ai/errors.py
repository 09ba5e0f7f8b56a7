"""The one exception type a user sees.

Every layer raises :class:`UserError` (or a subclass) for bad input or a broken rule; the
CLI turns it into one line and exit code 2, the APIs into a 4xx answer. Anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can act on: names the field (when there is one) and the reason."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class NotFound(UserError):
    """An id or name that does not exist."""

    status_code = 404


class Forbidden(UserError):
    """The caller's role does not allow this."""

    status_code = 403


class Conflict(UserError):
    """The request breaks a rule given what is already stored (a fourth slack day, an overlap)."""

    status_code = 409
