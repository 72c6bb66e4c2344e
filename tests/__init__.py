"""The test suite. The task queue is configured when poa_manager.tasks is first imported, so its
storage is pointed away from instance/ here, before any test module imports the app (tests run
jobs at once, but the queue tests use real storage)."""

import os
import tempfile

os.environ.setdefault(
    "POA_TASK_QUEUE_URL", f"sqlite:///{tempfile.gettempdir()}/poa-manager-test-tasks-{os.getpid()}.sqlite3"
)
