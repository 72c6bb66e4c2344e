"""Forms for registry pages: the allocation table, transactions, account controls, freezes,
the suspension switch and the public serial search."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from poa_manager.registry.models import AccountKind, AllocationDestination

ALLOCATION_ROWS = 6  # empty rows are ignored; more appear once these are filled


def _optional_int(value):
    return int(value) if value not in (None, "", "None") else None


class ConfirmForm(FlaskForm):
    """A one-button form: only the CSRF token."""


class ReasonForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[InputRequired(), Length(max=1000)])


class SuspensionForm(ReasonForm):
    """Suspend or resume: the button pressed says which (name="action")."""


class AllocationRowForm(Form):
    organisation_id = SelectField("Organisation", coerce=_optional_int, validators=[Optional()])
    share_percent = DecimalField("Share %", places=2, validators=[Optional(), NumberRange(min=0.01, max=100)])
    destination = SelectField(
        "Destination",
        choices=[
            SelectChoice(AllocationDestination.holding.value, "Holding account"),
            SelectChoice(
                AllocationDestination.cancellation.value,
                "Cancellation: share of proceeds / overall mitigation",
            ),
        ],
        default=AllocationDestination.holding.value,
    )

    @property
    def is_empty(self) -> bool:
        return self.organisation_id.data is None and self.share_percent.data is None


class AllocationForm(FlaskForm):
    rows = FieldList(FormField(AllocationRowForm), min_entries=ALLOCATION_ROWS)
    jcm_model_project = BooleanField(
        "JCM model project (at least 50 % to Japan)",
        description="MOEJ-financed model projects deliver at least half of the credits to the "
        "Government of Japan (domain.md §4.4).",
    )


class _InitiateForm(FlaskForm):
    quantity = IntegerField("Credits", validators=[InputRequired(), NumberRange(min=1)])
    # One key per rendered form: a double-click sends it twice and creates one transaction (T3).
    idempotency_key = HiddenField(validators=[Optional(), Length(max=100)])


class TransferForm(_InitiateForm):
    to_account_id = SelectField("To holding account", coerce=_optional_int, validators=[InputRequired()])


class RetireForm(_InitiateForm):
    beneficiary = StringField("Beneficiary", validators=[InputRequired(), Length(max=200)])
    purpose = StringField("Purpose", validators=[InputRequired(), Length(max=500)])
    using_entity = StringField(
        "Using entity",
        validators=[InputRequired(), Length(max=200)],
        description="Who uses the claim (Gold Standard's field for Article 6 and CORSIA).",
    )


class CancelForm(_InitiateForm):
    purpose = StringField("Why cancel", validators=[InputRequired(), Length(max=500)])


class AccountControlsForm(FlaskForm):
    transfer_delay_hours = IntegerField(
        "Transfer delay (hours)",
        validators=[InputRequired(), NumberRange(min=0, max=720)],
        description="Between approval and completion: the owner's window to stop a fraudulent transfer.",
    )
    transfer_limit = IntegerField(
        "Limit per transfer (credits)",
        validators=[Optional(), NumberRange(min=1)],
        description="Empty for no limit.",
    )


class OpenAccountForm(FlaskForm):
    organisation_id = SelectField("Organisation", coerce=int, validators=[InputRequired()])
    kind = SelectField("Kind", choices=[SelectChoice(k.value, k.value.capitalize()) for k in AccountKind])


class FreezeForm(FlaskForm):
    programme_id = SelectField("Programme", coerce=int, validators=[InputRequired()])
    vintage = IntegerField("Vintage", validators=[InputRequired(), NumberRange(min=1000, max=9999)])
    serial_start = IntegerField("First serial", validators=[InputRequired(), NumberRange(min=1)])
    serial_end = IntegerField("Last serial", validators=[InputRequired(), NumberRange(min=1)])
    reason = TextAreaField("Reason", validators=[InputRequired(), Length(max=1000)])


class SerialSearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search anyone may bookmark

    q = StringField(
        "Serial or range",
        validators=[InputRequired(), Length(max=500)],
        description="E.g. JCM.VN.VN-JCM-PoA-001.CPA-0001.2025.000000001-000000150, or one number "
        "in place of the range.",
    )
