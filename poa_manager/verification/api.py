"""JSON endpoints for verification: assignment, sampling plan and draw, findings, results, statement."""

from flask import Response, g

from poa_manager.api import api_blueprint, perform
from poa_manager.api.pagination import page_of
from poa_manager.database import db
from poa_manager.monitoring import services as monitoring_services
from poa_manager.verification import exports, schemas, services

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

blp = api_blueprint(
    "verification_api", __name__, description="Verifications: sampling, findings and statements"
)


def _verification(verification_id: int):
    return services.get_verification(verification_id, actor=g.api_user)


@blp.route("/verifications")
@blp.response(200, schemas.VerificationSchema(many=True))
@blp.paginate()
def list_verifications(pagination_parameters):
    """Verifications you may see: your organisation's assignments, or your programmes'"""
    return page_of(services.list_verifications(g.api_user), pagination_parameters)


@blp.route("/issuance-requests/<int:request_id>/verification", methods=["POST"])
@blp.arguments(schemas.AssignSchema)
@blp.response(201, schemas.VerificationSchema)
def assign_verifier(payload, request_id):
    """Assign a verifier organisation and its team to a submitted issuance request"""
    issuance_request = monitoring_services.get_request(request_id, actor=g.api_user)
    verification = services.assign_verifier(issuance_request, actor=g.api_user, **payload)
    db.session.commit()
    return verification


@blp.route("/verifications/<int:verification_id>")
@blp.response(200, schemas.VerificationSchema)
def get_verification(verification_id):
    """A verification with its team, plan, seed and statement"""
    return _verification(verification_id)


@blp.route("/verifications/<int:verification_id>/team", methods=["PUT"])
@blp.arguments(schemas.TeamSchema)
@blp.response(200, schemas.VerificationSchema)
def set_team(payload, verification_id):
    """Replace the team; impartiality is checked for every person"""
    return perform(_verification(verification_id), services.set_team, **payload)


@blp.route("/verifications/<int:verification_id>/cancel", methods=["POST"])
@blp.arguments(schemas.ReasonSchema)
@blp.response(200, schemas.VerificationSchema)
def cancel_verification(payload, verification_id):
    """Cancel an open assignment; the request waits for a verifier again"""
    return perform(_verification(verification_id), services.cancel_verification, **payload)


@blp.route("/verifications/<int:verification_id>/sample-size", methods=["POST"])
@blp.arguments(schemas.PlanSchema)
@blp.response(200, schemas.PreviewSchema)
def preview_plan(payload, verification_id):
    """The sample size (with the formula and inputs) and allocation a plan gives, without drawing"""
    verification = _verification(verification_id)
    return services.preview_plan(verification, plan=services.PlanInput(**payload)).as_dict()


@blp.route("/verifications/<int:verification_id>/draw", methods=["POST"])
@blp.arguments(schemas.DrawSchema)
@blp.response(200, schemas.VerificationSchema)
def draw(payload, verification_id):
    """Freeze the frame and draw the sample with a stored seed (refused once findings exist)"""
    seed = payload.pop("seed")
    return perform(
        _verification(verification_id), services.draw, plan=services.PlanInput(**payload), seed=seed
    )


@blp.route("/verifications/<int:verification_id>/extend", methods=["POST"])
@blp.arguments(schemas.ExtendSchema)
@blp.response(200, schemas.VerificationSchema)
def extend_sample(payload, verification_id):
    """Draw more sites from the same seeded sequences"""
    return perform(_verification(verification_id), services.extend_sample, **payload)


@blp.route("/verifications/<int:verification_id>/frame")
@blp.arguments(schemas.FrameQuery, location="query")
@blp.response(200, schemas.FrameEntrySchema(many=True))
@blp.paginate()
def frame(args, verification_id, pagination_parameters):
    """The frozen sampling frame (every site of the request), with draws, checks and findings"""
    verification = _verification(verification_id)
    query = services.frame_entries(verification, sampled_only=args["sampled"])
    return page_of(query, pagination_parameters)


@blp.route("/verifications/<int:verification_id>/frame/<int:site_id>")
@blp.response(200, schemas.FrameEntrySchema)
def frame_entry(verification_id, site_id):
    """One site of the frame"""
    return services.get_entry(_verification(verification_id), site_id)


@blp.route("/verifications/<int:verification_id>/findings/<int:site_id>", methods=["PUT"])
@blp.arguments(schemas.FindingSchema)
@blp.response(200, schemas.FrameEntrySchema)
def record_finding(payload, verification_id, site_id):
    """Record (or correct) the finding for a sampled site"""
    verification = _verification(verification_id)
    entry = services.record_finding(verification, actor=g.api_user, site_id=site_id, **payload)
    db.session.commit()
    return entry


@blp.route("/verifications/<int:verification_id>/population/<int:site_id>", methods=["PUT"])
@blp.arguments(schemas.PopulationDecisionSchema)
@blp.response(200, schemas.FrameEntrySchema)
def decide_population_problem(payload, verification_id, site_id):
    """Accept or exclude a site whose whole-population check found a problem"""
    verification = _verification(verification_id)
    entry = services.decide_population_problem(verification, actor=g.api_user, site_id=site_id, **payload)
    db.session.commit()
    return entry


@blp.route("/verifications/<int:verification_id>/results")
@blp.response(200, schemas.ResultsSchema)
def results(verification_id):
    """The error ratio, its interval and precision, and the corrected total, from the findings"""
    verification = _verification(verification_id)
    return exports.results_payload(verification)


@blp.route("/verifications/<int:verification_id>/statement", methods=["POST"])
@blp.arguments(schemas.StatementSchema)
@blp.response(200, schemas.VerificationSchema)
def draft_statement(payload, verification_id):
    """Draft the statement: opinion and findings summary; the figures are frozen with it"""
    return perform(_verification(verification_id), services.draft_statement, **payload)


@blp.route("/verifications/<int:verification_id>/statement/approve", methods=["POST"])
@blp.response(200, schemas.VerificationSchema)
def approve_statement(verification_id):
    """Approve and issue the statement (four eyes: not whoever recorded findings or drafted it)"""
    return perform(_verification(verification_id), services.approve_statement)


@blp.route("/verifications/<int:verification_id>/statement/return", methods=["POST"])
@blp.arguments(schemas.ReasonSchema)
@blp.response(200, schemas.VerificationSchema)
def return_draft(payload, verification_id):
    """Send the drafted statement back to the team"""
    return perform(_verification(verification_id), services.return_draft, **payload)


def _download(verification_id: int, name: str, mimetype: str, build) -> Response:
    verification = _verification(verification_id)
    return Response(
        build(verification),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{verification.label}-{name}"'},
    )


def _file_doc(mimetype: str, description: str) -> dict:
    content = {mimetype: {"schema": {"type": "string", "format": "binary"}}}
    return {"responses": {"200": {"description": description, "content": content}}}


@blp.route("/verifications/<int:verification_id>/sample.csv")
@blp.doc(**_file_doc("text/csv", "Every frame site with its draw, finding and population decision"))
def sample_csv(verification_id):
    """The sample and its findings as CSV (formula-safe)"""
    return _download(verification_id, "sample.csv", "text/csv", exports.sample_csv)


@blp.route("/verifications/<int:verification_id>/sample.xlsx")
@blp.doc(**_file_doc(XLSX, "The sample and findings, with the plan and the results on their own sheets"))
def sample_xlsx(verification_id):
    """The sample and its findings as an XLSX workbook, with the plan and results"""
    return _download(verification_id, "sample.xlsx", XLSX, exports.sample_workbook)


@blp.route("/verifications/<int:verification_id>/frame.csv")
@blp.doc(**_file_doc("text/csv", "The frozen frame exactly as hashed into frame_sha256"))
def frame_csv(verification_id):
    """The frozen sampling frame: with the seed, anyone can repeat the draw"""
    return _download(verification_id, "frame.csv", "text/csv", exports.frame_csv)
