"""Domain errors raised by services; the API and views turn them into 4xx answers."""


class ApplicationError(Exception):
    """A rule of the product refused the request; `message` is safe to show to the user."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}


class NotFound(ApplicationError):
    status_code = 404


class PermissionDenied(ApplicationError):
    status_code = 403


class InvalidTransition(ApplicationError):
    status_code = 409
