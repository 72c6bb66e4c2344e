"""Pages of the registry."""

from flask import Blueprint

bp = Blueprint("registry", __name__)
