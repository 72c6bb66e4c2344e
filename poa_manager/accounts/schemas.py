"""API request and response schemas for accounts. Same field names as the forms."""

from marshmallow import Schema, fields, validate

from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.schema_fields import JsonBoolean

COUNTRY_CODE = validate.Regexp(r"^[A-Za-z]{2}$", error="Two letters (ISO 3166-1 alpha-2).")


class OrganisationSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String()
    kind = fields.Enum(OrganisationKind, by_value=True)
    country_code = fields.String(allow_none=True)
    is_active = JsonBoolean()
    created_at = fields.DateTime(dump_only=True)


class CreateOrganisationRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.Enum(OrganisationKind, by_value=True, required=True)
    country_code = fields.String(load_default=None, allow_none=True, validate=COUNTRY_CODE)


class UpdateOrganisationRequest(CreateOrganisationRequest):
    name = fields.String(validate=validate.Length(min=1, max=200))
    kind = fields.Enum(OrganisationKind, by_value=True)
    is_active = JsonBoolean()


class MembershipSchema(Schema):
    id = fields.Integer(dump_only=True)
    user_id = fields.Integer()
    programme_id = fields.Integer()
    programme_reference = fields.String(attribute="programme.reference", dump_only=True)
    site_id = fields.Integer(allow_none=True)
    role = fields.Enum(Role, by_value=True)
    granted_by_id = fields.Integer(allow_none=True, dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class UserSchema(Schema):
    id = fields.Integer(dump_only=True)
    email = fields.Email()
    full_name = fields.String()
    organisation_id = fields.Integer()
    is_admin = JsonBoolean()
    is_active = JsonBoolean()
    must_change_password = JsonBoolean(dump_only=True)
    two_factor_enabled = JsonBoolean(attribute="has_two_factor", dump_only=True)
    locked_until = fields.DateTime(allow_none=True, dump_only=True)
    last_login_at = fields.DateTime(allow_none=True, dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class ResetLinkSchema(Schema):
    url = fields.String(metadata={"description": "One-time link; hand it to the user in person"})
    expires_in_hours = fields.Integer()


class MeSchema(UserSchema):
    organisation = fields.Nested(OrganisationSchema, dump_only=True)
    memberships = fields.List(fields.Nested(MembershipSchema), dump_only=True)


class CreateUserRequest(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    full_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    organisation_id = fields.Integer(required=True, strict=True)
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=128))
    is_admin = JsonBoolean(load_default=False)


class UpdateUserRequest(Schema):
    full_name = fields.String(validate=validate.Length(min=1, max=200))
    organisation_id = fields.Integer(strict=True)
    is_admin = JsonBoolean()
    is_active = JsonBoolean()


class ApiTokenSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String()
    prefix = fields.String(dump_only=True, metadata={"description": "The token's first characters."})
    created_at = fields.DateTime(dump_only=True)
    expires_at = fields.DateTime(allow_none=True, dump_only=True)
    last_used_at = fields.DateTime(allow_none=True, dump_only=True)
    revoked_at = fields.DateTime(allow_none=True, dump_only=True)


class CreatedApiTokenSchema(ApiTokenSchema):
    token = fields.String(dump_only=True, metadata={"description": "Shown once; store it now."})


class CreateApiTokenRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    expires_in_days = fields.Integer(
        load_default=90, allow_none=True, strict=True, validate=validate.Range(min=1, max=366)
    )


class AuditEntrySchema(Schema):
    seq = fields.Integer()
    occurred_at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    actor_label = fields.String()
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.String(allow_none=True)
    data = fields.Dict()
    prev_hash = fields.String()
    hash = fields.String()


class AuditQueryArgs(Schema):
    action_prefix = fields.String(
        load_default=None,
        validate=validate.Length(max=80),
        metadata={"description": "e.g. 'auth.' or 'user.'"},
    )
