"""Readings uploads end to end: files through the web page and the API, logger batches, corrections."""

import io
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from poa_manager.database import db as _db
from poa_manager.monitoring import services
from poa_manager.monitoring.models import Reading, ReadingUpload, UploadStatus
from poa_manager.sites.models import MeterRole, MeterUnit, ReadingType

HEADER = "site_ref,meter_serial,reading_start,reading_end,value"


def quarter_hours(site_ref: str, serial: str, start: datetime, count: int, kwh: str = "50.125") -> list[str]:
    rows = []
    for i in range(count):
        begin = start + timedelta(minutes=15 * i)
        end = begin + timedelta(minutes=15)
        rows.append(f"{site_ref},{serial},{begin.isoformat()},{end.isoformat()},{kwh}")
    return rows


def csv_file(rows: list[str]) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def reading_count(meter_id: int | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(Reading)
    if meter_id is not None:
        query = query.where(Reading.meter_id == meter_id)
    return _db.session.scalar(query)


JANUARY = datetime(2025, 1, 1, tzinfo=UTC) - timedelta(hours=7)  # local midnight in Viet Nam


def test_a_month_of_quarter_hours_with_three_bad_rows_is_refused_then_accepted_once_fixed(
    make_crediting_site, operator_of, login_as
):
    site = make_crediting_site(1)
    operator = operator_of(site)
    rows = quarter_hours(site.reference, "EXP-0001", JANUARY, 31 * 96)
    good = list(rows)
    rows[9] = rows[9].rsplit(",", 1)[0] + ",-3"  # negative value: file row 11
    rows[500] = rows[500].rsplit(",", 1)[0] + ",400"  # 400 kWh in 15 min on a 1,000 kW site: row 502
    rows[2000] = rows[2000].replace("EXP-0001", "NOPE-1")  # unknown meter: row 2002
    client = login_as(operator)

    response = client.post(
        f"/sites/{site.id}/readings",
        data={"file": (io.BytesIO(csv_file(rows)), "january.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200
    upload = _db.session.scalars(sa.select(ReadingUpload).order_by(ReadingUpload.id.desc())).first()
    assert upload.status is UploadStatus.rejected
    assert sorted(error["row"] for error in upload.errors) == [11, 502, 2002]
    assert {error["code"] for error in upload.errors} == {"negative_value", "above_capacity", "unknown_meter"}
    assert reading_count() == 0  # a rejected file writes nothing
    page = response.get_data(as_text=True)
    assert "3 problems to fix" in page and "nothing was stored" in page

    response = client.post(
        f"/sites/{site.id}/readings",
        data={"file": (io.BytesIO(csv_file(good)), "january-fixed.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    upload = _db.session.scalars(sa.select(ReadingUpload).order_by(ReadingUpload.id.desc())).first()
    assert upload.status is UploadStatus.accepted, upload.errors
    assert (upload.rows_total, upload.rows_written) == (2976, 2976)
    assert reading_count() == 2976
    # 50.125 kWh stored exactly, as watt-hours.
    assert _db.session.scalar(sa.select(sa.func.sum(Reading.energy_wh))) == 2976 * 50_125


def test_the_same_api_batch_sent_five_times_is_stored_once(
    make_crediting_site, operator_of, client, api_headers_for
):
    site = make_crediting_site(2)
    headers = api_headers_for(operator_of(site))
    readings = [
        {
            "meter_serial": "EXP-0002",
            "reading_start": (JANUARY + timedelta(hours=h)).isoformat(),
            "reading_end": (JANUARY + timedelta(hours=h + 1)).isoformat(),
            "value": "120.5",
        }
        for h in range(24)
    ]
    answers = [
        client.post(
            f"/api/v1/sites/{site.id}/readings",
            json={"batch_id": "logger-7/0001", "readings": readings},
            headers=headers,
        )
        for _ in range(5)
    ]
    assert [a.status_code for a in answers] == [202] * 5
    assert {a.json["id"] for a in answers} == {answers[0].json["id"]}  # the first delivery, every time
    assert answers[0].json["status"] == "accepted" and answers[0].json["rows_written"] == 24
    assert reading_count() == 24

    # The same readings under a new batch id: recognised as stored, nothing counted twice.
    again = client.post(
        f"/api/v1/sites/{site.id}/readings",
        json={"batch_id": "logger-7/0002", "readings": readings},
        headers=headers,
    )
    assert again.json["status"] == "accepted"
    assert (again.json["rows_written"], again.json["rows_already_stored"]) == (0, 24)
    assert reading_count() == 24

    # A batch id reused for different readings is refused with a stable code.
    changed = [dict(readings[0], value="99")]
    reused = client.post(
        f"/api/v1/sites/{site.id}/readings",
        json={"batch_id": "logger-7/0001", "readings": changed},
        headers=headers,
    )
    assert reused.status_code == 409 and reused.json["error"] == "batch_id_reused"


def test_a_reading_that_differs_from_a_stored_one_is_refused(
    make_crediting_site, operator_of, client, api_headers_for
):
    site = make_crediting_site(3)
    headers = api_headers_for(operator_of(site))
    first = {
        "meter_serial": "EXP-0003",
        "reading_start": JANUARY.isoformat(),
        "reading_end": (JANUARY + timedelta(hours=1)).isoformat(),
        "value": "10",
    }
    client.post(
        f"/api/v1/sites/{site.id}/readings", json={"batch_id": "a", "readings": [first]}, headers=headers
    )
    answer = client.post(
        f"/api/v1/sites/{site.id}/readings",
        json={"batch_id": "b", "readings": [dict(first, value="11")]},
        headers=headers,
    )
    assert answer.json["status"] == "rejected"
    assert answer.json["errors"][0]["code"] == "conflicts_with_stored"
    assert reading_count() == 1


def test_another_sites_meter_is_unknown_to_an_operator(
    make_crediting_site, operator_of, client, api_headers_for
):
    own, other = make_crediting_site(4), make_crediting_site(5)
    headers = api_headers_for(operator_of(own))
    rows = quarter_hours(other.reference, "EXP-0005", JANUARY, 4)
    answer = client.post(
        f"/api/v1/programmes/{own.programme_id}/reading-uploads",
        data={"file": (io.BytesIO(csv_file(rows)), "other.csv")},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert answer.status_code == 202
    assert answer.json["status"] == "rejected"
    assert {e["code"] for e in answer.json["errors"]} == {"unknown_meter"}
    assert reading_count() == 0


def test_readings_outside_the_crediting_period_are_refused(
    make_crediting_site, world, client, api_headers_for
):
    site = make_crediting_site(6, crediting_start=date(2025, 2, 1))
    rows = quarter_hours(site.reference, "EXP-0006", JANUARY + timedelta(days=31) - timedelta(minutes=30), 4)
    answer = client.post(
        f"/api/v1/programmes/{site.programme_id}/reading-uploads",
        data={"file": (io.BytesIO(csv_file(rows)), "edge.csv")},
        content_type="multipart/form-data",
        headers=api_headers_for(world.coordinator),
    )
    assert [(e["row"], e["code"]) for e in answer.json["errors"]] == [
        (2, "outside_crediting_period"),
        (3, "outside_crediting_period"),
    ]


def test_a_large_file_goes_through_the_queue_and_reports_progress(
    make_crediting_site, world, app, client, api_headers_for
):
    """Above READINGS_INLINE_MAX_BYTES the upload is a queued job (run at once in tests)."""
    sites = [make_crediting_site(100 + n) for n in range(3)]
    rows = [
        row
        for site in sites
        for row in quarter_hours(site.reference, site.meters[0].serial, JANUARY, 96 * 10, kwh="1.5")
    ]
    data = csv_file(rows)
    assert len(data) > app.config["READINGS_INLINE_MAX_BYTES"]
    answer = client.post(
        f"/api/v1/programmes/{sites[0].programme_id}/reading-uploads",
        data={"file": (io.BytesIO(data), "many-sites.csv")},
        content_type="multipart/form-data",
        headers=api_headers_for(world.coordinator),
    )
    assert answer.status_code == 202
    upload = _db.session.get(ReadingUpload, answer.json["id"])
    _db.session.refresh(upload)
    assert upload.status is UploadStatus.accepted
    assert upload.rows_written == 3 * 960 == reading_count()


def test_readings_cannot_be_changed_or_deleted_in_the_database(
    make_crediting_site, world, client, api_headers_for
):
    site = make_crediting_site(7)
    rows = quarter_hours(site.reference, "EXP-0007", JANUARY, 1)
    client.post(
        f"/api/v1/programmes/{site.programme_id}/reading-uploads",
        data={"file": (io.BytesIO(csv_file(rows)), "one.csv")},
        content_type="multipart/form-data",
        headers=api_headers_for(world.coordinator),
    )
    for statement in ("UPDATE readings SET energy_wh = 1", "DELETE FROM readings"):
        with pytest.raises(DBAPIError, match="append-only"):
            with _db.session.begin_nested():
                _db.session.execute(sa.text(statement))


def test_a_correction_is_a_new_version_and_the_original_stays(make_crediting_site, operator_of, login_as):
    site = make_crediting_site(8)
    operator = operator_of(site)
    client = login_as(operator)
    client.post(
        f"/sites/{site.id}/readings",
        data={
            "file": (io.BytesIO(csv_file(quarter_hours(site.reference, "EXP-0008", JANUARY, 2))), "two.csv")
        },
        content_type="multipart/form-data",
    )
    original = _db.session.scalars(sa.select(Reading).order_by(Reading.reading_end)).first()
    url = f"/meters/{original.meter_id}/readings/{original.reading_end}"
    response = client.post(f"{url}/1", data={"value": "48", "reason": "Logger glitch; utility invoice"})
    assert response.status_code == 302
    history = services.reading_history(original)
    assert [(r.version, r.energy_wh) for r in history] == [(1, 50_125), (2, 48_000)]
    assert history[1].upload.reason == "Logger glitch; utility invoice"
    assert history[1].upload.uploaded_by_id == operator.id
    page = client.get(f"{url}/2").get_data(as_text=True)
    assert "50.125" in page and "48.000" in page  # both versions visible
    # Current readings count the correction only.
    current = _db.session.scalars(services.list_readings(site, actor=operator)).all()
    assert sorted(r.energy_wh for r in current) == [48_000, 50_125]
    # The superseded version cannot be corrected again.
    again = client.post(f"{url}/1", data={"value": "47", "reason": "again"})
    assert again.status_code == 422


def test_cumulative_registers_become_intervals_with_a_plausible_rollover(
    make_crediting_site, world, client, api_headers_for
):
    site = make_crediting_site(
        9,
        meters=[
            {
                "serial": "REG-0009",
                "reading_type": ReadingType.cumulative,
                "register_digits": 6,
                "unit": MeterUnit.kWh,
            }
        ],
    )
    instants = [JANUARY + timedelta(hours=h) for h in range(3)]
    rows = [
        f"{site.reference},REG-0009,,{instants[0].isoformat()},999500",
        f"{site.reference},REG-0009,,{instants[1].isoformat()},999900",
        f"{site.reference},REG-0009,,{instants[2].isoformat()},300",  # wrapped: 400 kWh in 1 h ≤ 1,000 kWh
    ]
    answer = client.post(
        f"/api/v1/programmes/{site.programme_id}/reading-uploads",
        data={"file": (io.BytesIO(csv_file(rows)), "registers.csv")},
        content_type="multipart/form-data",
        headers=api_headers_for(world.coordinator),
    )
    assert answer.json["status"] == "accepted", answer.json["errors"]
    stored = _db.session.scalars(
        sa.select(Reading).order_by(Reading.reading_start, Reading.reading_end)
    ).all()
    assert [(r.energy_wh, r.flags) for r in stored] == [(0, 0), (400_000, 0), (400_000, 1)]


def test_calibration_and_replacement_are_recorded(make_crediting_site, operator_of, client, api_headers_for):
    site = make_crediting_site(10)
    headers = api_headers_for(operator_of(site))
    meter = site.meters[0]
    answer = client.post(
        f"/api/v1/meters/{meter.id}/calibrations",
        json={"calibrated_on": "2026-01-10", "valid_until": "2031-01-09", "error_found_percent": "0.15"},
        headers=headers,
    )
    assert answer.status_code == 201
    assert meter.calibrated_on == date(2026, 1, 10)
    answer = client.post(
        f"/api/v1/meters/{meter.id}/replacement",
        json={
            "replaced_at": "2025-06-01T03:00:00+00:00",
            "old_final_reading": "1234.5",
            "new_serial": "exp-0010-b",
            "new_first_reading": "0",
        },
        headers=headers,
    )
    assert answer.status_code == 201, answer.json
    _db.session.refresh(site)
    assert [m.serial for m in site.meters] == ["EXP-0010", "EXP-0010-B"]
    # The old meter's readings stop at the replacement.
    late = quarter_hours(site.reference, "EXP-0010", datetime(2025, 6, 1, 3, tzinfo=UTC), 1)
    refused = client.post(
        f"/api/v1/sites/{site.id}/readings",
        json={
            "batch_id": "late",
            "readings": [
                {
                    "meter_serial": "EXP-0010",
                    "reading_start": late[0].split(",")[2],
                    "reading_end": late[0].split(",")[3],
                    "value": "1",
                }
            ],
        },
        headers=headers,
    )
    assert refused.json["errors"][0]["code"] == "meter_not_active"


def test_roles_mirror_data_quality():
    from poa_manager.monitoring import data_quality

    assert {
        r.value for r in MeterRole
    } == data_quality.METER_ROLES_INCREASING | data_quality.METER_ROLES_DECREASING


def test_an_xlsx_file_from_the_template_is_read_like_a_csv(make_crediting_site, operator_of, login_as):
    site = make_crediting_site(11)
    client = login_as(operator_of(site))
    template = client.get("/readings/template.xlsx")
    assert template.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(template.data))
    sheet = workbook["Readings"]
    sheet.delete_rows(2, sheet.max_row)  # keep the header, drop the examples
    for h in range(3):
        # Spreadsheet cells: naive datetimes (read in the site's zone) and numbers, as Excel saves them.
        begin = datetime(2025, 1, 1, h)
        sheet.append([site.reference, "EXP-0011", begin, begin + timedelta(hours=1), 12.25])
    sheet.append(
        [site.reference, "EXP-0011", datetime(2025, 1, 1, 3), datetime(2025, 1, 1, 2), 1]
    )  # backwards
    buffer = io.BytesIO()
    workbook.save(buffer)

    def send(data: bytes):
        client.post(
            f"/sites/{site.id}/readings",
            data={"file": (io.BytesIO(data), "readings.xlsx")},
            content_type="multipart/form-data",
        )
        return _db.session.scalars(sa.select(ReadingUpload).order_by(ReadingUpload.id.desc())).first()

    refused = send(buffer.getvalue())
    assert refused.status is UploadStatus.rejected
    assert [(e["row"], e["code"]) for e in refused.errors] == [(5, "end_before_start")]
    sheet.delete_rows(5)
    buffer = io.BytesIO()
    workbook.save(buffer)
    accepted = send(buffer.getvalue())
    assert accepted.status is UploadStatus.accepted, accepted.errors
    stored = _db.session.scalars(sa.select(Reading).order_by(Reading.reading_start)).all()
    assert [r.energy_wh for r in stored] == [12_250] * 3
    # 00:00 in Ho Chi Minh City is 17:00 UTC the day before.
    assert stored[0].starts_at == datetime(2024, 12, 31, 17, tzinfo=UTC)


def test_replacing_a_cumulative_meter_stores_its_final_and_first_registers(
    make_crediting_site, world, client, api_headers_for
):
    meters = [{"serial": "REG-0012", "reading_type": ReadingType.cumulative, "register_digits": 6}]
    site = make_crediting_site(12, meters=meters)
    headers = api_headers_for(world.coordinator)
    first = JANUARY.isoformat()
    client.post(
        f"/api/v1/sites/{site.id}/readings",
        json={
            "batch_id": "r-1",
            "readings": [{"meter_serial": "REG-0012", "reading_end": first, "value": "100"}],
        },
        headers=headers,
    )
    answer = client.post(
        f"/api/v1/meters/{site.meters[0].id}/replacement",
        json={
            "replaced_at": (JANUARY + timedelta(hours=2)).isoformat(),
            "old_final_reading": "150",
            "new_serial": "REG-0012-B",
            "new_first_reading": "7",
        },
        headers=headers,
    )
    assert answer.status_code == 201, answer.json
    stored = _db.session.scalars(sa.select(Reading).order_by(Reading.meter_id, Reading.reading_end)).all()
    # Old meter: opening 100 kWh, then its final 150 kWh at the removal (50 kWh); new meter opens at 7.
    assert [(r.energy_wh, r.register_wh) for r in stored] == [(0, 100_000), (50_000, 150_000), (0, 7_000)]
