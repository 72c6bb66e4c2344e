"""gunicorn settings for production, read from the environment (docs/operations.md).

    gunicorn -c gunicorn.conf.py            # what `make run-prod` (scripts/run_prod.sh) runs

POA_WEB_BIND (127.0.0.1:8000: behind a reverse proxy on the same host), POA_WEB_WORKERS (2 × cores
+ 1, at most 8), POA_WEB_TIMEOUT (seconds a request may take, 120: a 512 MB readings upload is
streamed to disk inside the request), POA_LOG_FORMAT and POA_LOG_LEVEL as for the app.
"""

import os

wsgi_app = "poa_manager.wsgi:app"
bind = os.environ.get("POA_WEB_BIND", "127.0.0.1:8000")
# gunicorn's rule of thumb, capped: every worker holds its own connection pool (5 + 10 overflow
# by default), and PostgreSQL's default max_connections is 100.
workers = int(os.environ.get("POA_WEB_WORKERS") or min(2 * (os.cpu_count() or 1) + 1, 8))
worker_class = "sync"
timeout = int(os.environ.get("POA_WEB_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
# A worker is replaced after this many requests (jittered so they do not all restart at once):
# a slow leak in any library then never grows without bound.
max_requests = 2000
max_requests_jitter = 200
# Not preloaded: each worker imports poa_manager.wsgi after the fork, so no SQLAlchemy engine,
# pooled connection or Redis client is ever shared between processes (SQLAlchemy's "Using
# Connection Pools with Multiprocessing"). The price is a slower start, once per worker.
preload_app = False
# The app writes its own access line per request, with the request id and the user
# (poa_manager/logs.py); gunicorn's would only repeat it without them.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("POA_LOG_LEVEL", "info").lower()
# gunicorn 24+'s control socket sits at one path per user ($HOME/.gunicorn): two instances on a
# machine would fight over it, and nothing here uses it.
control_socket_disable = True
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # the heartbeat file: a disk-backed /tmp can stall it (gunicorn docs)

if os.environ.get("POA_LOG_FORMAT", "json").lower() == "json":
    # gunicorn's own lines (start, worker boot and exit, timeouts) as JSON too, like the app's.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
                "datefmt": "%Y-%m-%dT%H:%M:%S%z",
            }
        },
        "handlers": {
            "error_console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        # The app adds its own JSON handler to the root logger in each worker (poa_manager/logs.py).
        "root": {"level": loglevel.upper(), "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error_console"], "propagate": False}
        },
    }
