"""Large uploads through the real queue storage, the command line, and who may do what."""

import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from poa_manager import tasks
from poa_manager.database import db as _db
from poa_manager.monitoring.models import Reading, ReadingUpload, UploadStatus

HEADER = "site_ref,meter_serial,reading_start,reading_end,value"
START = datetime(2025, 3, 1, tzinfo=UTC)


def hourly(site_ref: str, serial: str, hours: int, kwh: str = "12.5") -> str:
    lines = [HEADER]
    for h in range(hours):
        begin = START + timedelta(hours=h)
        lines.append(
            f"{site_ref},{serial},{begin.isoformat()},{(begin + timedelta(hours=1)).isoformat()},{kwh}"
        )
    return "\n".join(lines) + "\n"


@pytest.fixture
def queued():
    """Jobs go to the queue's real storage, as with a separate worker, instead of running at once."""
    tasks.huey.immediate = False
    tasks.huey.flush()
    yield tasks.huey
    tasks.huey.flush()
    tasks.huey.immediate = True


def test_a_queued_upload_waits_then_a_worker_runs_it_with_progress(
    make_crediting_site, world, client, api_headers_for, queued
):
    site = make_crediting_site(1)
    data = hourly(site.reference, "EXP-0001", 24 * 60).encode()  # 60 days, above the inline limit
    headers = api_headers_for(world.coordinator)
    answer = client.post(
        f"/api/v1/programmes/{site.programme_id}/reading-uploads",
        data={"file": (io.BytesIO(data), "two-months.csv")},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert answer.status_code == 202
    assert (answer.json["status"], answer.json["progress"]) == ("queued", None)
    assert queued.pending_count() == 1

    # What `flask poa worker` does: take the job from storage and run it.
    queued.execute(queued.dequeue())

    answer = client.get(f"/api/v1/reading-uploads/{answer.json['id']}", headers=headers)
    assert answer.json["status"] == "accepted"
    assert answer.json["rows_written"] == 24 * 60
    assert tasks.progress_of(answer.json["id"]) == {"phase": "done", "done": 1, "total": 1}
    page = client.get(f"/reading-uploads/{answer.json['id']}/progress.json")
    assert page.status_code == 302  # the page's progress feed needs a login session, not a token


def test_a_worker_that_fails_leaves_no_readings_and_says_why(
    make_crediting_site, world, tmp_path, monkeypatch
):
    from poa_manager.monitoring import jobs
    from poa_manager.monitoring import services as monitoring_services
    from poa_manager.monitoring.services import readings

    site = make_crediting_site(2)
    upload, _ = monitoring_services.receive_readings(
        site.programme,
        actor=world.coordinator,
        filename="day.csv",
        stream=io.BytesIO(hourly(site.reference, "EXP-0002", 24).encode()),
        folder=tmp_path,
    )
    _db.session.commit()

    def write_then_break(rows, **kwargs):
        written = original(rows, **kwargs)
        raise ConnectionError(f"database went away after {written} rows")

    original = readings.write_readings
    monkeypatch.setattr(readings, "write_readings", write_then_break)
    with pytest.raises(ConnectionError):
        jobs.run_upload(upload.id, folder=tmp_path)
    _db.session.refresh(upload)
    assert upload.status is UploadStatus.failed
    assert "database went away after 24 rows" in upload.failure
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Reading)) == 0


def test_import_readings_from_the_command_line(make_crediting_site, world, runner, tmp_path):
    site = make_crediting_site(3)
    path = tmp_path / "march.csv"
    path.write_text(hourly(site.reference, "EXP-0003", 48))
    args = ["poa", "import-readings", str(path), "--programme", site.programme.reference]
    result = runner.invoke(args=[*args, "--as", world.coordinator.email])
    assert result.exit_code == 0, result.output
    assert "48 readings stored, 0 already stored, of 48 rows" in result.output
    again = runner.invoke(args=[*args, "--as", world.coordinator.email])
    assert "0 readings stored, 48 already stored" in again.output

    path.write_text(hourly(site.reference, "EXP-0003", 2, kwh="-1"))
    refused = runner.invoke(args=[*args, "--as", world.coordinator.email])
    assert refused.exit_code == 1
    assert "2 row error(s); nothing was stored" in refused.output
    assert "row 2 value" in refused.output

    outsider = runner.invoke(args=[*args, "--as", world.outsider.email])
    assert outsider.exit_code == 1 and "Only the programme's coordinator" in outsider.output


def test_who_may_send_correct_and_see_readings(
    make_crediting_site, operator_of, world, client, api_headers_for
):
    own, other = make_crediting_site(4), make_crediting_site(5)
    operator = api_headers_for(operator_of(own))
    batch = {
        "batch_id": "b-1",
        "readings": [
            {
                "meter_serial": "EXP-0005",
                "reading_start": START.isoformat(),
                "reading_end": (START + timedelta(hours=1)).isoformat(),
                "value": "1",
            }
        ],
    }
    # Another site of the same programme: not visible to the operator at all.
    assert client.post(f"/api/v1/sites/{other.id}/readings", json=batch, headers=operator).status_code == 404
    # The verifier sees the programme's sites but sends no readings.
    verifier = api_headers_for(world.verifier)
    assert client.post(f"/api/v1/sites/{other.id}/readings", json=batch, headers=verifier).status_code == 403
    coordinator = api_headers_for(world.coordinator)
    assert (
        client.post(f"/api/v1/sites/{other.id}/readings", json=batch, headers=coordinator).status_code == 202
    )
    reading = _db.session.scalar(sa.select(Reading))
    url = f"/api/v1/meters/{reading.meter_id}/readings/{reading.reading_end}/1"
    correction = {"value": "2", "reason": "typo"}
    assert client.post(f"{url}/corrections", json=correction, headers=operator).status_code == 404
    assert client.post(f"{url}/corrections", json=correction, headers=verifier).status_code == 403
    corrected = client.post(f"{url}/corrections", json=correction, headers=coordinator)
    assert corrected.status_code == 201 and corrected.json["version"] == 2
    detail = client.get(url, headers=verifier).json
    assert [(v["version"], v["energy_wh"]) for v in detail["history"]] == [(1, 1000), (2, 2000)]
    listed = client.get(f"/api/v1/sites/{other.id}/readings", headers=verifier)
    assert listed.status_code == 200 and [r["energy_wh"] for r in listed.json] == [2000]  # current only
    assert (
        client.get(f"/api/v1/sites/{other.id}/readings", headers=api_headers_for(world.outsider)).status_code
        == 404
    )
    uploads = client.get(f"/api/v1/programmes/{own.programme_id}/reading-uploads", headers=operator)
    assert uploads.json == []  # the coordinator's upload for another site is not the operator's to see
    # The coordinator's batch and its correction exist; the operator sees neither.
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(ReadingUpload)) == 2


def test_readings_files_may_be_larger_than_other_requests(
    make_crediting_site, operator_of, world, app, client, api_headers_for, login_as
):
    """MAX_CONTENT_LENGTH bounds every request; readings files have their own, larger limit."""
    site = make_crediting_site(6)
    data = hourly(site.reference, "EXP-0006", 200).encode()
    limits = app.config["MAX_CONTENT_LENGTH"], app.config["READINGS_MAX_UPLOAD_BYTES"]
    app.config["MAX_CONTENT_LENGTH"] = 1_000
    try:
        api = client.post(
            f"/api/v1/programmes/{site.programme_id}/reading-uploads",
            data={"file": (io.BytesIO(data), "big.csv")},
            content_type="multipart/form-data",
            headers=api_headers_for(world.coordinator),
        )
        assert api.status_code == 202 and api.json["rows_written"] == 200
        assert client.post("/login", data={"email": "x" * 2_000}).status_code == 413  # others stay bounded
        app.config["READINGS_MAX_UPLOAD_BYTES"] = 1_000
        page = login_as(operator_of(site)).post(
            f"/sites/{site.id}/readings",
            data={"file": (io.BytesIO(data), "again.csv")},
            content_type="multipart/form-data",
        )
        assert page.status_code == 413
    finally:
        app.config["MAX_CONTENT_LENGTH"], app.config["READINGS_MAX_UPLOAD_BYTES"] = limits
