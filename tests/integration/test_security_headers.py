"""Every response carries the security headers; pages and API answers are never cached."""

import pytest

from poa_manager import create_app


@pytest.mark.parametrize("path", ["/login", "/", "/api/v1/me", "/api/docs/", "/no-such-page"])
def test_security_headers_on_pages_api_and_errors(client, path):
    headers = client.get(path).headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"


def test_production_sends_hsts_and_refuses_to_start_without_a_secret(monkeypatch):
    monkeypatch.delenv("POA_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="POA_SECRET_KEY"):
        create_app("production", SQLALCHEMY_DATABASE_URI="sqlite://")
    app = create_app("production", SQLALCHEMY_DATABASE_URI="sqlite://", SECRET_KEY="s" * 40)
    response = app.test_client().get("/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert app.config["SESSION_COOKIE_SECURE"] is True
