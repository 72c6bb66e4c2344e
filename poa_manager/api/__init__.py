"""What every API endpoint shares: the /api/v1 prefix, bearer-token auth, no CSRF."""

from flask import g
from flask_smorest import Blueprint

from poa_manager.api.auth import authenticate_request
from poa_manager.database import db
from poa_manager.extensions import csrf

API_PREFIX = "/api/v1"


def api_blueprint(
    name: str, import_name: str, *, url_prefix: str = "", description: str = "", public: bool = False
) -> Blueprint:
    """A flask-smorest blueprint under /api/v1 that only a bearer token can open, or, when
    `public`, anyone (the registry's serial lookup: quality.md A1 #10).

    CSRF protection is off here because the API never reads the session cookie: a browser
    cannot be tricked into sending a bearer token.
    """
    blueprint = Blueprint(name, import_name, url_prefix=API_PREFIX + url_prefix, description=description)
    if not public:
        blueprint.before_request(authenticate_request)
    csrf.exempt(blueprint)
    return blueprint


def perform(subject, use_case, **arguments):
    """Run one use case on `subject` as the token's user, commit, and return the subject for the response."""
    use_case(subject, actor=g.api_user, **arguments)
    db.session.commit()
    return subject
