"""The one domain error type services raise; `dealer.api_errors` turns it into the contract's 4xx."""
from __future__ import annotations


class DeskError(Exception):
    """A refused action. `field` names the input at fault (None: no field is)."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None, status: int | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
        self.fields: dict[str, list[str]] = {field: [message]} if field else {}
        if status is not None:
            self.status = status

    @classmethod
    def of_fields(cls, errors: dict[str, list[str]]) -> "DeskError":
        """One error naming every refused field (the contract's `{"errors": {field: [...]}}`)."""
        field, messages = next(iter(errors.items()))
        exc = cls(messages[0], field=field)
        exc.fields = {f: list(m) for f, m in errors.items()}
        return exc

    def as_body(self) -> dict[str, object]:
        if self.fields:
            return {"errors": self.fields}
        return {"detail": self.message}


class NotFound(DeskError):
    status = 404


class Conflict(DeskError):
    status = 409


class Forbidden(DeskError):
    status = 403
