"""The WSGI entry point for production servers: `gunicorn poa_manager.wsgi:app` (gunicorn.conf.py).

Settings come from the environment (POA_ENV, default production; POA_SECRET_KEY; POA_DATABASE_URL;
see docs/operations.md). Each gunicorn worker imports this module after the fork (no preload), so
every worker builds its own app and its own database connection pool.
"""

from poa_manager import create_app

app = create_app()
