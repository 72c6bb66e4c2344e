"""The registry: serial-numbered credit blocks, holding accounts, the ledger, Article 6.2 tracking."""

from . import api, models, views  # noqa: F401
