"""Forms for site pages: a site and its meters, checks, inclusion, reviews, and the criteria editor."""

import json
import re

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from poa_manager.sites.eligibility import CriterionKind
from poa_manager.sites.models import MeterRole, MeterUnit, ReadingType


def _split(text: str | None) -> list[str]:
    return [item.strip() for item in re.split(r"[\n;,]+", text or "") if item.strip()]


def _optional_bool(value):
    return {"yes": True, "no": False}.get(value) if isinstance(value, str) else value


def _optional_int(value):
    return int(value) if value not in (None, "", "None") else None


class MeterForm(Form):
    """One meter row; a row without a serial is ignored."""

    serial = StringField("Serial", validators=[Optional(), Length(max=60)])
    role = SelectField(
        "Role",
        choices=[SelectChoice(r.value, r.value.rstrip("_")) for r in MeterRole],
        default=MeterRole.generation.value,
    )
    accuracy_class = StringField(
        "Accuracy class",
        validators=[Optional(), Length(max=10)],
        description="As on the nameplate, e.g. 0.2S, 0.5S.",
    )
    calibrated_on = DateField("Calibrated on", validators=[Optional()])
    calibration_valid_until = DateField("Calibration valid until", validators=[Optional()])
    unit = SelectField(
        "Unit", choices=[SelectChoice(u.value, u.value) for u in MeterUnit], default=MeterUnit.kWh.value
    )
    multiplier = DecimalField(
        "Multiplier",
        places=4,
        default=1,
        validators=[Optional(), NumberRange(min=0.0001)],
        description="CT × VT ratio applied to the values.",
    )
    reading_type = SelectField(
        "Readings",
        choices=[SelectChoice(t.value, t.value) for t in ReadingType],
        default=ReadingType.interval.value,
    )
    register_digits = IntegerField(
        "Register digits",
        validators=[Optional(), NumberRange(1, 12)],
        description="Cumulative registers: integer digits, for rollovers.",
    )


class SiteForm(FlaskForm):
    reference = StringField(
        "Reference",
        validators=[InputRequired(), Length(max=40)],
        description="As in the CPA-DD, e.g. CPA-0007. Cannot change later.",
    )
    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    operator_organisation_id = SelectField("Site operator", coerce=_optional_int, validators=[Optional()])
    latitude = DecimalField(
        "Latitude",
        places=6,
        validators=[Optional(), NumberRange(-90, 90)],
        description="Decimal degrees, WGS 84, e.g. 10.980512.",
    )
    longitude = DecimalField("Longitude", places=6, validators=[Optional(), NumberRange(-180, 180)])
    area_code = StringField(
        "Province code",
        validators=[
            Optional(),
            Regexp(r"^[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?$", message="ISO 3166-2, e.g. VN-57."),
        ],
    )
    timezone = StringField(
        "Time zone",
        validators=[Optional(), Length(max=40)],
        description="IANA name, e.g. Asia/Ho_Chi_Minh. Readings without a UTC offset are read in it; "
        "empty means the host country's zone.",
    )
    technology = StringField(
        "Technology",
        validators=[Optional(), Length(max=60)],
        description="As named in the criteria, e.g. solar_pv.",
    )
    capacity_kw = DecimalField("Capacity (kW)", places=3, validators=[Optional(), NumberRange(min=0)])
    commissioned_on = DateField("Commissioned on", validators=[Optional()])
    equipment_serials = TextAreaField(
        "Equipment serials", validators=[Optional()], description="One per line (inverters, transformers…)."
    )
    documents = StringField(
        "Documents present",
        validators=[Optional()],
        description="Kinds, separated by commas, e.g. cpa_dd, eia.",
    )
    financial_support_declared = SelectField(
        "Public financial support",
        coerce=_optional_bool,
        choices=[
            SelectChoice("", "not declared"),
            SelectChoice("yes", "declared: yes"),
            SelectChoice("no", "declared: none"),
        ],
    )
    funding_sources = StringField("Funding sources", validators=[Optional(), Length(max=500)])
    attributes = TextAreaField(
        "Methodology facts (JSON)",
        validators=[Optional()],
        description='E.g. {"applicability": {"AC-1": true}}: answers the methodology\'s conditions by code.',
    )
    meters = FieldList(FormField(MeterForm), min_entries=3, max_entries=3)

    def validate_attributes(self, field):
        try:
            value = json.loads(field.data) if field.data and field.data.strip() else {}
        except json.JSONDecodeError as error:
            raise ValidationError(f"Not valid JSON: {error.msg}.") from error
        if not isinstance(value, dict):
            raise ValidationError("Write a JSON object, e.g. {}.")
        field.parsed = value

    def site_values(self) -> dict:
        """The facts in the shapes the service takes."""
        return {
            "name": self.name.data,
            "operator_organisation_id": self.operator_organisation_id.data,
            "latitude": self.latitude.data,
            "longitude": self.longitude.data,
            "area_code": self.area_code.data or None,
            "timezone": self.timezone.data or None,
            "technology": (self.technology.data or "").strip() or None,
            "capacity_kw": self.capacity_kw.data,
            "commissioned_on": self.commissioned_on.data,
            "equipment_serials": _split(self.equipment_serials.data),
            "documents": _split(self.documents.data),
            "financial_support_declared": self.financial_support_declared.data,
            "funding_sources": self.funding_sources.data or None,
            "attributes": getattr(self.attributes, "parsed", {}),
            "meters": [entry.data for entry in self.meters if (entry.data["serial"] or "").strip()],
        }


class IncludeSitesForm(FlaskForm):
    included_on = DateField("Inclusion date", validators=[InputRequired()])
    crediting_start = DateField(
        "Crediting starts",
        validators=[Optional()],
        description="Empty: on the inclusion date (never earlier).",
    )


class ConfirmInclusionForm(FlaskForm):
    included_on = DateField("Inclusion date", validators=[InputRequired()])


class ReasonForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[InputRequired(), Length(max=1000)])


class ExcludeForm(ReasonForm):
    credits_to_replace = IntegerField(
        "Credits issued because of the site", default=0, validators=[InputRequired(), NumberRange(min=0)]
    )


class CriterionForm(Form):
    """One row of the criteria editor; a row without a code is ignored."""

    code = StringField("Code", validators=[Optional(), Length(max=20)])
    description = StringField("Description", validators=[Optional(), Length(max=500)])
    kind = SelectField(
        "Kind", choices=[SelectChoice(k.value, k.value.replace("_", " ")) for k in CriterionKind]
    )
    params = TextAreaField("Parameters (JSON)", validators=[Optional()], default="{}")


class CriteriaForm(FlaskForm):
    criteria = FieldList(FormField(CriterionForm), min_entries=1)

    def criteria_values(self) -> tuple[list[dict], dict[str, list[str]]]:
        """The filled-in rows as service input, and JSON syntax problems per row."""
        rows, problems = [], {}
        for position, entry in enumerate(self.criteria, 1):
            data = entry.data
            if not (data["code"] or "").strip():
                continue
            try:
                params = json.loads(data["params"] or "{}")
            except json.JSONDecodeError as error:
                problems[data["code"]] = [f"parameters are not valid JSON: {error.msg} (row {position})"]
                continue
            rows.append(
                {
                    "code": data["code"].strip(),
                    "description": (data["description"] or "").strip(),
                    "kind": data["kind"],
                    "params": params,
                }
            )
        return rows, problems


class ImportSitesForm(FlaskForm):
    file = FileField(
        "CSV, XLSX, GeoJSON, KML or KMZ file",
        validators=[
            FileRequired(),
            FileAllowed(
                ["csv", "xlsx", "geojson", "json", "kml", "kmz"], "CSV, XLSX, GeoJSON, KML or KMZ only."
            ),
        ],
    )
    check_on = DateField(
        "Check eligibility on",
        validators=[Optional()],
        description="Leave empty to import the sites as drafts without checking them.",
    )


class ExternalRegistrationsForm(FlaskForm):
    file = FileField(
        "CSV or GeoJSON file",
        validators=[FileRequired(), FileAllowed(["csv", "geojson", "json"], "CSV or GeoJSON only.")],
        description="Columns: registry, identifier, name, latitude, longitude, technology, meter_serials, "
        "equipment_serials (separated by ;), crediting_start, crediting_end.",
    )
