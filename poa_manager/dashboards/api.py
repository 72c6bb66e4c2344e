"""JSON endpoints of the dashboards feature."""

from poa_manager.api import api_blueprint

blp = api_blueprint("dashboards_api", __name__, description="dashboards")
