"""Pages of the dashboards feature."""

from flask import Blueprint

bp = Blueprint("dashboards", __name__, url_prefix="/dashboards")
