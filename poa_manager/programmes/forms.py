"""Forms for programme pages."""

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField
from wtforms.validators import InputRequired, Optional

from poa_manager.accounts.roles import Role


def _optional_int(value):
    return int(value) if value not in (None, "", "None") else None


class GrantRoleForm(FlaskForm):
    user_id = SelectField("User", coerce=int, validators=[InputRequired()])
    role = SelectField(
        "Role", choices=[SelectChoice(role.value, role.label) for role in Role], validators=[InputRequired()]
    )
    site_id = SelectField("Site (site operators only)", coerce=_optional_int, validators=[Optional()])
