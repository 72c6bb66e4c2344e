"""Bearer-token authentication for the API: the token's user becomes g.api_user."""

from flask import g, request

from poa_manager.accounts import services as account_services
from poa_manager.database import db, utcnow
from poa_manager.errors import NotAuthenticated


def authenticate_request() -> None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise NotAuthenticated(
            "Send a personal API token: 'Authorization: Bearer <token>'.", code="missing_token"
        )
    g.api_user = account_services.authenticate_token(credentials.strip(), now=utcnow())
    if db.session.dirty:
        db.session.commit()  # the token's last-used time, on its own before the endpoint runs
