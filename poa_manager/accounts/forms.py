"""Forms for logging in, passwords, tokens, and the admin pages. Field names match the services."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import Email, EqualTo, InputRequired, Length, NumberRange, Optional, Regexp

from poa_manager.accounts.roles import OrganisationKind


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[InputRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=256)])
    next = HiddenField()


class SecondFactorForm(FlaskForm):
    code = StringField(
        "Code",
        validators=[InputRequired(), Length(max=40)],
        description="The 6-digit code from your authenticator app, or one of your recovery codes.",
    )


class EnrolTotpForm(FlaskForm):
    code = StringField(
        "First code from the app",
        validators=[InputRequired(), Length(max=10)],
        description="6 digits, to prove the app and this site agree.",
    )


class PasswordAgainForm(FlaskForm):
    """For changes to the second factor: the password again, so an unattended session cannot."""

    password = PasswordField("Your password", validators=[InputRequired(), Length(max=256)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField("E-mail", validators=[InputRequired(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField(
        "New password",
        validators=[InputRequired(), Length(max=128)],
        description="At least 12 characters. A phrase of unrelated words works well.",
    )
    confirm_password = PasswordField(
        "Repeat the new password",
        validators=[InputRequired(), EqualTo("new_password", "The passwords differ.")],
    )


class ConfirmForm(FlaskForm):
    """A button-only form: it carries the CSRF token for logout, revoke and unlock."""


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[InputRequired()])
    new_password = PasswordField(
        "New password",
        validators=[InputRequired(), Length(max=128)],
        description="At least 12 characters. A phrase of unrelated words works well.",
    )
    confirm_password = PasswordField(
        "Repeat the new password",
        validators=[InputRequired(), EqualTo("new_password", "The passwords differ.")],
    )


class CreateApiTokenForm(FlaskForm):
    name = StringField(
        "Token name",
        validators=[InputRequired(), Length(max=100)],
        description="What the token is for, e.g. “Logger at CPA-0001”.",
    )
    expires_in_days = IntegerField(
        "Expires after (days)",
        default=90,
        validators=[Optional(), NumberRange(min=1, max=366)],
        description="1–366 days. Leave empty for a token that does not expire.",
    )


_KIND_CHOICES = [SelectChoice(kind.value, kind.label) for kind in OrganisationKind]


class OrganisationForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    kind = SelectField("Kind", choices=_KIND_CHOICES, validators=[InputRequired()])
    country_code = StringField(
        "Country (ISO code)",
        validators=[Optional(), Regexp(r"^[A-Za-z]{2}$", message="Two letters, e.g. VN or JP.")],
        description="Two letters, e.g. VN, JP.",
    )
    is_active = BooleanField("Active", default=True)


class CreateUserForm(FlaskForm):
    email = EmailField("E-mail", validators=[InputRequired(), Email(), Length(max=254)])
    full_name = StringField("Full name", validators=[InputRequired(), Length(max=200)])
    organisation_id = SelectField("Organisation", coerce=int, validators=[InputRequired()])
    password = PasswordField(
        "First password",
        validators=[InputRequired(), Length(max=128)],
        description="The user must change it at first login.",
    )
    is_admin = BooleanField("Platform administrator")


class EditUserForm(FlaskForm):
    full_name = StringField("Full name", validators=[InputRequired(), Length(max=200)])
    organisation_id = SelectField("Organisation", coerce=int, validators=[InputRequired()])
    is_admin = BooleanField("Platform administrator")
    is_active = BooleanField("Active", description="An inactive user cannot log in or use tokens.")


class TemporaryPasswordForm(FlaskForm):
    password = PasswordField(
        "Temporary password",
        validators=[InputRequired(), Length(max=128)],
        description="Ends the user's sessions; they must change it at next login.",
    )
