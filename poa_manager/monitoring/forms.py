"""Forms for monitoring pages: readings uploads, corrections, meter records, reports."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from poa_manager.monitoring.data_quality import COMPLETENESS_THRESHOLD_PERCENT, GapFill


class UploadReadingsForm(FlaskForm):
    file = FileField(
        "Readings file",
        validators=[FileRequired(), FileAllowed(["csv", "xlsx"], "Upload a .csv or .xlsx file.")],
        description="Columns site_ref, meter_serial, reading_start, reading_end, value. "
        "Any bad row: nothing is stored.",
    )


class CorrectionForm(FlaskForm):
    value = DecimalField(
        "Corrected value",
        validators=[InputRequired(), NumberRange(min=0)],
        description="In the meter's unit.",
    )
    reason = TextAreaField("Why", validators=[InputRequired(), Length(max=1000)])


class CalibrationForm(FlaskForm):
    calibrated_on = DateField("Calibrated on", validators=[InputRequired()])
    valid_until = DateField("Valid until", validators=[InputRequired()])
    error_found_percent = DecimalField(
        "Error found (%)",
        validators=[Optional(), NumberRange(-100, 100)],
        description="What the calibration found, signed; matters when it was late (VVS-PoA v2 para 352).",
    )
    certificate_reference = StringField("Certificate", validators=[Optional(), Length(max=120)])


class ReplacementForm(FlaskForm):
    replaced_at = DateTimeLocalField(
        "Replaced at (UTC)", format="%Y-%m-%dT%H:%M", validators=[InputRequired()]
    )
    old_final_reading = DecimalField(
        "Old meter's final reading", validators=[InputRequired(), NumberRange(min=0)]
    )
    new_serial = StringField("New meter serial", validators=[InputRequired(), Length(max=60)])
    new_first_reading = DecimalField(
        "New meter's first reading", validators=[InputRequired(), NumberRange(min=0)]
    )
    calibrated_on = DateField("New meter calibrated on", validators=[Optional()])
    calibration_valid_until = DateField("Calibration valid until", validators=[Optional()])
    reason = StringField("Reason", validators=[Optional(), Length(max=500)])


class OpenReportForm(FlaskForm):
    period_start = DateField("Period start", validators=[InputRequired()])
    period_end = DateField("Period end", validators=[InputRequired()])
    gap_fill = SelectField(
        "Missing export intervals (unconfirmed rule)",
        choices=[
            SelectChoice(GapFill.none.value, "Earn no credit (conservative default)"),
            SelectChoice(GapFill.lowest_rate.value, "Fill with the lowest observed rate, flagged"),
        ],
        default=GapFill.none.value,
        description="domain.md §7 knows no CDM rule for missing data; import meters are always filled "
        "with their highest observed rate.",
    )
    completeness_threshold_percent = DecimalField(
        "Flag lines below this completeness, % (unconfirmed)",
        default=COMPLETENESS_THRESHOLD_PERCENT,
        validators=[InputRequired(), NumberRange(0, 100)],
    )
    apply_found_error_beyond_mpe = BooleanField(
        "Discount by the error found when a late calibration found more than the permissible error "
        "(unconfirmed wording)",
        default=True,
    )

    def settings(self) -> dict:
        return {
            "gap_fill": self.gap_fill.data,
            "completeness_threshold_percent": str(self.completeness_threshold_percent.data),
            "apply_found_error_beyond_mpe": self.apply_found_error_beyond_mpe.data,
        }
