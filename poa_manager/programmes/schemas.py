"""API schemas for programmes and their memberships."""

from marshmallow import Schema, fields

from poa_manager.accounts.roles import Role
from poa_manager.accounts.schemas import MembershipSchema
from poa_manager.programmes.models import Mechanism, ProgrammeStatus


class SiteSummarySchema(Schema):
    id = fields.Integer()
    reference = fields.String()
    name = fields.String()


class ProgrammeSchema(Schema):
    id = fields.Integer(dump_only=True)
    reference = fields.String()
    title = fields.String()
    mechanism = fields.Enum(Mechanism, by_value=True)
    host_country = fields.String()
    coordinating_entity_id = fields.Integer()
    status = fields.Enum(ProgrammeStatus, by_value=True)
    sites = fields.List(fields.Nested(SiteSummarySchema), dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class ProgrammeMembershipSchema(MembershipSchema):
    user_email = fields.String(attribute="user.email", dump_only=True)


class GrantRoleRequest(Schema):
    user_id = fields.Integer(required=True, strict=True)
    role = fields.Enum(Role, by_value=True, required=True)
    site_id = fields.Integer(load_default=None, allow_none=True, strict=True)
