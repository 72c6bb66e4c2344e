"""Pages: log in and out, one's account and tokens, and the admin area."""

import json
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from wtforms import SelectChoice

from poa_manager.accounts import services
from poa_manager.accounts.forms import (
    ChangePasswordForm,
    ConfirmForm,
    CreateApiTokenForm,
    CreateUserForm,
    EditUserForm,
    LoginForm,
    OrganisationForm,
    TemporaryPasswordForm,
)
from poa_manager.accounts.login import account_settings
from poa_manager.accounts.models import User
from poa_manager.accounts.roles import OrganisationKind
from poa_manager.audit import services as audit_services
from poa_manager.database import db, utcnow
from poa_manager.errors import DomainError, InvalidInput, RuleViolation
from poa_manager.extensions import limiter
from poa_manager.web import export_format, export_response

bp = Blueprint("accounts", __name__)
PER_PAGE = 25


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
        user.login_session_key = services.start_login_session(
            user,
            settings=account_settings(),
            now=utcnow(),
            client_address=request.remote_addr,
            user_agent=request.user_agent.string,
        )
        login_user(user)
        db.session.commit()
        return redirect(_safe_next(form.next.data) or url_for("dashboards.home"))
    return render_template("accounts/login.html", form=form)


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


def _render_user(user: User, form: EditUserForm, password_form=None, status=200):
    return render_template(
        "accounts/user_edit.html",
        user=user,
        form=form,
        now=utcnow(),
        password_form=password_form or TemporaryPasswordForm(),
        confirm_form=ConfirmForm(),
        history=audit_services.history_for("user", user.id),
    ), status


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
