"""Forms of the notification pages: the preferences (two switches per category) and buttons."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField

from poa_manager.notifications import catalogue


def field_name(category: str, channel: str) -> str:
    return f"{category}__{channel}"


class PreferencesForm(FlaskForm):
    """In the app and by e-mail, per category of the catalogue (fields added below)."""

    def choices(self) -> dict[str, dict[str, bool]]:
        """The form's data as set_preferences takes it."""
        return {
            c.key: {
                "in_app": bool(getattr(self, field_name(c.key, "in_app")).data),
                "email": bool(getattr(self, field_name(c.key, "email")).data),
            }
            for c in catalogue.CATEGORIES
        }


for _category in catalogue.CATEGORIES:
    setattr(
        PreferencesForm, field_name(_category.key, "in_app"), BooleanField(f"{_category.label}: in the app")
    )
    setattr(
        PreferencesForm, field_name(_category.key, "email"), BooleanField(f"{_category.label}: by e-mail")
    )


class MarkReadForm(FlaskForm):
    """A button carrying the CSRF token; `open` set means: then go to the notification's object."""

    open = HiddenField()


class ConfirmForm(FlaskForm):
    """A button-only form carrying the CSRF token: mark all read."""
