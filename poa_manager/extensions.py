"""Web-only extensions, created unbound and bound in create_app(). Services never import this."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_wtf.csrf import CSRFProtect

migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
rest_api = Api()  # not `api`: the subpackage poa_manager.api would shadow it
limiter = Limiter(key_func=get_remote_address)
