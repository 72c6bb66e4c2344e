"""JSON endpoints for programmes and the roles people hold on them."""

from flask import g
from flask.views import MethodView

from poa_manager.api import api_blueprint
from poa_manager.api.pagination import page_of
from poa_manager.database import db
from poa_manager.programmes import schemas, services

blp = api_blueprint(
    "programmes_api",
    __name__,
    url_prefix="/programmes",
    description="Programmes and who holds which role on them",
)


@blp.route("")
class Programmes(MethodView):
    @blp.response(200, schemas.ProgrammeSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """Programmes you hold a role on (all for administrators)"""
        return page_of(services.list_programmes(g.api_user), pagination_parameters)


@blp.route("/<int:programme_id>")
class Programme(MethodView):
    @blp.response(200, schemas.ProgrammeSchema)
    def get(self, programme_id):
        """One programme"""
        return services.get_programme(programme_id, actor=g.api_user)


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
