"""The one way a service says no.

Every service that changes something decides who may do it and whether it can happen now, and
refuses with `Refused`: a sentence a person can read, and an HTTP status for the views that
turn it into a response. 403 means "not yours to do" (the role or person is wrong), 409 means
"not now" (the state, a limit or a concurrent change is in the way). Nothing is changed by a
refused call.
"""

from http import HTTPStatus


class Refused(Exception):
    """A refused change; str() is the sentence to show, `status` the HTTP status for it."""

    status: int = HTTPStatus.CONFLICT

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class Forbidden(Refused):
    """Refused because of who is asking (403)."""

    status = HTTPStatus.FORBIDDEN
