"""JSON endpoints of the dashboards feature: the role dashboard, cycle times, targets, references."""

from flask import g

from poa_manager.api import api_blueprint
from poa_manager.dashboards import schemas, services
from poa_manager.database import db, utcnow
from poa_manager.programmes import services as programme_services

blp = api_blueprint(
    "dashboards_api", __name__, description="Dashboards: role work lists, cycle times, targets"
)


@blp.route("/dashboard")
@blp.response(200)
def dashboard():
    """What each of your roles has to do: the landing page's sections (first 20 rows, with totals)"""
    return schemas.dashboard_json(services.dashboard(actor=g.api_user, now=utcnow()))


@blp.route("/cycle-times")
@blp.response(200)
def cycle_times():
    """Cycle times of the issuance requests of the programmes you may see: per step and in total
    (days), medians, the slowest, the overdue and the distribution"""
    return schemas.summary_json(services.portfolio(actor=g.api_user, today=utcnow().date()))


@blp.route("/programmes/<int:programme_id>/cycle-times")
@blp.response(200)
def programme_cycle_times(programme_id):
    """One programme's cycle times (404 when you may not see the programme)"""
    programme = programme_services.get_programme(programme_id, actor=g.api_user)
    return schemas.summary_json(services.programme_cycles(programme, actor=g.api_user, today=utcnow().date()))


@blp.route("/service-level-targets", methods=["GET"])
@blp.response(200)
def get_targets():
    """Target days per step of the cycle ([U] defaults unless changed)"""
    return [schemas.target_json(t) for t in services.target_table()]


@blp.route("/service-level-targets", methods=["PUT"])
@blp.arguments(schemas.TargetsSchema)
@blp.response(200)
def put_targets(payload):
    """Change some steps' targets (platform administrators only; audited)"""
    table = services.set_targets(actor=g.api_user, changes=payload["targets"])
    db.session.commit()
    return [schemas.target_json(t) for t in table]


@blp.route("/reference-cycles")
@blp.response(200)
def reference_cycles():
    """Published cycles from outside the platform (e.g. JCM Viet Nam), with the platform's median"""
    references = services.reference_cycles(actor=g.api_user)
    portfolio = services.portfolio(actor=g.api_user, today=utcnow().date())
    return {
        "cycles": [schemas.reference_json(r) for r in references],
        "batches": [schemas.batch_json(b) for b in services.reference_batches(actor=g.api_user)],
        "reference_median_days": services.reference_median_days(references),
        "platform_median_days": portfolio.median_total_days,
    }
