"""Forms for programme pages. Field names match the service arguments."""

import json
import re
from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from poa_manager.accounts.roles import ASSIGNED_ROLES, Role
from poa_manager.programmes.rules import CreditingPeriodType, InclusionRoute, Mechanism, SamplingRule

COUNTRY = Regexp(r"^[A-Za-z]{2}$", message="Two letters (ISO 3166-1), e.g. VN or JP.")


def _choices(enum) -> list[SelectChoice]:
    return [SelectChoice(member.value, getattr(member, "label", member.value)) for member in enum]


def parse_boundary(text: str) -> dict | None:
    """A GeoJSON geometry (text starting with "{"), or area codes separated by commas or spaces."""
    text = (text or "").strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            return {"geojson": json.loads(text)}
        except json.JSONDecodeError as error:
            raise ValidationError(f"Not valid JSON: {error.msg} (line {error.lineno}).") from error
    return {"codes": sorted({code.upper() for code in re.split(r"[\s,;]+", text) if code})}


def format_boundary(boundary: dict | None) -> str:
    if not boundary:
        return ""
    if "geojson" in boundary:
        return json.dumps(boundary["geojson"], indent=1)
    return ", ".join(boundary.get("codes", []))


def parse_pairs(text: str, *, key_pattern: str, what: str) -> dict[str, str]:
    """Lines of `key = value` with decimal values, e.g. `2023 = 0.6592`."""
    pairs: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        try:
            valid = bool(sep) and re.fullmatch(key_pattern, key) and Decimal(value).is_finite()
        except InvalidOperation:
            valid = False
        if not valid:
            raise ValidationError(f"Line {number}: write {what}.")
        pairs[key] = value
    return pairs


def format_pairs(pairs: dict | list | None) -> str:
    items = pairs.items() if isinstance(pairs, dict) else (pairs or [])
    return "\n".join(f"{key} = {value}" for key, value in items)


class ProgrammeForm(FlaskForm):
    reference = StringField(
        "Reference",
        validators=[InputRequired(), Length(max=40)],
        description="As in the PoA-DD, e.g. VN-JCM-PoA-002. Cannot change later.",
    )
    title = StringField("Title", validators=[InputRequired(), Length(max=300)])
    mechanism = SelectField("Mechanism", choices=_choices(Mechanism), validators=[InputRequired()])
    host_country = StringField("Host country", validators=[InputRequired(), COUNTRY])
    partner_country = StringField(
        "Partner country",
        validators=[Optional(), COUNTRY],
        description="For JCM and Article 6.2: the acquiring Party, e.g. JP.",
    )
    coordinating_entity_id = SelectField("Coordinating/managing entity", coerce=int)

    methodology_code = SelectField("Methodology", validators=[Optional()])
    methodology_version = StringField("Methodology version", validators=[Optional(), Length(max=20)])
    boundary = TextAreaField(
        "Geographic boundary",
        validators=[Optional()],
        description="Area codes such as VN-57, VN-39, or a GeoJSON Polygon or MultiPolygon.",
    )
    start_date = DateField("Programme start date", validators=[Optional()])
    duration_years = IntegerField(
        "Duration (years)",
        validators=[Optional(), NumberRange(1, 28)],
        description="At most 28 years (CDM PoA standard).",
    )
    crediting_period_type = SelectField("Crediting period", choices=_choices(CreditingPeriodType))
    crediting_period_years = IntegerField(
        "Crediting period length (years)",
        validators=[InputRequired(), NumberRange(1, 10)],
        description="Renewable: at most 7 years; fixed: at most 10.",
    )
    max_renewals = IntegerField(
        "Renewals allowed",
        validators=[InputRequired(), NumberRange(0, 2)],
        description="Renewable periods only: at most 2.",
    )
    inclusion_route = SelectField("Inclusion", choices=_choices(InclusionRoute))
    sampling_rule = SelectField(
        "Verification sampling",
        choices=_choices(SamplingRule),
        description="90/10 for small-scale programmes, 95/10 for large-scale or grouped plans.",
    )
    grid_emission_factor_overrides = TextAreaField(
        "Own grid emission factors (tCO2/MWh)",
        validators=[Optional()],
        description="Lines of year = factor, e.g. 2023 = 0.6592. Empty: the published national factors.",
    )
    support_tiers = TextAreaField(
        "Support tiers (unconfirmed)",
        validators=[Optional()],
        description="Lines of replication order = support rate; JCM-style default 1 = 0.50, 2 = 0.40, "
        "4 = 0.30 (domain.md §4.5, unconfirmed: check the current call).",
    )
    monitoring_plan = TextAreaField(
        "Monitoring-plan parameters",
        validators=[Optional()],
        description="Lines of parameter = value, e.g. reading_interval_minutes = 15.",
    )

    def validate_boundary(self, field):
        field.parsed = parse_boundary(field.data)

    def validate_grid_emission_factor_overrides(self, field):
        field.parsed = parse_pairs(
            field.data, key_pattern=r"\d{4}", what="a year = a factor, e.g. 2023 = 0.6592"
        )

    def validate_support_tiers(self, field):
        field.parsed = [
            [int(k), v]
            for k, v in parse_pairs(
                field.data, key_pattern=r"[1-9]\d*", what="a replication order = a rate, e.g. 1 = 0.50"
            ).items()
        ]

    def validate_monitoring_plan(self, field):
        field.parsed = parse_pairs(
            field.data,
            key_pattern=r"[a-z][a-z0-9_]*",
            what="a parameter name = a number, e.g. reading_interval_minutes = 15",
        )

    def design_values(self) -> dict:
        """The design part of the form, in the shapes the service takes."""
        return {
            "methodology_code": self.methodology_code.data or None,
            "methodology_version": self.methodology_version.data or None,
            "boundary": getattr(self.boundary, "parsed", None),
            "start_date": self.start_date.data,
            "duration_years": self.duration_years.data,
            "crediting_period_type": CreditingPeriodType(self.crediting_period_type.data),
            "crediting_period_years": self.crediting_period_years.data,
            "max_renewals": self.max_renewals.data,
            "inclusion_route": InclusionRoute(self.inclusion_route.data),
            "sampling_rule": SamplingRule(self.sampling_rule.data),
            "grid_emission_factor_overrides": getattr(self.grid_emission_factor_overrides, "parsed", {}),
            "support_tiers": getattr(self.support_tiers, "parsed", []),
            "monitoring_plan": getattr(self.monitoring_plan, "parsed", {}),
        }


class ReasonForm(FlaskForm):
    reason = TextAreaField("What must change", validators=[InputRequired(), Length(max=1000)])


class RevisionForm(FlaskForm):
    change_summary = TextAreaField(
        "What the revision changes", validators=[InputRequired(), Length(max=1000)]
    )


class HoldsForm(FlaskForm):
    inclusion_hold = SelectField(
        "Inclusions", choices=[SelectChoice("0", "open"), SelectChoice("1", "on hold")]
    )
    issuance_hold = SelectField("Issuance", choices=[SelectChoice("0", "open"), SelectChoice("1", "on hold")])
    reason = StringField("Reason", validators=[Optional(), Length(max=500)])


class GrantRoleForm(FlaskForm):
    user_id = SelectField("User", coerce=int, validators=[InputRequired()])
    role = SelectField(
        "Role", choices=_choices(r for r in Role if r not in ASSIGNED_ROLES), validators=[InputRequired()]
    )
    # A reference, not a drop-down: a programme may hold 100,000 sites (the page must stay light).
    site_reference = StringField(
        "Site reference (site operators only)",
        validators=[Optional(), Length(max=40)],
        description="e.g. CPA-0001; the operator's role covers that one site.",
    )
