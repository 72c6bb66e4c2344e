#!/usr/bin/env bash
# A production run on this machine (`make run-prod`, docs/operations.md): PostgreSQL, the Redis-backed
# task queue with its own worker process, gunicorn with several workers in the foreground.
# Ctrl-C (or SIGTERM) stops both. Every setting comes from the environment:
#
#   POA_DATABASE_URL     default postgresql://postgres@127.0.0.1:5432/poa_manager_prod (created if missing)
#   POA_TASK_QUEUE_URL   default redis://127.0.0.1:6379/0 (also the login rate limit's storage)
#   POA_SECRET_KEY       default: instance/prod_secret_key, created once with mode 600
#   POA_WEB_BIND, POA_WEB_WORKERS, POA_WEB_TIMEOUT   gunicorn (gunicorn.conf.py)
#   POA_TASK_WORKERS     threads of the task worker (2)
#   POA_SEED_DEMO=1      load the demo data (off by default: a production database holds real data)
#   POA_INSECURE_COOKIES=1  plain-HTTP trial on loopback only: session cookies without `Secure`
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.venv/bin}
export POA_ENV=production FLASK_APP=poa_manager

log() { echo "run_prod: $*" >&2; }

# --- the database ------------------------------------------------------------------------------
if [ -z "${POA_DATABASE_URL:-}" ]; then
  PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
  export PGHOST PGPORT PGUSER
  name=${POA_PROD_DATABASE:-poa_manager_prod}
  pg_isready -q || { log "PostgreSQL is not answering on $PGHOST:$PGPORT"; exit 1; }
  if [ "$(psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'")" != "1" ]; then
    log "creating database $name"
    psql -d postgres -v ON_ERROR_STOP=1 -q -c "CREATE DATABASE \"$name\""
  fi
  export POA_DATABASE_URL="postgresql://$PGUSER@$PGHOST:$PGPORT/$name"
fi

# --- the task queue and the shared rate-limit storage -------------------------------------------
export POA_TASK_QUEUE_URL=${POA_TASK_QUEUE_URL:-redis://127.0.0.1:6379/0}
# Several web workers: the login rate limit must be counted in one place, not per process.
export POA_RATELIMIT_STORAGE_URI=${POA_RATELIMIT_STORAGE_URI:-$POA_TASK_QUEUE_URL}
if [[ "$POA_TASK_QUEUE_URL" == redis* ]]; then
  "$BIN/python" -c 'import os, redis; redis.Redis.from_url(os.environ["POA_TASK_QUEUE_URL"]).ping()' \
    || { log "Redis is not answering at POA_TASK_QUEUE_URL"; exit 1; }
fi

# --- the secret key ------------------------------------------------------------------------------
if [ -z "${POA_SECRET_KEY:-}" ]; then
  key_file=instance/prod_secret_key
  if [ ! -s "$key_file" ]; then
    mkdir -p instance
    (umask 077 && "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(48))' >"$key_file")
    log "created $key_file (mode 600): back it up with the database"
  fi
  POA_SECRET_KEY=$(<"$key_file")
  export POA_SECRET_KEY
fi

# --- cookies -------------------------------------------------------------------------------------
bind=${POA_WEB_BIND:-127.0.0.1:8000}
export POA_WEB_BIND=$bind
if [ "${POA_INSECURE_COOKIES:-0}" = "1" ]; then
  # Production cookies are Secure: a browser sends them back over HTTPS only, so a plain-HTTP login
  # would never stick. Dropping the flag is acceptable only where nobody else can listen.
  case "$bind" in
    127.*:* | localhost:* | "[::1]":*) ;;
    *) log "POA_INSECURE_COOKIES=1 is refused on $bind: only for a loopback address"; exit 1 ;;
  esac
  export POA_SESSION_COOKIE_SECURE=false POA_REMEMBER_COOKIE_SECURE=false
  log "WARNING: session cookies without Secure (POA_INSECURE_COOKIES=1), for a loopback trial only"
else
  log "session cookies are Secure: log in through an HTTPS reverse proxy (docs/operations.md),"
  log "or for a plain-HTTP trial on this machine: POA_INSECURE_COOKIES=1 make run-prod"
fi

# --- schema and data -----------------------------------------------------------------------------
"$BIN/flask" db upgrade
if [ "${POA_SEED_DEMO:-0}" = "1" ]; then
  "$BIN/flask" poa seed-demo
fi

# --- the processes -------------------------------------------------------------------------------
stop() {
  trap - INT TERM EXIT
  # gunicorn finishes its requests on SIGTERM. The task worker finishes the job it is running on
  # SIGINT (huey's graceful stop), given POA_STOP_TIMEOUT seconds before SIGTERM interrupts it (a
  # signal that arrives before the worker has set up its handlers is ignored: it is a background job).
  [ -n "${web_pid:-}" ] && kill -TERM "$web_pid" 2>/dev/null || true
  if [ -n "${worker_pid:-}" ] && kill -INT "$worker_pid" 2>/dev/null; then
    for _ in $(seq 1 "${POA_STOP_TIMEOUT:-30}"); do
      kill -0 "$worker_pid" 2>/dev/null || break
      sleep 1
    done
    kill -TERM "$worker_pid" 2>/dev/null || true
  fi
  wait || true
  log "stopped"
}
trap stop EXIT
trap 'stop; exit 0' INT TERM  # asked to stop: a clean stop is a success

"$BIN/flask" poa worker --workers "${POA_TASK_WORKERS:-2}" &
worker_pid=$!
"$BIN/gunicorn" -c gunicorn.conf.py &
web_pid=$!
log "serving on http://$bind (web pid $web_pid, task worker pid $worker_pid); Ctrl-C stops both"

# Either process ending stops the other: a web tier without its worker would queue uploads forever.
status=0
wait -n || status=$?
log "a process exited (status $status): stopping the other"
exit "$status"
