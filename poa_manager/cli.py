"""`flask poa …`: first administrator, demo data, audit-chain check."""

import click
from flask.cli import AppGroup

from poa_manager.accounts import services as account_services
from poa_manager.accounts.login import account_settings
from poa_manager.audit import services as audit_services
from poa_manager.database import db, utcnow
from poa_manager.errors import DomainError
from poa_manager.sites import services as site_services

poa_cli = AppGroup("poa", help="poa_manager administration.")


@poa_cli.command("create-admin")
@click.option("--email", prompt=True, help="The administrator's login e-mail.")
@click.option("--name", "full_name", prompt="Full name", help="The administrator's full name.")
@click.option(
    "--organisation",
    default="Platform administration",
    show_default=True,
    help="Created as a registry authority if it does not exist.",
)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="POA_ADMIN_PASSWORD",
    help="Prompted for when not given (or POA_ADMIN_PASSWORD).",
)
def create_admin(email: str, full_name: str, organisation: str, password: str) -> None:
    """Create a platform administrator, e.g. the first one."""
    try:
        user = account_services.create_first_admin(
            email=email,
            full_name=full_name,
            organisation_name=organisation,
            password=password,
            settings=account_settings(),
        )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        details = "; ".join(m for messages in error.errors.values() for m in messages)
        raise click.ClickException(f"{error.message} {details}".strip()) from error
    click.echo(f"Created administrator {user.email} (organisation: {user.organisation.name}).")


@poa_cli.command("seed-demo")
def seed_demo() -> None:
    """Load the demo organisations, users and programme (does nothing if they exist)."""
    from poa_manager import demo

    created = demo.seed(settings=account_settings())
    db.session.commit()
    click.echo("Demo data loaded." if created else "Demo data already present: nothing to do.")


@poa_cli.command("audit-verify")
def audit_verify() -> None:
    """Walk the audit log's hash chain and report the first altered row."""
    report = audit_services.verify_chain()
    if report.intact:
        click.echo(f"Audit chain intact: {report.rows_checked} rows verified.")
        return
    raise click.ClickException(f"Audit chain broken at row {report.first_bad_seq}: {report.reason}.")


@poa_cli.command("advance-crediting")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day to apply (default: today, UTC).",
)
def advance_crediting(today) -> None:
    """Move included sites into their crediting period, and out of it when it ends (run daily)."""
    day = today.date() if today else utcnow().date()
    counts = site_services.advance_crediting(today=day)
    db.session.commit()
    click.echo(f"{day}: {counts['started']} sites started crediting, {counts['ended']} ended.")
