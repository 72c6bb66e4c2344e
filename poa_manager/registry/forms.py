"""Forms for registry pages: the allocation table, transactions, account controls, freezes,
the suspension switch, the public serial search and Article 6.2 (authorizations, authorized units,
corresponding adjustments)."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from poa_manager.registry.models import (
    AccountKind,
    AllocationDestination,
    Article6Use,
    AuthorizationPurpose,
    FirstTransferDefinition,
)

ALLOCATION_ROWS = 6  # empty rows are ignored; more appear once these are filled
USING_ENTITY_ROWS = 3
ARTICLE6_USE_LABELS = {
    Article6Use.use_ndc: "Use towards an NDC",
    Article6Use.use_oimp: "Use for OIMP (e.g. CORSIA)",
    Article6Use.omge_cancellation: "OMGE cancellation",
    Article6Use.voluntary_cancellation: "Voluntary cancellation",
}


def _optional_int(value):
    return int(value) if value not in (None, "", "None") else None


def _article6_use_field(*uses: Article6Use) -> SelectField:
    """Empty for none; the page offers it for authorized units only (domain.md §5.4)."""
    return SelectField(
        "Article 6 use",
        choices=[SelectChoice("", "—")] + [SelectChoice(u.value, ARTICLE6_USE_LABELS[u]) for u in uses],
        default="",
        validators=[Optional()],
    )


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
    article6_use = _article6_use_field(Article6Use.use_ndc, Article6Use.use_oimp)


class CancelForm(_InitiateForm):
    purpose = StringField("Why cancel", validators=[InputRequired(), Length(max=500)])
    article6_use = _article6_use_field(Article6Use.omge_cancellation, Article6Use.voluntary_cancellation)


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


# --- Article 6.2 ----------------------------------------------------------------------------------


class UsingEntityRowForm(Form):
    name = StringField("Using entity", validators=[Optional(), Length(max=200)])
    country = StringField("Country", validators=[Optional(), Length(max=2)])


class AuthorizationForm(FlaskForm):
    """A letter of authorization; the names are those of the service and of AuthorizationSchema."""

    reference = StringField(
        "Reference",
        validators=[InputRequired(), Length(max=100)],
        description="The letter of authorization, e.g. MONRE/LoA/2025-001.",
    )
    cooperative_approach = StringField(
        "Cooperative approach",
        validators=[InputRequired(), Length(max=6)],
        description="Its ID in CARP: CA followed by four digits, e.g. CA0001.",
    )
    purposes = SelectMultipleField(
        "Purposes",
        choices=[
            SelectChoice(AuthorizationPurpose.ndc.value, "Use towards another Party's NDC"),
            SelectChoice(AuthorizationPurpose.oimp.value, "Other international mitigation purposes (OIMP)"),
            SelectChoice(AuthorizationPurpose.other.value, "Other purposes"),
        ],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[Optional()],
    )
    first_transfer_definition = SelectField(
        "First transfer",
        choices=[SelectChoice(d.value, d.label.capitalize()) for d in FirstTransferDefinition],
        default=FirstTransferDefinition.first_international_transfer.value,
        description="When the authorized units become ITMOs and the corresponding adjustment is made "
        "(decision 2/CMA.3 annex para 2).",
    )
    quantity_tco2e = IntegerField("Quantity (tCO2e)", validators=[InputRequired(), NumberRange(min=1)])
    vintage_first = IntegerField(
        "First vintage", validators=[InputRequired(), NumberRange(min=1990, max=2100)]
    )
    vintage_last = IntegerField("Last vintage", validators=[InputRequired(), NumberRange(min=1990, max=2100)])
    using_parties = StringField(
        "Using Parties",
        validators=[Optional(), Length(max=200)],
        description="Two-letter country codes, separated by commas, e.g. JP, SG.",
    )
    using_entities = FieldList(FormField(UsingEntityRowForm), min_entries=USING_ENTITY_ROWS)
    sector = StringField("Sector", validators=[InputRequired(), Length(max=100)])
    activity_type = StringField("Activity type", validators=[InputRequired(), Length(max=100)])
    authorized_on = DateField("Date of authorization", validators=[InputRequired()])

    @property
    def parties(self) -> list[str]:
        return [p.strip() for p in (self.using_parties.data or "").split(",") if p.strip()]

    @property
    def entities(self) -> list[dict]:
        return [row.form.data for row in self.using_entities if (row.form.name.data or "").strip()]


class AuthorizeUnitsForm(FlaskForm):
    quantity = IntegerField(
        "Units (tCO2e)",
        validators=[InputRequired(), NumberRange(min=1)],
        description="Applied to the programme's unauthorized units of the authorized vintages, "
        "in serial order.",
    )


class AdjustmentSearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search anyone may bookmark

    party = StringField(
        "Party",
        validators=[InputRequired(), Length(min=2, max=2)],
        description="The first transferring Party: a two-letter country code, e.g. VN.",
    )
    year = IntegerField("Vintage", validators=[Optional(), NumberRange(min=1990, max=2100)])


class AefForm(FlaskForm):
    party = StringField(
        "Party",
        validators=[InputRequired(), Length(min=2, max=2)],
        description="The reporting Party: a two-letter country code, e.g. VN.",
    )
    year = IntegerField(
        "Year",
        validators=[InputRequired(), NumberRange(min=1990, max=2100)],
        description="The calendar year reported; holdings are as at 31 December.",
    )
