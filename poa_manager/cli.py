"""`flask poa …`: first administrator, demo data, audit-chain check, registry reconciliation and
due transfers, webhook delivery, readings import, worker."""

import os
from pathlib import Path

import click
from flask.cli import AppGroup

from poa_manager.accounts import services as account_services
from poa_manager.accounts.login import account_settings
from poa_manager.audit import services as audit_services
from poa_manager.database import db, utcnow
from poa_manager.errors import DomainError
from poa_manager.registry import services as registry_services
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
    from flask import current_app

    from poa_manager import demo

    folder = Path(current_app.config["READINGS_UPLOAD_FOLDER"])
    created = demo.seed(settings=account_settings(), upload_folder=folder, showcase=True)
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


@poa_cli.command("reconcile")
def reconcile() -> None:
    """Recompute holdings from the ledger; compare them with the blocks, issuances and statements."""
    report = registry_services.reconcile()
    click.echo(
        f"Reconciliation: {report.accounts} accounts, {report.blocks} blocks, {report.ledger_entries} ledger "
        f"entries, {report.issuances} issuances ({report.credits_issued} credits): "
        f"{len(report.discrepancies)} discrepancies."
    )
    for line in report.discrepancies:
        click.echo(f"  {line}")
    if not report.clean:
        raise click.ClickException("The registry does not reconcile with its ledger.")


@poa_cli.command("registry-due")
def registry_due() -> None:
    """Complete the approved transfers whose delay has passed (run every few minutes)."""
    try:
        done = registry_services.complete_due_transactions()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"{len(done)} transactions completed: {', '.join(t.label for t in done) or 'none due'}.")


@poa_cli.command("deliver-webhooks")
def deliver_webhooks() -> None:
    """Turn new registry events into webhook deliveries and send those due (run every minute
    from cron when no worker runs; the worker does it by itself)."""
    from flask import current_app

    from poa_manager.interop import jobs

    run = jobs.run_webhooks(send=jobs.sender_for(current_app))
    click.echo(
        f"Webhooks: {run.enqueued} deliveries enqueued; {run.attempted} attempted: {run.delivered} "
        f"delivered, {run.retrying} to retry, {run.failed} failed."
    )


@poa_cli.command("send-notifications")
@click.option("--retry-failed", is_flag=True, help="First give failed e-mails a fresh set of attempts.")
def send_notifications(retry_failed: bool) -> None:
    """Send the pending notification e-mails (run every minute from cron when no worker runs; the
    worker does it by itself). Does nothing without POA_SMTP_HOST."""
    from poa_manager.notifications import jobs

    jobs.send_notifications_command(retry_failed=retry_failed)


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


@poa_cli.command("import-readings")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--programme", "programme_reference", required=True, help="The programme's reference.")
@click.option("--as", "email", required=True, help="The coordinator or site operator sending the readings.")
@click.option("--site", "site_reference", default=None, help="Limit the file to this site.")
def import_readings(path: str, programme_reference: str, email: str, site_reference: str | None) -> None:
    """Check and store a readings file (CSV or XLSX) with a progress bar; all rows or none."""
    import sqlalchemy as sa
    from flask import current_app

    from poa_manager.accounts.models import User
    from poa_manager.monitoring import jobs
    from poa_manager.monitoring import services as monitoring_services
    from poa_manager.monitoring.models import UploadSource, UploadStatus
    from poa_manager.programmes.models import Programme
    from poa_manager.sites.models import Site

    folder = Path(current_app.config["READINGS_UPLOAD_FOLDER"])
    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.lower()))
    programme = db.session.scalar(sa.select(Programme).where(Programme.reference == programme_reference))
    if user is None or programme is None:
        raise click.ClickException("Unknown user or programme.")
    site = None
    if site_reference:
        site = db.session.scalar(
            sa.select(Site).where(Site.programme_id == programme.id, Site.reference == site_reference)
        )
        if site is None:
            raise click.ClickException(f"{programme_reference} has no site {site_reference}.")
    try:
        with open(path, "rb") as stream:
            upload, _new = monitoring_services.receive_readings(
                programme,
                actor=user,
                filename=os.path.basename(path),
                stream=stream,
                folder=folder,
                source=UploadSource.cli,
                site=site,
            )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    size = os.path.getsize(path)
    with click.progressbar(length=size, label="Reading", show_percent=True) as bar:
        state = {"phase": "reading", "shown": 0}

        def progress(phase: str, done: int, total: int | None) -> None:
            if phase == "reading":
                bar.update(done - state["shown"])
                state["shown"] = done
            elif phase != state["phase"]:
                bar.update(size - state["shown"])
                state["shown"] = size
                click.echo(f"\n{phase}…", err=True)
            state["phase"] = phase

        upload = jobs.run_upload(upload.id, folder=folder, progress=progress)
        bar.update(size - state["shown"])
    if upload.status is UploadStatus.accepted:
        click.echo(
            f"Upload {upload.id}: {upload.rows_written} readings stored, "
            f"{upload.rows_already_stored} already stored, of {upload.rows_total} rows."
        )
        return
    for error in upload.errors[:20]:
        click.echo(f"row {error['row']} {error['column']}: {error['message']}", err=True)
    raise click.ClickException(
        f"Upload {upload.id} {upload.status.value}: {upload.error_count} row error(s); nothing was stored."
    )


@poa_cli.command("recover-uploads")
@click.option(
    "--older-than-minutes",
    type=click.IntRange(min=0),
    default=None,
    help="Re-queue uploads processing for longer than this (default: monitoring.jobs.STALE_AFTER).",
)
def recover_uploads(older_than_minutes: int | None) -> None:
    """Put readings uploads whose worker died mid-job back on the queue (nothing of theirs was
    written). Use 0 only when no worker is running."""
    from datetime import timedelta

    from poa_manager.monitoring import jobs

    older_than = jobs.STALE_AFTER if older_than_minutes is None else timedelta(minutes=older_than_minutes)
    ids = jobs.recover_stale_uploads(older_than=older_than)
    click.echo(f"{len(ids)} uploads re-queued: {', '.join(map(str, ids)) or 'none stale'}.")


@poa_cli.command("worker")
@click.option("--workers", default=2, show_default=True, help="Worker threads of the task consumer.")
def worker(workers: int) -> None:
    """Run the task-queue consumer (large readings uploads) until interrupted."""
    from poa_manager.monitoring import jobs
    from poa_manager.tasks import huey

    # Uploads a previous worker left half-done (killed mid-job) run again; every five minutes the
    # monitoring.recover_uploads task looks again, so a database still starting only delays this.
    try:
        jobs.recover_stale_uploads()
    except Exception as error:  # noqa: BLE001 (the consumer must start regardless)
        db.session.rollback()
        click.echo(f"Could not look for interrupted uploads yet: {error}", err=True)
    huey.create_consumer(workers=workers, worker_type="thread").run()


@poa_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def backup(path: str) -> None:
    """Write a consistent copy of the database to PATH while the app keeps running: SQLite's online
    backup, or `pg_dump -Fc` on PostgreSQL (restore with pg_restore; docs/operations.md). The
    uploads folder and the secret key are backed up separately."""
    import sqlite3
    import subprocess

    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise click.ClickException("An in-memory database has nothing to back up.")
        # The backup API copies page by page under SQLite's own locking: a copy taken while the
        # web and the worker write is still a consistent snapshot, unlike copying the file.
        source, target = sqlite3.connect(url.database), sqlite3.connect(path)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    elif url.get_backend_name() == "postgresql":
        command = ["pg_dump", "--format=custom", "--file", path, "--dbname", url.database or ""]
        for option, value in (("--host", url.host), ("--port", url.port), ("--username", url.username)):
            if value:
                command += [option, str(value)]
        env = dict(os.environ)
        if url.password:
            env["PGPASSWORD"] = str(url.password)  # not on the command line, where `ps` shows it
        try:
            # A fixed program and argument list, no shell.
            subprocess.run(command, env=env, check=True)  # nosec B603
        except FileNotFoundError as error:
            raise click.ClickException(
                "pg_dump is not installed (apt-get install postgresql-client)."
            ) from error
        except subprocess.CalledProcessError as error:
            raise click.ClickException(f"pg_dump failed with exit status {error.returncode}.") from error
    else:
        raise click.ClickException(f"No backup method for {url.get_backend_name()}.")
    click.echo(
        f"Backup of the {url.get_backend_name()} database written to {path} ({os.path.getsize(path)} bytes)."
    )
