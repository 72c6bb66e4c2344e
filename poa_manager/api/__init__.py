"""What every API endpoint shares: the /api/v1 prefix, bearer-token auth, no CSRF."""

from apispec.ext.marshmallow import MarshmallowPlugin
from flask import g
from flask_smorest import Blueprint
from marshmallow import fields, validate

from poa_manager.api.auth import authenticate_request
from poa_manager.database import db
from poa_manager.extensions import csrf, rest_api

API_PREFIX = "/api/v1"

# A decimal the API answers as a string ("850.000") and reads from such a string or a JSON number.
DECIMAL_PATTERN = r"^-?(\d+(\.\d*)?|\.\d+)$"
_RANGE_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def decimal2properties(converter, field, ret: dict) -> dict:
    """Document `fields.Decimal` as it behaves. apispec writes a Decimal's range as strings
    ("minimum": "0.000"), which is no valid schema, and calls an `as_string` one a number although
    the API answers strings; clients and schemathesis (issue 8, item 2) then reject the answers."""
    if not isinstance(field, fields.Decimal) or "type" not in ret:
        return {}
    number = {"type": "number"} | {key: float(ret.pop(key)) for key in _RANGE_KEYS if key in ret}
    if not field.as_string:
        return number
    if ret.get("default") is not None:
        ret["default"] = str(ret["default"])
    ret.pop("type")
    # OpenAPI 3.0 cannot put a range on a string: the number branch shows it, the API enforces it.
    return {"anyOf": [{"type": "string", "pattern": DECIMAL_PATTERN}, number]}


def dict_keys2properties(converter, field, ret: dict) -> dict:
    """A `fields.Dict` whose keys must be one of a few names is an object with those properties
    only (OpenAPI 3.0 has no `propertyNames`)."""
    if not isinstance(field, fields.Dict) or field.key_field is None:
        return {}
    choices = next((v.choices for v in field.key_field.validators if isinstance(v, validate.OneOf)), None)
    if choices is None:
        return {}
    values = ret.get("additionalProperties", {})
    return {"properties": {str(choice): values for choice in choices}, "additionalProperties": False}


class ApiMarshmallowPlugin(MarshmallowPlugin):
    """apispec's marshmallow plugin with this API's own field documentation."""

    def init_spec(self, spec):
        super().init_spec(spec)
        self.converter.add_attribute_function(decimal2properties)
        self.converter.add_attribute_function(dict_keys2properties)


# Read by rest_api.init_app (in create_app, after every feature's api module imported this one).
rest_api._spec_kwargs.setdefault("marshmallow_plugin", ApiMarshmallowPlugin())


def api_blueprint(
    name: str, import_name: str, *, url_prefix: str = "", description: str = "", public: bool = False
) -> Blueprint:
    """A flask-smorest blueprint under /api/v1 that only a bearer token can open, or, when
    `public`, anyone (the registry's serial lookup: quality.md A1 #10).

    CSRF protection is off here because the API never reads the session cookie: a browser
    cannot be tricked into sending a bearer token.
    """
    blueprint = Blueprint(name, import_name, url_prefix=API_PREFIX + url_prefix, description=description)
    if not public:
        blueprint.before_request(authenticate_request)
    csrf.exempt(blueprint)
    return blueprint


def perform(subject, use_case, **arguments):
    """Run one use case on `subject` as the token's user, commit, and return the subject for the response."""
    use_case(subject, actor=g.api_user, **arguments)
    db.session.commit()
    return subject
