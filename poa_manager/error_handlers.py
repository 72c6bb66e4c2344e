"""The one place that turns errors into responses: JSON under /api/, HTML pages elsewhere."""

from flask import Flask, jsonify, render_template, request
from flask_smorest.error_handler import ErrorSchema
from marshmallow import fields
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from poa_manager.database import db
from poa_manager.errors import DomainError, InvalidInput
from poa_manager.extensions import rest_api

# Machine-readable codes for plain HTTP errors, matching the DomainError codes where they overlap.
HTTP_ERROR_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "not_allowed",
    404: "not_found",
    405: "method_not_allowed",
    409: "rule_violation",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    500: "internal_error",
}


class ApiErrorSchema(ErrorSchema):
    """The JSON error body as this module writes it: flask-smorest's fields plus the stable code."""

    error = fields.String(metadata={"description": "Machine-readable error code"})


# Read by rest_api.init_app when it documents the default error response, so it is set on import,
# before create_app binds the API; otherwise the documented body lacks `error` (issue 8, item 2).
rest_api.ERROR_SCHEMA = ApiErrorSchema


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def handle_http_exception(error: HTTPException):
    db.session.rollback()  # a failed request leaves the data as it was
    if _wants_json():
        payload, status, headers = rest_api.handle_http_exception(error)
        payload["error"] = HTTP_ERROR_CODES.get(status, "http_error")
        payload.setdefault("message", error.description)
        response = jsonify(payload)
        response.headers.update(headers or {})
        if status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        if error.response is not None:  # e.g. 429 carries Retry-After
            for name in ("Retry-After",):
                if name in error.response.headers:
                    response.headers[name] = error.response.headers[name]
        return response, status
    return render_template("errors/http.html", error=error), error.code


def handle_domain_error(error: DomainError):
    db.session.rollback()
    status = error.status_code
    if _wants_json():
        payload = {
            "code": status,
            "status": HTTP_STATUS_CODES.get(status, "Error"),
            "error": error.code,
            "message": error.message,
        }
        if error.errors:
            payload["errors"] = error.errors
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
        return jsonify(payload), status, headers
    return render_template("errors/domain.html", error=error), status


def handle_value_out_of_range(error: OverflowError | DataError):
    """A well-formed value the database or date arithmetic cannot hold (an id of 10**20, a page
    past 2**63, a text longer than its PostgreSQL column) is the client's error, not a 500. The
    fuzzer found these (issue 8, item 2): SQLite raises OverflowError, PostgreSQL a DataError."""
    return handle_domain_error(
        InvalidInput("A value in the request is out of range for this field.", code="out_of_range")
    )


def register_error_handlers(app: Flask) -> None:
    """Call after rest_api.init_app: flask-smorest registers an app-wide JSON handler first."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(OverflowError, handle_value_out_of_range)
    app.register_error_handler(DataError, handle_value_out_of_range)
