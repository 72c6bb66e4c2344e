"""Pages: webhook endpoints (register, delivery log, test event, switch off) and the CADT export."""

import json

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from poa_manager.audit import services as audit_services
from poa_manager.database import db, utcnow
from poa_manager.errors import InvalidInput, NotFound, RuleViolation
from poa_manager.interop import jobs, policies, services
from poa_manager.interop.forms import ConfirmForm, CreateWebhookForm
from poa_manager.programmes.models import Programme
from poa_manager.web import describe, export_format, export_response, place_errors

bp = Blueprint("interop", __name__, url_prefix="/interop")
PER_PAGE = 50
PING_TIMEOUT_SECONDS = 5.0  # the page waits for the receiver; keep that short


def cadt_context() -> tuple[str, services.Links]:
    """The registry name CADT shows (POA_CADT_REGISTRY_NAME, else POA_REGISTRY_ID) and the links."""
    registry = current_app.config.get("CADT_REGISTRY_NAME") or current_app.config["REGISTRY_ID"]
    links = services.Links(
        project=lambda programme: url_for("programmes.detail", programme_id=programme.id, _external=True),
        unit=lambda serial: url_for("registry.lookup", q=serial, _external=True),
    )
    return registry, links


@bp.get("/")
@login_required
def index():
    return redirect(url_for("interop.webhooks"))


# --- webhooks ------------------------------------------------------------------------------------


def _create_form() -> CreateWebhookForm:
    form = CreateWebhookForm()
    form.organisation_id.choices = [(o.id, o.name) for o in services.webhook_organisations(current_user)]
    if request.method == "GET":
        form.organisation_id.data = current_user.organisation_id
    return form


def _render_webhooks(form=None, new_secret=None, status=200):
    endpoints = db.session.scalars(services.list_webhooks(current_user)).all()
    return render_template(
        "interop/webhooks.html",
        endpoints=endpoints,
        form=form or _create_form(),
        new_secret=new_secret,
        confirm_form=ConfirmForm(),
        sees_all=policies.sees_all_webhooks(current_user),
    ), status


@bp.get("/webhooks")
@login_required
def webhooks():
    if fmt := export_format():
        # The secret never leaves the page it was shown on; the export holds its hint only.
        return export_response(services.list_webhooks(current_user), WEBHOOK_COLUMNS, "webhooks", fmt)
    return _render_webhooks()


WEBHOOK_COLUMNS = [
    ("Endpoint", "label"),
    ("Organisation", lambda e: e.organisation.name),
    ("URL", "url"),
    ("Description", "description"),
    ("Events", lambda e: ", ".join(e.event_kinds)),
    ("Secret hint", "secret_hint"),
    ("Active", "active"),
    ("Created at", "created_at"),
]


@bp.post("/webhooks")
@login_required
def create_webhook():
    form = _create_form()
    if not form.validate_on_submit():
        return _render_webhooks(form=form, status=422)
    try:
        endpoint, secret = services.create_webhook(
            actor=current_user,
            organisation_id=form.organisation_id.data,
            url=form.url.data,
            description=form.description.data,
            event_kinds=form.event_kinds.data,
        )
    except InvalidInput as error:
        db.session.rollback()
        place_errors(form, error)
        return _render_webhooks(form=form, status=422)
    db.session.commit()
    # Rendered, not flashed: the session cookie is signed, not encrypted (as for API tokens).
    return _render_webhooks(new_secret={"endpoint": endpoint, "value": secret}, status=201)


@bp.get("/webhooks/<int:endpoint_id>")
@login_required
def webhook(endpoint_id: int):
    endpoint = services.get_webhook(endpoint_id, actor=current_user)
    page = db.paginate(
        services.list_deliveries(endpoint, actor=current_user),
        page=request.args.get("page", 1, type=int),
        per_page=PER_PAGE,
        error_out=False,
    )
    return render_template(
        "interop/webhook.html",
        endpoint=endpoint,
        page=page,
        confirm_form=ConfirmForm(),
        history=audit_services.history_for("webhook_endpoint", endpoint.id),
        can_manage=policies.can_manage_webhooks(current_user, endpoint.organisation_id),
    )


@bp.post("/webhooks/<int:endpoint_id>/deactivate")
@login_required
def deactivate_webhook(endpoint_id: int):
    endpoint = services.get_webhook(endpoint_id, actor=current_user)
    services.deactivate_webhook(endpoint, actor=current_user, now=utcnow())
    db.session.commit()
    flash(f"{endpoint.label} is switched off: nothing more is sent to it.", "success")
    return redirect(url_for("interop.webhook", endpoint_id=endpoint.id))


@bp.post("/webhooks/<int:endpoint_id>/ping")
@login_required
def ping_webhook(endpoint_id: int):
    endpoint = services.get_webhook(endpoint_id, actor=current_user)
    try:
        response = services.ping_webhook(
            endpoint,
            actor=current_user,
            now=utcnow(),
            send=jobs.sender_for(current_app, timeout_seconds=PING_TIMEOUT_SECONDS),
        )
    except RuleViolation as error:
        db.session.rollback()
        flash(describe(error), "error")
    else:
        db.session.commit()
        if response.ok:
            flash(f"Test event delivered: the receiver answered {response.status_code}.", "success")
        else:
            flash(f"Test event not delivered: {response.error or response.status_code}.", "error")
    return redirect(url_for("interop.webhook", endpoint_id=endpoint.id))


# --- CADT export ---------------------------------------------------------------------------------


def _programme_id() -> int | None:
    """?programme=<id>: one programme (404 unless the user may see it); absent: all of them."""
    value = request.args.get("programme", type=int)
    if value is not None:
        services.get_exportable_programme(value, actor=current_user)
    return value


def _attachment(body: bytes, mimetype: str, name: str) -> Response:
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@bp.get("/cadt")
@login_required
def cadt():
    programmes: list[Programme] = db.session.scalars(services.exportable_programmes(current_user)).all()
    return render_template("interop/cadt.html", programmes=programmes, entities=services.ENTITIES)


@bp.get("/cadt/export.json")
@login_required
def cadt_json():
    programme_id = _programme_id()
    registry, links = cadt_context()
    export = services.cadt_export(current_user, registry=registry, links=links, programme_id=programme_id)
    body = json.dumps(export, indent=2, ensure_ascii=False).encode()
    return _attachment(body, "application/json", f"cadt-{programme_id or 'all'}.json")


@bp.get("/cadt/<entity>.csv")
@login_required
def cadt_csv(entity: str):
    if entity not in services.ENTITIES:
        raise NotFound(f"No CADT entity {entity!r}.")
    programme_id = _programme_id()
    registry, links = cadt_context()
    export = services.cadt_export(current_user, registry=registry, links=links, programme_id=programme_id)
    body = services.cadt_csv(export, entity)
    return _attachment(body, "text/csv", f"cadt-{entity}-{programme_id or 'all'}.csv")
