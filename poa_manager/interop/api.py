"""JSON endpoints: webhook endpoints and their delivery logs; CADT projects and units."""

from flask import current_app, g
from flask.views import MethodView

from poa_manager.api import api_blueprint
from poa_manager.api.pagination import page_of
from poa_manager.database import db, utcnow
from poa_manager.interop import jobs, schemas, services
from poa_manager.interop.views import PING_TIMEOUT_SECONDS, cadt_context

blp = api_blueprint(
    "interop_api",
    __name__,
    description="Signed webhooks for registry events; CADT export of projects and units",
)


def _webhook(endpoint_id: int):
    return services.get_webhook(endpoint_id, actor=g.api_user)


@blp.route("/webhooks")
class Webhooks(MethodView):
    @blp.response(200, schemas.WebhookSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """Webhook endpoints you may see: your organisation's (all for administrators)"""
        return page_of(services.list_webhooks(g.api_user), pagination_parameters)

    @blp.arguments(schemas.CreateWebhookRequest)
    @blp.response(201, schemas.CreatedWebhookSchema)
    def post(self, payload):
        """Register an endpoint; the response is the only time its signing secret is shown"""
        endpoint, _secret = services.create_webhook(actor=g.api_user, **payload)
        db.session.commit()
        return endpoint  # CreatedWebhookSchema is the only schema that includes the secret


@blp.route("/webhooks/<int:endpoint_id>")
class Webhook(MethodView):
    @blp.response(200, schemas.WebhookSchema)
    def get(self, endpoint_id):
        """One endpoint (never its secret)"""
        return _webhook(endpoint_id)

    @blp.response(200, schemas.WebhookSchema)
    def delete(self, endpoint_id):
        """Switch an endpoint off for good; its pending deliveries are marked failed"""
        endpoint = _webhook(endpoint_id)
        services.deactivate_webhook(endpoint, actor=g.api_user, now=utcnow())
        db.session.commit()
        return endpoint


@blp.route("/webhooks/<int:endpoint_id>/deliveries")
@blp.response(200, schemas.DeliverySchema(many=True))
@blp.paginate()
def list_deliveries(pagination_parameters, endpoint_id):
    """The endpoint's delivery log, newest first: status, attempts, last answer"""
    return page_of(services.list_deliveries(_webhook(endpoint_id), actor=g.api_user), pagination_parameters)


@blp.route("/webhooks/<int:endpoint_id>/ping", methods=["POST"])
@blp.response(200, schemas.PingResultSchema)
def ping(endpoint_id):
    """Send a signed test event ("ping") now and report the receiver's answer"""
    response = services.ping_webhook(
        _webhook(endpoint_id),
        actor=g.api_user,
        now=utcnow(),
        send=jobs.sender_for(current_app, timeout_seconds=PING_TIMEOUT_SECONDS),
    )
    db.session.commit()
    return {"ok": response.ok, "status_code": response.status_code, "error": response.error}


@blp.route("/cadt/projects")
@blp.arguments(schemas.CadtQuery, location="query")
@blp.response(200, schemas.CadtProjectSchema(many=True))
@blp.paginate()
def cadt_projects(query, pagination_parameters):
    """CADT project records (with locations and issuances) of the programmes you may see"""
    programme_id = query["programme_id"]
    if programme_id is not None:
        services.get_exportable_programme(programme_id, actor=g.api_user)
    programmes = page_of(
        services.exportable_programmes(g.api_user, programme_id=programme_id), pagination_parameters
    )
    registry, links = cadt_context()
    return services.project_records(programmes, registry=registry, links=links)


@blp.route("/cadt/units")
@blp.arguments(schemas.CadtQuery, location="query")
@blp.response(200, schemas.CadtUnitSchema(many=True))
@blp.paginate()
def cadt_units(query, pagination_parameters):
    """CADT unit records (one per serial block) of the programmes you may see"""
    programme_id = query["programme_id"]
    if programme_id is not None:
        services.get_exportable_programme(programme_id, actor=g.api_user)
    blocks = page_of(services.exportable_units(g.api_user, programme_id=programme_id), pagination_parameters)
    _registry, links = cadt_context()
    return services.unit_records(blocks, links=links)
