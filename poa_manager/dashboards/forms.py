"""Forms of the dashboards feature: the service-level targets."""

from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange

from poa_manager.dashboards import cycles
from poa_manager.dashboards.services.cycles import MAX_TARGET_DAYS


class TargetsForm(FlaskForm):
    """One whole number of days per step (fields named after the step keys)."""


for _step in cycles.ALL_STEPS:
    setattr(
        TargetsForm,
        _step.key,
        IntegerField(
            _step.label,
            validators=[InputRequired(), NumberRange(min=1, max=MAX_TARGET_DAYS)],
            description=f"days; default {_step.default_target_days} [U]",
        ),
    )
