"""Security headers on every response (assets are vendored: the CSP allows only 'self'); proxies."""

import re
from urllib.parse import urlsplit

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


_TILE_HOST = re.compile(r"^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:\d{1,5})?$")


def tile_source(template: str) -> str:
    """The CSP source of a tile URL template: https://{s}.tile.example.org/{z}/{x}/{y}.png becomes
    https://*.tile.example.org. A template that would put anything else into the policy is refused."""
    parts = urlsplit(template.strip())
    host = re.sub(r"^\{[a-z]+\}\.", "*.", parts.netloc.lower())  # a {s} subdomain: any one of them
    if parts.scheme not in ("https", "http") or not _TILE_HOST.match(host):
        raise ValueError(
            f"POA_MAP_TILE_URL must be an http(s) URL template with a plain host, not {template!r}"
        )
    return f"{parts.scheme}://{host}"


def content_security_policy(tile_url: str = "") -> str:
    """The policy, with the base-map tile host added to img-src when tiles are configured."""
    if not tile_url:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace(
        "img-src 'self' data:", f"img-src 'self' data: {tile_source(tile_url)}"
    )


def init_security_headers(app: Flask) -> None:
    policy = content_security_policy(app.config.get("MAP_TILE_URL") or "")  # a bad template stops start-up
    if hops := app.config.get("PROXY_FIX_HOPS"):
        # Behind a reverse proxy the client address and scheme arrive in X-Forwarded-* headers;
        # without this every client shares the proxy's address in the login rate limit.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    @app.after_request
    def _set_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(self)")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint != "static":
            # Registry pages and API answers hold account data: keep them out of shared caches.
            headers.setdefault("Cache-Control", "no-store")
        return response
