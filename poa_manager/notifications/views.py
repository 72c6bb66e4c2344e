"""Pages of the notifications feature: the inbox and the preferences."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from poa_manager import smtp
from poa_manager.database import db
from poa_manager.notifications import catalogue, services
from poa_manager.notifications.forms import ConfirmForm, MarkReadForm, PreferencesForm, field_name

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
PER_PAGE = 50


@bp.record_once
def _wire(state) -> None:
    """When the app is built: queue e-mail only if a server is configured, and listen to the
    audit log for hand-overs."""
    services.configure_email(enabled=smtp.settings_from(state.app.config).configured)
    services.subscribe()


@bp.app_context_processor
def _unread_notifications() -> dict:
    """`unread_notifications` for the navigation: one COUNT on the (user_id, read_at) index for
    a logged-in user, no query at all for anyone else."""
    if not current_user.is_authenticated:
        return {"unread_notifications": 0}
    try:
        return {"unread_notifications": services.unread_count(current_user)}
    except SQLAlchemyError:  # an error page after a failed transaction still renders
        return {"unread_notifications": 0}


def _safe_link(link: str | None) -> str | None:
    """Only paths inside the app: never an absolute or protocol-relative URL."""
    return link if link and link.startswith("/") and not link.startswith("//") else None


@bp.get("/")
@login_required
def index():
    unread_only = request.args.get("unread") in ("1", "true", "yes")
    page = db.paginate(
        services.list_notifications(current_user, unread_only=unread_only),
        page=request.args.get("page", 1, type=int),
        per_page=PER_PAGE,
        error_out=False,
    )
    return render_template(
        "notifications/index.html",
        page=page,
        unread_only=unread_only,
        labels={c.key: c.label for c in catalogue.CATEGORIES},
        safe_link=_safe_link,
        mark_form=MarkReadForm(),
        confirm_form=ConfirmForm(),
    )


@bp.post("/<int:notification_id>/read")
@login_required
def mark_read(notification_id: int):
    form = MarkReadForm()
    notification = services.get_notification(notification_id, actor=current_user)  # 404 if not one's own
    if form.validate_on_submit():
        services.mark_read(notification, actor=current_user)
        db.session.commit()
        if form.open.data and (link := _safe_link(notification.link)):
            return redirect(link)
    return redirect(request.referrer if _safe_referrer() else url_for("notifications.index"))


def _safe_referrer() -> bool:
    referrer = request.referrer or ""
    return referrer.startswith(request.host_url + "notifications")


@bp.post("/read-all")
@login_required
def mark_all_read():
    if ConfirmForm().validate_on_submit():
        count = services.mark_all_read(actor=current_user)
        db.session.commit()
        flash(f"{catalogue.plural(count, 'notification')} marked read.", "success")
    return redirect(url_for("notifications.index"))


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    form = PreferencesForm()
    if form.validate_on_submit():
        services.set_preferences(actor=current_user, choices=form.choices())
        db.session.commit()
        flash("Notification preferences saved.", "success")
        return redirect(url_for("notifications.preferences"))
    shown = services.preferences(current_user)
    if request.method == "GET":
        for preference in shown:
            getattr(form, field_name(preference.category, "in_app")).data = preference.in_app
            getattr(form, field_name(preference.category, "email")).data = preference.email
    rows = [
        (p, getattr(form, field_name(p.category, "in_app")), getattr(form, field_name(p.category, "email")))
        for p in shown
    ]
    return render_template(
        "notifications/preferences.html", form=form, rows=rows, email_enabled=services.email_enabled()
    )
