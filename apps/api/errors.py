"""Every answer the API gives that is not a success: JSON `{"detail": sentence}`.

The pages say no with a sentence and a 4xx; the API says the same sentence (a service's
`Refused`, a form's errors) with the same status, so a script reads what a person would.
"""

from http import HTTPStatus

from ninja import Schema


class ErrorOut(Schema):
    detail: str


# The statuses any operation may answer with besides its success (documented on every one, so
# a client and the schema checker both know them).
ERROR_STATUSES = (400, 401, 403, 404, 409, 413, 422, 429)
ERRORS: dict[int, type[ErrorOut]] = {status: ErrorOut for status in ERROR_STATUSES}


class ApiError(Exception):
    """A refusal the API itself makes (a bad token, a read-only scope, a limit)."""

    def __init__(self, detail: str, *, status: int, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.headers = headers or {}


class NotAuthenticated(ApiError):
    def __init__(self, detail: str):
        super().__init__(detail, status=HTTPStatus.UNAUTHORIZED)


class RateLimited(ApiError):
    def __init__(self, detail: str, *, retry_after: int):
        super().__init__(
            detail, status=HTTPStatus.TOO_MANY_REQUESTS, headers={"Retry-After": str(retry_after)}
        )
