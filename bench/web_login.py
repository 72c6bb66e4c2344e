"""Log a bench client in through the real login form, second factor included.

Registry administrators and host-government users must give a TOTP code (or enrol, for a user the
bench just made) after their password (docs/two-factor.md); the bench reads the user's secret from
the database and answers as their authenticator app would.
"""

import sqlalchemy as sa

from poa_manager.accounts import two_factor
from poa_manager.database import db, utcnow

_SECOND_STEPS = ("/login/two-factor", "/login/two-factor/enrol")


def log_in(app, email: str, password: str):
    """A test client holding a signed-in session for `email`."""
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.data[:300]
    step = response.headers["Location"]
    if step.endswith(_SECOND_STEPS):
        with app.app_context():
            secret, last_step = db.session.execute(
                sa.text("SELECT totp_secret, totp_last_step FROM users WHERE email = :email"),
                {"email": email},
            ).one()
        # A step later than the last one used: a code is accepted once (replay protection).
        current = two_factor.step_of(utcnow())
        code_step = current + 1 if last_step is not None and last_step >= current else current
        response = client.post(step, data={"code": two_factor.code_at_step(secret, code_step)})
        if step.endswith("/enrol"):
            # A first enrolment answers with the recovery codes to write down, then goes on.
            assert response.status_code == 200 and b"Recovery codes" in response.data, response.data[:300]
        else:
            assert response.status_code == 302 and "/login" not in response.headers["Location"], (
                response.data[:300]
            )
    return client
