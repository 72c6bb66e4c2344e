"""Bearer-token authentication for the API: the token's user becomes g.api_user."""

from flask import g, request

from poa_manager.accounts import services as account_services
from poa_manager.database import begin_writing, db, utcnow, writes_need_a_fresh_transaction
from poa_manager.errors import NotAuthenticated


def authenticate_request() -> None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise NotAuthenticated(
            "Send a personal API token: 'Authorization: Bearer <token>'.", code="missing_token"
        )
    g.api_user = account_services.authenticate_token(credentials.strip(), now=utcnow())
    if db.session.dirty:
        # The token's last-used time (once a minute), committed on its own before the endpoint
        # runs. On SQLite the read above began a reader's transaction, which cannot become a writer
        # once another request has committed since ("database is locked" at once: a 500 under the
        # load test, bench/load_test.py); so read it again as a writer (database.begin_writing).
        # Not when the session is bound to an outer connection (the tests' rolled-back one).
        if writes_need_a_fresh_transaction():
            db.session.rollback()
            begin_writing()
            g.api_user = account_services.authenticate_token(credentials.strip(), now=utcnow())
        db.session.commit()
