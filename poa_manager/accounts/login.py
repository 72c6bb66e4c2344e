"""Flask-Login wiring: a cookie holds a login-session key, and every request checks the row."""

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_login import current_user

from poa_manager.accounts import services
from poa_manager.database import begin_writing, db, utcnow, writes_need_a_fresh_transaction
from poa_manager.extensions import login_manager

# Pages a user who must change their password can still reach.
_OPEN_WHILE_PASSWORD_EXPIRED = {"accounts.change_password", "accounts.logout", "static"}


def account_settings() -> services.AccountSettings:
    config = current_app.config
    return services.AccountSettings(
        lockout_threshold=config["LOGIN_LOCKOUT_THRESHOLD"],
        lockout_minutes=config["LOGIN_LOCKOUT_MINUTES"],
        session_idle_minutes=config["LOGIN_SESSION_IDLE_MINUTES"],
        session_absolute_hours=config["LOGIN_SESSION_ABSOLUTE_HOURS"],
        password_min_length=config["PASSWORD_MIN_LENGTH"],
        second_factor_minutes=config["TWO_FACTOR_PENDING_MINUTES"],
        totp_issuer=config["TOTP_ISSUER"],
        reset_email_minutes=config["PASSWORD_RESET_EMAIL_MINUTES"],
        reset_admin_hours=config["PASSWORD_RESET_ADMIN_HOURS"],
    )


@login_manager.user_loader
def _load_user(key: str):
    return services.resume_login_session(key, settings=account_settings(), now=utcnow())


def init_login(app: Flask) -> None:
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please log in to see this page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @app.before_request
    def _resolve_login():
        # Load the user at the start of the request, never half-way through a view, and commit
        # the session's last-seen time on its own. The API authenticates by token instead.
        if request.endpoint == "static" or request.path.startswith("/api/"):
            return None
        user = current_user._get_current_object()
        if db.session.dirty:
            if writes_need_a_fresh_transaction():
                # SQLite: the read above began a reader's transaction, which cannot become a
                # writer once another request has committed since (database.begin_writing; the
                # same as the API's token in api/auth.py), so load the user again as a writer.
                db.session.rollback()
                begin_writing()
                g.pop("_login_user", None)
                user = current_user._get_current_object()
            db.session.commit()
        if not user.is_authenticated and "_user_id" in session:
            session.clear()  # ended or expired: forget the stale key
        if (
            user.is_authenticated
            and user.must_change_password
            and request.endpoint not in _OPEN_WHILE_PASSWORD_EXPIRED
        ):
            return redirect(url_for("accounts.change_password"))
        return None
