"""JSON endpoints of the notifications feature."""

from poa_manager.api import api_blueprint

blp = api_blueprint("notifications_api", __name__, description="notifications")
