"""`flask poa …` commands: first admin, demo data."""

import sqlalchemy as sa

from poa_manager import demo
from poa_manager.accounts.models import Membership, User


def test_create_admin_from_the_command_line(runner, db):
    result = runner.invoke(
        args=["poa", "create-admin", "--email", "First.Admin@Example.org", "--name", "First Admin"],
        input="amber-violin-orchard-19\n" * 2,
    )
    assert result.exit_code == 0, result.output
    admin = db.session.scalar(sa.select(User).where(User.email == "first.admin@example.org"))
    assert admin.is_admin and not admin.must_change_password
    assert admin.organisation.name == "Platform administration"


def test_create_admin_refuses_a_weak_password_with_the_reason(runner, db):
    result = runner.invoke(
        args=[
            "poa",
            "create-admin",
            "--email",
            "weak@example.org",
            "--name",
            "Weak",
            "--password",
            "password1234",
        ]
    )
    assert result.exit_code == 1
    assert "The password is not accepted." in result.output
    assert db.session.scalar(sa.select(User).where(User.email == "weak@example.org")) is None


def test_seed_demo_runs_once(runner, db):
    first = runner.invoke(args=["poa", "seed-demo"])
    second = runner.invoke(args=["poa", "seed-demo"])
    assert "Demo data loaded." in first.output
    assert "already present" in second.output
    demo_users = db.session.scalars(sa.select(User).where(User.email.like("%@demo.example.org")))
    assert len(list(demo_users)) == len(demo.USERS)  # every role, and a verifier team of three
    roles = {m.role.value for m in db.session.scalars(sa.select(Membership))}
    assert roles >= {"coordinator", "site_operator", "verifier", "registry_administrator", "viewer"}


def test_advance_crediting_moves_sites_into_and_out_of_their_periods(runner, db):
    from datetime import date

    from poa_manager.sites.models import SiteStatus
    from tests.factories import SiteFactory

    starting = SiteFactory(
        status=SiteStatus.included, crediting_start=date(2026, 1, 1), crediting_end=date(2035, 12, 31)
    )
    ending = SiteFactory(
        status=SiteStatus.crediting, crediting_start=date(2016, 1, 1), crediting_end=date(2025, 12, 31)
    )
    waiting = SiteFactory(
        status=SiteStatus.included, crediting_start=date(2027, 1, 1), crediting_end=date(2036, 12, 31)
    )
    result = runner.invoke(args=["poa", "advance-crediting", "--today", "2026-06-30"])
    assert "1 sites started crediting, 1 ended" in result.output
    db.session.expire_all()
    assert (starting.status, ending.status, waiting.status) == (
        SiteStatus.crediting,
        SiteStatus.crediting_ended,
        SiteStatus.included,
    )
