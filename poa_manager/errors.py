"""Domain errors raised by services and shown by the web and API layers. No Flask here."""


class DomainError(Exception):
    """Base class: a use case refused, with an HTTP status and a stable machine-readable code."""

    status_code = 400
    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.errors = errors or {}


class NotFound(DomainError):
    """The object does not exist or is outside what the actor may see."""

    status_code = 404
    code = "not_found"


class NotAllowed(DomainError):
    """The actor can see the object but may not do this to it."""

    status_code = 403
    code = "not_allowed"


class NotAuthenticated(DomainError):
    """No valid credentials were presented."""

    status_code = 401
    code = "not_authenticated"


class RuleViolation(DomainError):
    """A business rule refuses the change (state machine, uniqueness, maker/checker...)."""

    status_code = 409
    code = "rule_violation"


class InvalidInput(DomainError):
    """Well-formed but unacceptable values, reported per field in `errors`."""

    status_code = 422
    code = "invalid_input"
