"""Marshmallow fields every feature's API schemas share. No Flask, no database."""

from marshmallow import fields


class JsonBoolean(fields.Boolean):
    """A JSON body's boolean: `true` or `false` only.

    marshmallow's Boolean also reads 1/0, "yes", "on" and "t", which the OpenAPI document (type
    boolean) forbids; the schemathesis run (issue 8, item 2: no accepted input the schema forbids)
    sent them and they were accepted. Query-string flags (`?unread=true`) arrive as text and keep
    the lenient `fields.Boolean`.
    """

    truthy = {True}
    falsy = {False}
