"""The monitoring and registry fixtures the chart tests build on, and readings sent through the
real import path."""

import io

import pytest

from poa_manager.monitoring import services
from tests.integration.monitoring.conftest import make_crediting_site, monitored, operator_of  # noqa: F401
from tests.integration.registry.conftest import (  # noqa: F401
    allocation,
    issued,
    make_verified,
    registry,
    verifiers,
)
from tests.integration.sites.conftest import registered  # noqa: F401

HEADER = "site_ref,meter_serial,reading_start,reading_end,value"


@pytest.fixture
def send(world, tmp_path):
    """Store readings through the real import path (file kept, checked, written), as the coordinator."""

    def send_rows(programme, rows: list[str]):
        data = ("\n".join([HEADER, *rows]) + "\n").encode()
        upload, _ = services.receive_readings(
            programme, actor=world.coordinator, filename="r.csv", stream=io.BytesIO(data), folder=tmp_path
        )
        services.start_upload(upload)
        outcome = services.ingest_upload(upload, folder=tmp_path)
        assert outcome.accepted, upload.errors
        return upload

    return send_rows
