"""Jinja globals and filters: templates ask the same policy predicates the services enforce."""

from datetime import UTC, date, datetime
from decimal import Decimal

from flask import Flask

from poa_manager.accounts import policies as account_policies
from poa_manager.programmes import policies as programme_policies
from poa_manager.sites import policies as site_policies


def format_datetime(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def format_long_date(value: date | None) -> str:
    """A date as people write it in reports ("31 Oct 2024"): unambiguous in every locale."""
    return f"{value.day} {value:%b %Y}" if value else "—"


def format_epoch(seconds: int | None) -> str:
    """Epoch seconds (how readings store instants) as a UTC date and time."""
    return "—" if seconds is None else datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M")


def format_quantity(value: Decimal | None) -> str:
    """A stored quantity without its padding zeros and never in exponent form: 130470.0 shows as
    130470, not as Decimal.normalize()'s 1.3047E+5."""
    return "—" if value is None else f"{value.normalize():f}"


def init_templating(app: Flask) -> None:
    app.jinja_env.globals.update(
        can_administer=account_policies.can_administer,
        can_manage_members=programme_policies.can_manage_members,
        can_import_external_registrations=site_policies.can_import_external_registrations,
    )
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["epoch"] = format_epoch
    app.jinja_env.filters["long_date"] = format_long_date
    app.jinja_env.filters["quantity"] = format_quantity
