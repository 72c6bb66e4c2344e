"""Pages: log in and out (with the second factor), password reset, one's account, tokens and
two-factor settings, and the admin area."""

import json
import logging
import smtplib
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from wtforms import SelectChoice

from poa_manager.accounts import policies, reset_mail, services
from poa_manager.accounts import two_factor as totp
from poa_manager.accounts.forms import (
    ChangePasswordForm,
    ConfirmForm,
    CreateApiTokenForm,
    CreateUserForm,
    EditUserForm,
    EnrolTotpForm,
    ForgotPasswordForm,
    LoginForm,
    OrganisationForm,
    PasswordAgainForm,
    ResetPasswordForm,
    SecondFactorForm,
    TemporaryPasswordForm,
)
from poa_manager.accounts.login import account_settings
from poa_manager.accounts.models import User
from poa_manager.accounts.roles import OrganisationKind
from poa_manager.audit import services as audit_services
from poa_manager.database import db, utcnow
from poa_manager.errors import DomainError, InvalidInput, NotFound, RuleViolation
from poa_manager.extensions import limiter
from poa_manager.web import export_format, export_response

bp = Blueprint("accounts", __name__)
PER_PAGE = 25
log = logging.getLogger(__name__)
# The Flask-session keys of the state between password and second factor. They hold a pending
# login-session key (its row is on the server), never a user id: Flask-Login sees no user.
PENDING_KEY = "pending_login"
PENDING_NEXT = "pending_next"


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: `next=//evil.example` or `https://…` must not redirect away."""
    if not target:
        return None
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
    ):
        return None
    return target


ORGANISATION_COLUMNS = [
    ("Name", "name"),
    ("Kind", "kind"),
    ("Country", "country_code"),
    ("Active", "is_active"),
]
USER_COLUMNS = [
    ("Email", "email"),
    ("Full name", "full_name"),
    ("Organisation", lambda u: u.organisation.name),
    ("Administrator", "is_admin"),
    ("Active", "is_active"),
    ("Locked until", "locked_until"),
    ("Last login", "last_login_at"),
]
AUDIT_COLUMNS = [
    ("Seq", "seq"),
    ("Occurred at", "occurred_at"),
    ("Actor", "actor_label"),
    ("Action", "action"),
    ("Entity", "entity_type"),
    ("Entity id", "entity_id"),
    ("Data", lambda e: json.dumps(e.data, sort_keys=True, default=str)),
    ("Hash", "hash"),
]


def _page(query):
    return db.paginate(query, page=request.args.get("page", 1, type=int), per_page=PER_PAGE, error_out=False)


def _show_field_errors(form, error: DomainError) -> None:
    """Put a service's per-field messages next to the fields; the rest goes to a flash."""
    shown = False
    for name, messages in error.errors.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = list(field.errors) + list(messages)
            shown = True
    if not shown:
        flash(error.message, "error")


# --- log in and out ---------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboards.home"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        try:
            user = services.authenticate(
                email=form.email.data, password=form.password.data, settings=account_settings(), now=utcnow()
            )
        except services.LoginRefused as refusal:
            db.session.commit()  # keep the failure count and its audit entry
            flash(refusal.message, "error")
            return render_template("accounts/login.html", form=form), 401
        session.clear()  # a new session at login, so a planted cookie is never promoted
        pending = services.needs_second_factor(user)
        key = services.start_login_session(
            user,
            settings=account_settings(),
            now=utcnow(),
            client_address=request.remote_addr,
            user_agent=request.user_agent.string,
            pending=pending,
        )
        if pending:
            if not user.has_two_factor:
                services.begin_totp_enrolment(user, actor=user)
            db.session.commit()
            session[PENDING_KEY] = key
            session[PENDING_NEXT] = _safe_next(form.next.data) or ""
            step = "accounts.two_factor" if user.has_two_factor else "accounts.two_factor_enrol"
            return redirect(url_for(step))
        user.login_session_key = key
        login_user(user)
        db.session.commit()
        return redirect(_safe_next(form.next.data) or url_for("dashboards.home"))
    return render_template("accounts/login.html", form=form)


def _log_in_after_second_factor(user: User, key: str) -> str:
    """Swap the pending state for the full session; returns where to go next."""
    target = _safe_next(session.get(PENDING_NEXT)) or url_for("dashboards.home")
    session.clear()
    user.login_session_key = key
    login_user(user)
    return target


def _pending_expired():
    session.pop(PENDING_KEY, None)
    flash(services.SECOND_FACTOR_EXPIRED, "error")
    return redirect(url_for("accounts.login"))


@bp.route("/login/two-factor", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["TWO_FACTOR_RATE_LIMIT"], methods=["POST"])
def two_factor():
    key = session.get(PENDING_KEY)
    user = services.resume_pending_login(key, now=utcnow())
    if user is None:
        return _pending_expired()
    if not user.has_two_factor:
        return redirect(url_for("accounts.two_factor_enrol"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        try:
            user, new_key = services.complete_second_factor(
                key,
                code=form.code.data,
                settings=account_settings(),
                now=utcnow(),
                client_address=request.remote_addr,
                user_agent=request.user_agent.string,
            )
        except services.SecondFactorRefused as refusal:
            db.session.commit()  # keep the failure count and its audit entry
            if services.resume_pending_login(key, now=utcnow()) is None:
                return _pending_expired()
            form.code.errors = [refusal.message]
            return render_template("accounts/two_factor.html", form=form), 401
        except services.PendingLoginExpired:
            return _pending_expired()
        target = _log_in_after_second_factor(user, new_key)
        db.session.commit()
        return redirect(target)
    return render_template("accounts/two_factor.html", form=form)


def _render_enrolment(user: User, form, *, action: str, qr_url: str, forced: bool, status=200):
    return render_template(
        "accounts/two_factor_enrol.html",
        form=form,
        secret=totp.format_secret(user.totp_secret or ""),
        action=action,
        qr_url=qr_url,
        forced=forced,
        issuer=current_app.config["TOTP_ISSUER"],
    ), status


def _qr_response(user: User) -> Response:
    uri = services.enrolment_uri(user, settings=account_settings())
    return Response(totp.qr_svg(uri), mimetype="image/svg+xml")


@bp.route("/login/two-factor/enrol", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["TWO_FACTOR_RATE_LIMIT"], methods=["POST"])
def two_factor_enrol():
    """Required TOTP, set up during login: nothing else opens before it is confirmed."""
    key = session.get(PENDING_KEY)
    try:
        user = services.pending_enrolment_user(key, now=utcnow())
    except services.PendingLoginExpired:
        return _pending_expired()
    except RuleViolation:
        return redirect(url_for("accounts.two_factor"))
    form = EnrolTotpForm()
    options = dict(
        action=url_for("accounts.two_factor_enrol"),
        qr_url=url_for("accounts.two_factor_enrol_qr"),
        forced=True,
    )
    if form.validate_on_submit():
        try:
            user, new_key, codes = services.complete_forced_enrolment(
                key,
                code=form.code.data,
                settings=account_settings(),
                now=utcnow(),
                client_address=request.remote_addr,
                user_agent=request.user_agent.string,
            )
        except InvalidInput as error:
            db.session.rollback()
            _show_field_errors(form, error)
            user = services.pending_enrolment_user(key, now=utcnow())
            return _render_enrolment(user, form, status=422, **options)
        target = _log_in_after_second_factor(user, new_key)
        db.session.commit()
        return render_template("accounts/recovery_codes.html", codes=codes, continue_url=target)
    return _render_enrolment(user, form, **options)


@bp.get("/login/two-factor/enrol/qr.svg")
def two_factor_enrol_qr():
    try:
        user = services.pending_enrolment_user(session.get(PENDING_KEY), now=utcnow())
    except (services.PendingLoginExpired, RuleViolation) as error:
        raise NotFound("No two-factor enrolment is in progress.") from error
    return _qr_response(user)


# --- password reset ---------------------------------------------------------------------------


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["PASSWORD_RESET_RATE_LIMIT"], methods=["POST"])
def forgot_password():
    config = current_app.config
    email_configured = reset_mail.reset_email_configured(config)
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        issued = services.request_password_reset(
            email=form.email.data,
            settings=account_settings(),
            now=utcnow(),
            email_configured=email_configured,
        )
        db.session.commit()
        if issued is not None:
            user, plain = issued
            link = reset_mail.reset_link(config, url_for("accounts.reset_password", token=plain))
            try:
                reset_mail.send_reset_email(
                    config, to=user.email, link=link, minutes=config["PASSWORD_RESET_EMAIL_MINUTES"]
                )
            except (smtplib.SMTPException, OSError):
                # Logged for the operator; the answer stays the same, or it would tell who exists.
                log.exception("The password-reset e-mail could not be sent")
        # One answer for every address, known or not (no user enumeration).
        return render_template("accounts/forgot_password.html", form=None, email_configured=email_configured)
    return render_template("accounts/forgot_password.html", form=form, email_configured=email_configured)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["PASSWORD_RESET_RATE_LIMIT"], methods=["POST"])
def reset_password(token: str):
    form = ResetPasswordForm()
    try:
        services.valid_reset_token(token, now=utcnow())
    except NotFound as error:
        if request.method == "POST":
            services.record_refused_reset_link()
            db.session.commit()
        return render_template("accounts/reset_password.html", form=None, problem=error.message), 404
    if form.validate_on_submit():
        try:
            services.reset_password(
                token, new_password=form.new_password.data, settings=account_settings(), now=utcnow()
            )
        except InvalidInput as error:
            _show_field_errors(form, error)
        except NotFound as error:
            db.session.commit()
            return render_template("accounts/reset_password.html", form=None, problem=error.message), 404
        else:
            db.session.commit()
            if current_user.is_authenticated:
                logout_user()
            session.clear()
            flash(
                "Your password is changed and every session of yours was ended. Log in with it now.",
                "success",
            )
            return redirect(url_for("accounts.login"))
    return render_template(
        "accounts/reset_password.html",
        form=form,
        problem=None,
        min_length=current_app.config["PASSWORD_MIN_LENGTH"],
    )


@bp.post("/logout")
@login_required
def logout():
    services.end_login_session(current_user.login_session_key, actor=current_user, now=utcnow())
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are logged out.", "success")
    return redirect(url_for("accounts.login"))


# --- one's own account ------------------------------------------------------------------------


def _render_account(token_form=None, new_token=None, status=200):
    tokens = list(db.session.scalars(services.list_api_tokens(current_user)))
    return render_template(
        "accounts/account.html",
        tokens=tokens,
        now=utcnow(),
        token_form=token_form or CreateApiTokenForm(),
        new_token=new_token,
        confirm_form=ConfirmForm(),
    ), status


@bp.get("/account")
@login_required
def account():
    return _render_account()


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(
                current_user,
                actor=current_user,
                current_password=form.current_password.data,
                new_password=form.new_password.data,
                settings=account_settings(),
                now=utcnow(),
            )
        except InvalidInput as error:
            _show_field_errors(form, error)
        else:
            db.session.commit()
            flash("Your password is changed. Your other sessions were logged out.", "success")
            return redirect(url_for("accounts.account"))
    return render_template(
        "accounts/change_password.html", form=form, min_length=current_app.config["PASSWORD_MIN_LENGTH"]
    )


# --- one's own second factor -------------------------------------------------------------------


def _render_two_factor_settings(password_form=None, status=200, new_codes=None):
    return render_template(
        "accounts/two_factor_settings.html",
        required=policies.two_factor_required(current_user),
        codes_left=services.recovery_codes_left(current_user) if current_user.has_two_factor else 0,
        password_form=password_form or PasswordAgainForm(),
        confirm_form=ConfirmForm(),
        new_codes=new_codes,
    ), status


@bp.get("/account/two-factor")
@login_required
def two_factor_settings():
    return _render_two_factor_settings()


@bp.route("/account/two-factor/enrol", methods=["GET", "POST"])
@login_required
def two_factor_setup():
    """Voluntary enrolment: POST from the settings page starts it, the page shows the QR code,
    and the first code confirms it."""
    if current_user.has_two_factor:
        return redirect(url_for("accounts.two_factor_settings"))
    options = dict(
        action=url_for("accounts.two_factor_confirm"), qr_url=url_for("accounts.two_factor_qr"), forced=False
    )
    if request.method == "POST":
        services.begin_totp_enrolment(current_user, actor=current_user)
        db.session.commit()
    elif current_user.totp_secret is None:
        return redirect(url_for("accounts.two_factor_settings"))
    return _render_enrolment(current_user, EnrolTotpForm(formdata=None), **options)


@bp.post("/account/two-factor/confirm")
@login_required
@limiter.limit(lambda: current_app.config["TWO_FACTOR_RATE_LIMIT"])
def two_factor_confirm():
    form = EnrolTotpForm()
    options = dict(
        action=url_for("accounts.two_factor_confirm"), qr_url=url_for("accounts.two_factor_qr"), forced=False
    )
    if current_user.totp_secret is None or current_user.has_two_factor:
        return redirect(url_for("accounts.two_factor_settings"))
    if form.validate_on_submit():
        try:
            codes = services.confirm_totp_enrolment(
                current_user, actor=current_user, code=form.code.data, now=utcnow()
            )
        except InvalidInput as error:
            _show_field_errors(form, error)
        else:
            db.session.commit()
            return render_template(
                "accounts/recovery_codes.html",
                codes=codes,
                continue_url=url_for("accounts.two_factor_settings"),
            )
    return _render_enrolment(current_user, form, status=422, **options)


@bp.get("/account/two-factor/qr.svg")
@login_required
def two_factor_qr():
    return _qr_response(current_user)


@bp.post("/account/two-factor/recovery-codes")
@login_required
def regenerate_recovery_codes():
    form = PasswordAgainForm()
    if form.validate_on_submit():
        try:
            codes = services.regenerate_recovery_codes(
                current_user, actor=current_user, password=form.password.data
            )
        except (InvalidInput, RuleViolation) as error:
            _show_field_errors(form, error)
        else:
            db.session.commit()
            return render_template(
                "accounts/recovery_codes.html",
                codes=codes,
                continue_url=url_for("accounts.two_factor_settings"),
            )
    return _render_two_factor_settings(password_form=form, status=422)


@bp.post("/account/two-factor/disable")
@login_required
def disable_two_factor():
    form = PasswordAgainForm()
    if form.validate_on_submit():
        try:
            services.disable_two_factor(current_user, actor=current_user, password=form.password.data)
        except (InvalidInput, RuleViolation) as error:
            _show_field_errors(form, error)
        else:
            db.session.commit()
            flash("Two-factor authentication is off.", "success")
            return redirect(url_for("accounts.two_factor_settings"))
    return _render_two_factor_settings(password_form=form, status=422)


@bp.post("/account/tokens")
@login_required
def create_api_token():
    form = CreateApiTokenForm()
    if not form.validate_on_submit():
        return _render_account(token_form=form, status=422)
    token, plain = services.create_api_token(
        actor=current_user, name=form.name.data, expires_in_days=form.expires_in_days.data, now=utcnow()
    )
    db.session.commit()
    # Rendered, not flashed: the session cookie is signed, not encrypted.
    return _render_account(new_token={"name": token.name, "value": plain})


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_api_token(token_id: int):
    token = services.get_api_token(token_id, actor=current_user)
    services.revoke_api_token(token, actor=current_user, now=utcnow())
    db.session.commit()
    flash(f"Token “{token.name}” is revoked.", "success")
    return redirect(url_for("accounts.account"))


# --- admin: organisations ---------------------------------------------------------------------


@bp.get("/admin/organisations")
@login_required
def organisations():
    services.require_admin(current_user)
    query = services.list_organisations(current_user)
    if fmt := export_format():
        return export_response(query, ORGANISATION_COLUMNS, "organisations", fmt)
    return render_template("accounts/organisations.html", page=_page(query))


@bp.route("/admin/organisations/new", methods=["GET", "POST"])
@login_required
def create_organisation():
    services.require_admin(current_user)
    form = OrganisationForm()
    del form.is_active
    if form.validate_on_submit():
        try:
            organisation = services.create_organisation(
                actor=current_user,
                name=form.name.data,
                kind=OrganisationKind(form.kind.data),
                country_code=form.country_code.data or None,
            )
        except RuleViolation as error:
            _show_field_errors(form, error)
        else:
            db.session.commit()
            flash(f"Organisation “{organisation.name}” created.", "success")
            return redirect(url_for("accounts.organisations"))
    return render_template("accounts/organisation_form.html", form=form, organisation=None)


@bp.route("/admin/organisations/<int:organisation_id>", methods=["GET", "POST"])
@login_required
def edit_organisation(organisation_id: int):
    services.require_admin(current_user)
    organisation = services.get_organisation(organisation_id, actor=current_user)
    form = OrganisationForm(obj=organisation)
    if form.validate_on_submit():
        try:
            services.update_organisation(
                organisation,
                actor=current_user,
                name=form.name.data,
                kind=OrganisationKind(form.kind.data),
                country_code=form.country_code.data or None,
                is_active=form.is_active.data,
            )
        except RuleViolation as error:
            _show_field_errors(form, error)
        else:
            db.session.commit()
            flash(f"Organisation “{organisation.name}” saved.", "success")
            return redirect(url_for("accounts.organisations"))
    return render_template(
        "accounts/organisation_form.html",
        form=form,
        organisation=organisation,
        history=audit_services.history_for("organisation", organisation.id),
    )


# --- admin: users -----------------------------------------------------------------------------


def _organisation_choices() -> list[SelectChoice]:
    return [
        SelectChoice(o.id, f"{o.name} ({o.kind.label})")
        for o in db.session.scalars(services.list_organisations(current_user))
        if o.is_active
    ]


@bp.get("/admin/users")
@login_required
def users():
    services.require_admin(current_user)
    query = services.list_users(current_user)
    if fmt := export_format():
        return export_response(query, USER_COLUMNS, "users", fmt)
    return render_template("accounts/users.html", page=_page(query), now=utcnow())


@bp.route("/admin/users/new", methods=["GET", "POST"])
@login_required
def create_user():
    services.require_admin(current_user)
    form = CreateUserForm()
    form.organisation_id.choices = _organisation_choices()
    if form.validate_on_submit():
        try:
            user = services.create_user(
                actor=current_user,
                email=form.email.data,
                full_name=form.full_name.data,
                organisation_id=form.organisation_id.data,
                password=form.password.data,
                is_admin=form.is_admin.data,
                settings=account_settings(),
            )
        except (InvalidInput, RuleViolation) as error:
            _show_field_errors(form, error)
        else:
            db.session.commit()
            flash(
                f"User {user.email} created. Give them their first password by a separate channel.", "success"
            )
            return redirect(url_for("accounts.edit_user", user_id=user.id))
    return render_template(
        "accounts/user_new.html", form=form, min_length=current_app.config["PASSWORD_MIN_LENGTH"]
    )


def _render_user(user: User, form: EditUserForm, password_form=None, status=200, reset_link=None):
    return render_template(
        "accounts/user_edit.html",
        user=user,
        form=form,
        now=utcnow(),
        password_form=password_form or TemporaryPasswordForm(),
        confirm_form=ConfirmForm(),
        history=audit_services.history_for("user", user.id),
        two_factor_required=policies.two_factor_required(user),
        reset_link=reset_link,
        reset_hours=current_app.config["PASSWORD_RESET_ADMIN_HOURS"],
    ), status


@bp.post("/admin/users/<int:user_id>/reset-link")
@login_required
def issue_reset_link(user_id: int):
    services.require_admin(current_user)
    user = services.get_user(user_id, actor=current_user)
    plain = services.issue_reset_link(user, actor=current_user, settings=account_settings(), now=utcnow())
    db.session.commit()
    # Rendered once, never flashed or stored: the page is the only place the link appears.
    link = url_for("accounts.reset_password", token=plain, _external=True)
    form = EditUserForm(obj=user)
    form.organisation_id.choices = _organisation_choices()
    return _render_user(user, form, reset_link=link)


@bp.post("/admin/users/<int:user_id>/two-factor/reset")
@login_required
def reset_user_two_factor(user_id: int):
    services.require_admin(current_user)
    user = services.get_user(user_id, actor=current_user)
    services.reset_two_factor(user, actor=current_user, now=utcnow())
    db.session.commit()
    flash(f"Two-factor authentication of {user.email} is cleared; their sessions were ended.", "success")
    return redirect(url_for("accounts.edit_user", user_id=user.id))


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@login_required
def edit_user(user_id: int):
    services.require_admin(current_user)
    user = services.get_user(user_id, actor=current_user)
    form = EditUserForm(obj=user)
    form.organisation_id.choices = _organisation_choices()
    if form.validate_on_submit():
        try:
            services.update_user(
                user,
                actor=current_user,
                full_name=form.full_name.data,
                organisation_id=form.organisation_id.data,
                is_admin=form.is_admin.data,
                is_active=form.is_active.data,
            )
        except (InvalidInput, RuleViolation) as error:
            db.session.rollback()
            user = services.get_user(user_id, actor=current_user)
            _show_field_errors(form, error)
        else:
            db.session.commit()
            flash(f"{user.email} saved.", "success")
            return redirect(url_for("accounts.edit_user", user_id=user.id))
    return _render_user(user, form)


@bp.post("/admin/users/<int:user_id>/unlock")
@login_required
def unlock_user(user_id: int):
    services.require_admin(current_user)
    user = services.unlock_user(services.get_user(user_id, actor=current_user), actor=current_user)
    db.session.commit()
    flash(f"{user.email} is unlocked.", "success")
    return redirect(url_for("accounts.edit_user", user_id=user.id))


@bp.post("/admin/users/<int:user_id>/temporary-password")
@login_required
def set_temporary_password(user_id: int):
    services.require_admin(current_user)
    user = services.get_user(user_id, actor=current_user)
    password_form = TemporaryPasswordForm()
    if password_form.validate_on_submit():
        try:
            services.set_temporary_password(
                user,
                actor=current_user,
                password=password_form.password.data,
                settings=account_settings(),
                now=utcnow(),
            )
        except InvalidInput as error:
            _show_field_errors(password_form, error)
        else:
            db.session.commit()
            flash(f"Temporary password set for {user.email}; their sessions were ended.", "success")
            return redirect(url_for("accounts.edit_user", user_id=user.id))
    form = EditUserForm(obj=user)
    form.organisation_id.choices = _organisation_choices()
    return _render_user(user, form, password_form=password_form, status=422)


@bp.get("/admin/audit")
@login_required
def audit_log():
    prefix = request.args.get("action", "").strip()[:80] or None
    query = services.list_audit_entries(current_user, action_prefix=prefix)
    if fmt := export_format():
        return export_response(query, AUDIT_COLUMNS, "audit-log", fmt)
    page = _page(query)
    return render_template("accounts/audit_log.html", page=page, action=prefix or "")
