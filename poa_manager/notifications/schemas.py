"""API schemas: notifications, the inbox filter, and preferences per category."""

from marshmallow import Schema, fields, validate

from poa_manager.notifications import catalogue
from poa_manager.notifications.models import EmailStatus
from poa_manager.schema_fields import JsonBoolean

CATEGORY_KEYS = [c.key for c in catalogue.CATEGORIES]


class NotificationSchema(Schema):
    id = fields.Integer()
    category = fields.String(metadata={"description": "A key of the catalogue (see the preferences)"})
    subject = fields.String()
    body = fields.String()
    link = fields.String(allow_none=True, metadata={"description": "A path of the web app: the object"})
    entity_type = fields.String(allow_none=True)
    entity_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)
    email_status = fields.Enum(EmailStatus)


class NotificationQuery(Schema):
    unread = fields.Boolean(load_default=False, metadata={"description": "Only the unread ones"})


class ReadAllSchema(Schema):
    marked = fields.Integer(metadata={"description": "How many notifications were unread"})


class PreferenceSchema(Schema):
    category = fields.String(validate=validate.OneOf(CATEGORY_KEYS), required=True)
    label = fields.String(dump_only=True)
    recipients = fields.String(dump_only=True, metadata={"description": "Who receives this category"})
    in_app = JsonBoolean(load_default=None, metadata={"description": "Off: not kept for you at all"})
    email = JsonBoolean(load_default=None)


class SetPreferencesRequest(Schema):
    preferences = fields.List(
        fields.Nested(PreferenceSchema),
        required=True,
        metadata={"description": "Categories to change; the others keep their setting"},
    )
