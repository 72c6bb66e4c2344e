"""Forms for the interoperability pages: registering a webhook endpoint, and button-only forms."""

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from poa_manager.registry.services.events import EVENT_KINDS

EVENT_LABELS = {
    "issuance": "Issuance (into the pending account)",
    "forward": "Forwarding to holders",
    "transfer": "Transfer",
    "retirement": "Retirement",
    "cancellation": "Cancellation",
    "authorization": "Article 6.2 authorization",
    "first_transfer": "First transfer (ITMO)",
}


class CreateWebhookForm(FlaskForm):
    organisation_id = SelectField("Organisation", coerce=int, validators=[Optional()])
    url = StringField(
        "URL",
        validators=[InputRequired(), Length(max=2000)],
        description="Where we POST each event: http:// or https://, e.g. https://example.org/poa/webhook.",
    )
    description = StringField("Description", validators=[Optional(), Length(max=200)])
    event_kinds = SelectMultipleField(
        "Events",
        choices=[SelectChoice(kind, EVENT_LABELS.get(kind, kind)) for kind in EVENT_KINDS],
        default=list(EVENT_KINDS),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[Optional()],  # the service says "choose at least one"
    )


class ConfirmForm(FlaskForm):
    """A button-only form carrying the CSRF token: deactivate, send a test event."""
