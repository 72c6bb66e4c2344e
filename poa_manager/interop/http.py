"""The HTTP client that posts webhooks: the standard library's urllib, no redirects, a timeout, and
no private or loopback addresses unless allowed (server-side request forgery, OWASP A10:2021)."""

import http.client
import ipaddress
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from poa_manager.interop import delivery

DEFAULT_TIMEOUT_SECONDS = 10.0
_READ_LIMIT = 64 * 1024  # we only need the status; read a little so the connection closes cleanly


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an instruction: following it could reach an internal host and
    would turn our POST into a GET."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx status


@dataclass(frozen=True)
class UrllibSender:
    """Send one OutgoingRequest and report the status or the error; never raises."""

    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    allow_private_addresses: bool = False

    def __call__(self, request: delivery.OutgoingRequest) -> delivery.Response:
        if problems := delivery.url_problems(request.url):
            return delivery.Response(error="refused: " + " ".join(problems))
        if not self.allow_private_addresses and (refusal := _non_public_address(request.url)):
            return delivery.Response(error=refusal)
        outgoing = urllib.request.Request(
            request.url, data=request.body, headers=request.headers, method="POST"
        )
        opener = urllib.request.build_opener(_NoRedirects)
        try:
            with opener.open(outgoing, timeout=self.timeout_seconds) as answer:
                answer.read(_READ_LIMIT)
                return delivery.Response(status_code=answer.status)
        except urllib.error.HTTPError as error:  # 3xx (no redirects), 4xx, 5xx
            error.close()
            return delivery.Response(status_code=error.code, error=f"HTTP {error.code} {error.reason}")
        except urllib.error.URLError as error:
            return delivery.Response(error=f"connection failed: {error.reason}")
        except (TimeoutError, OSError, http.client.HTTPException) as error:
            return delivery.Response(error=f"{type(error).__name__}: {error}")


def _non_public_address(url: str) -> str | None:
    """Why the URL's host must not be contacted (it resolves to a private, loopback, link-local or
    otherwise non-global address), or None. Checked at each attempt, as DNS answers change."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except OSError as error:
        return f"cannot resolve {parts.hostname}: {error}"
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            return f"refused: {parts.hostname} resolves to the non-public address {address}"
    return None
