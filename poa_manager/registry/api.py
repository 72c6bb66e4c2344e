"""JSON endpoints of the registry."""

from poa_manager.api import api_blueprint

blp = api_blueprint("registry_api", __name__, description="Registry: issuance, accounts, transactions")
