# Read by the `flask` command only (python-dotenv), never by WSGI servers: local commands such as
# `flask db check` or `flask poa seed-demo` use the development settings and instance/ database.
# In production set POA_ENV=production (and POA_SECRET_KEY, POA_DATABASE_URL) in the environment;
# variables already set there win over this file.
FLASK_APP=poa_manager
POA_ENV=development
