"""JSON endpoints for programmes: design, validation and registration, holds, and roles."""

from flask import g
from flask.views import MethodView

from poa_manager.api import api_blueprint, perform
from poa_manager.api.pagination import page_of
from poa_manager.database import db, utcnow
from poa_manager.programmes import schemas, services

blp = api_blueprint(
    "programmes_api",
    __name__,
    url_prefix="/programmes",
    description="Programmes, their versioned design, validation, registration and roles",
)


@blp.route("")
class Programmes(MethodView):
    @blp.response(200, schemas.ProgrammeSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """Programmes you hold a role on (all for administrators)"""
        return page_of(services.list_programmes(g.api_user), pagination_parameters)

    @blp.arguments(schemas.CreateProgrammeRequest)
    @blp.response(201, schemas.ProgrammeSchema)
    def post(self, payload):
        """Create a draft programme for your coordinating entity; you become its coordinator"""
        programme = services.create_programme(actor=g.api_user, **payload)
        db.session.commit()
        return programme


@blp.route("/<int:programme_id>")
class Programme(MethodView):
    @blp.response(200, schemas.ProgrammeSchema)
    def get(self, programme_id):
        """One programme with its registered and pending designs"""
        return services.get_programme(programme_id, actor=g.api_user)

    @blp.arguments(schemas.UpdateProgrammeRequest)
    @blp.response(200, schemas.ProgrammeSchema)
    def patch(self, payload, programme_id):
        """Change the draft design; a registered programme needs a revision first"""
        programme = services.get_programme(programme_id, actor=g.api_user)
        current = {
            "title": programme.title,
            "host_country": programme.host_country,
            "partner_country": programme.partner_country,
        }
        services.update_programme(programme, actor=g.api_user, **(current | payload))
        db.session.commit()
        return programme


def _transition(programme_id: int, use_case, **arguments):
    return perform(services.get_programme(programme_id, actor=g.api_user), use_case, **arguments)


@blp.route("/<int:programme_id>/submit-for-validation", methods=["POST"])
@blp.response(200, schemas.ProgrammeSchema)
def submit_for_validation(programme_id):
    """Send the complete draft design to the programme's verifier"""
    return _transition(programme_id, services.submit_for_validation, now=utcnow())


@blp.route("/<int:programme_id>/validate", methods=["POST"])
@blp.response(200, schemas.ProgrammeSchema)
def validate(programme_id):
    """Validate the submitted design (a verifier who did not prepare it)"""
    return _transition(programme_id, services.validate, now=utcnow())


@blp.route("/<int:programme_id>/register", methods=["POST"])
@blp.response(200, schemas.ProgrammeSchema)
def register(programme_id):
    """Register the validated design (a registry administrator who took no earlier step)"""
    return _transition(programme_id, services.register, now=utcnow())


@blp.route("/<int:programme_id>/return-for-changes", methods=["POST"])
@blp.arguments(schemas.ReasonRequest)
@blp.response(200, schemas.ProgrammeSchema)
def return_for_changes(payload, programme_id):
    """Send a design under review back to the coordinator, saying what must change"""
    return _transition(programme_id, services.return_for_changes, **payload)


@blp.route("/<int:programme_id>/start-revision", methods=["POST"])
@blp.arguments(schemas.RevisionRequest)
@blp.response(200, schemas.ProgrammeSchema)
def start_revision(payload, programme_id):
    """Open a new draft version of a registered programme's design"""
    return _transition(programme_id, services.start_revision, **payload)


@blp.route("/<int:programme_id>/holds", methods=["PUT"])
@blp.arguments(schemas.HoldsRequest)
@blp.response(200, schemas.ProgrammeSchema)
def set_holds(payload, programme_id):
    """Put inclusions and issuance on hold, or lift the holds (registry administrator)"""
    return _transition(programme_id, services.set_holds, **payload)


@blp.route("/<int:programme_id>/memberships")
class Memberships(MethodView):
    @blp.response(200, schemas.ProgrammeMembershipSchema(many=True))
    def get(self, programme_id):
        """Who holds which role on the programme"""
        programme = services.get_programme(programme_id, actor=g.api_user)
        return services.list_members(programme, actor=g.api_user)

    @blp.arguments(schemas.GrantRoleRequest)
    @blp.response(201, schemas.ProgrammeMembershipSchema)
    def post(self, payload, programme_id):
        """Grant a role on the programme (administrators); site operators name a site"""
        programme = services.get_programme(programme_id, actor=g.api_user)
        membership = services.grant_role(programme, actor=g.api_user, **payload)
        db.session.commit()
        return membership


@blp.route("/<int:programme_id>/memberships/<int:membership_id>")
class Membership(MethodView):
    @blp.response(204)
    def delete(self, programme_id, membership_id):
        """Revoke a role (administrators)"""
        programme = services.get_programme(programme_id, actor=g.api_user)
        membership = services.get_membership(programme, membership_id, actor=g.api_user)
        services.revoke_membership(membership, actor=g.api_user)
        db.session.commit()
