"""Forms for verification pages: assignment, team, sampling plan, findings, statement."""

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from poa_manager.verification.models import (
    Allocation,
    CheckMethod,
    FindingOutcome,
    Opinion,
    ParameterKind,
    PopulationDecision,
)


def _choices(enum) -> list[SelectChoice]:
    return [SelectChoice(m.value, getattr(m, "label", m.value).capitalize()) for m in enum]


def _optional_int(value):
    return int(value) if value not in (None, "", "None") else None


class TeamForm(FlaskForm):
    team_user_ids = SelectMultipleField(
        "Team", coerce=int, validators=[InputRequired()], description="People of the verifier organisation."
    )
    lead_user_id = SelectField("Lead", coerce=_optional_int, validators=[Optional()])


class AssignForm(TeamForm):
    organisation_id = SelectField("Verifier organisation", coerce=int, validators=[InputRequired()])
    due_on = DateField("Statement due", validators=[Optional()])


class ReasonForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[InputRequired(), Length(max=1000)])


class PlanForm(FlaskForm):
    parameter_kind = SelectField(
        "Parameter",
        choices=[
            SelectChoice(ParameterKind.mean.value, "Mean-type (expected coefficient of variation)"),
            SelectChoice(ParameterKind.proportion.value, "Proportion (expected share)"),
        ],
    )
    confidence = DecimalField(
        "Confidence",
        places=3,
        validators=[InputRequired(), NumberRange(min=0.5, max=0.999)],
        description="0.90 for small-scale programmes, 0.95 for large-scale or grouped plans "
        "(domain.md §2.1).",
    )
    relative_precision = DecimalField(
        "Relative precision", places=3, validators=[InputRequired(), NumberRange(min=0.001, max=0.999)]
    )
    expected_cv = DecimalField(
        "Expected coefficient of variation V",
        places=3,
        validators=[Optional(), NumberRange(min=0.001, max=100)],
        description="SD/mean of the parameter; 0.5 when nothing better is known.",
    )
    expected_proportion = DecimalField(
        "Expected proportion p", places=3, validators=[Optional(), NumberRange(min=0.001, max=0.999)]
    )
    non_response = DecimalField(
        "Non-response allowance",
        places=3,
        default=0,
        validators=[Optional(), NumberRange(min=0, max=0.9)],
        description="Share of sampled sites expected to be unreachable; n is divided by (1 − share).",
    )
    stratify_by = SelectField("Stratify by", validators=[Optional()])
    allocation = SelectField("Allocation", choices=_choices(Allocation))
    seed = StringField(
        "Seed",
        validators=[Optional(), Length(max=19)],
        description="Leave empty for a random one. It is stored, so anyone can repeat the draw.",
    )
    notes = TextAreaField("Plan notes", validators=[Optional(), Length(max=2000)])


class ExtendForm(FlaskForm):
    additional = IntegerField("More sites", validators=[InputRequired(), NumberRange(min=1)])


class FindingForm(FlaskForm):
    verified_tco2e = DecimalField(
        "Verified tCO2e", validators=[InputRequired(), NumberRange(min=0)], places=None
    )
    outcome = SelectField("Finding", choices=_choices(FindingOutcome))
    method = SelectField("How", choices=_choices(CheckMethod))
    evidence = TextAreaField(
        "Evidence",
        validators=[InputRequired(), Length(max=2000)],
        description="What was checked: documents, readings, photos, the visit, and references to them.",
    )


class PopulationForm(FlaskForm):
    decision = SelectField(
        "Decision",
        choices=[
            SelectChoice(PopulationDecision.accepted.value, "Accept: explained, the claim stands"),
            SelectChoice(PopulationDecision.excluded.value, "Exclude: remove its whole claim"),
        ],
    )
    note = StringField("Note", validators=[InputRequired(), Length(max=1000)])


class StatementForm(FlaskForm):
    opinion = SelectField(
        "Opinion",
        choices=[
            SelectChoice(Opinion.positive.value, "Positive: the verified quantity goes to the registry"),
            SelectChoice(Opinion.negative.value, "Negative: back to the coordinator for corrective action"),
        ],
    )
    summary = TextAreaField("Findings summary", validators=[InputRequired(), Length(max=4000)])
