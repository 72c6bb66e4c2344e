"""Importer fuzzing (issue 8): arbitrary and mutated CSV/XLSX files go through the REAL site import
and readings import services against the real database. Each file is either accepted in full
(the rows written, counted in the database, equal the file's rows) or rejected with row errors,
and a rejected file leaves the tables it could write exactly as they were. Any other exception is
a crash and fails the test.

Each example runs inside a savepoint that is rolled back afterwards, so every file meets the same
database. Hypothesis is derandomized: CI sees the same files every run.
"""

import io
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from poa_manager.accounts.roles import OrganisationKind
from poa_manager.audit.models import AuditChainHead, AuditEntry
from poa_manager.database import db
from poa_manager.errors import InvalidInput
from poa_manager.monitoring import readings_file
from poa_manager.monitoring import services as monitoring_services
from poa_manager.monitoring.models import MeterReadingStatus, Reading, ReadingUpload, UploadStatus
from poa_manager.sites import importer
from poa_manager.sites.models import EligibilityCheck, Meter, Site
from poa_manager.sites.services import bulk
from tests.factories import OrganisationFactory
from tests.integration.fuzz.files import any_file, workbook_bytes

SITE_EXAMPLES = 200
READING_EXAMPLES = 250
NOW = datetime(2026, 11, 1, tzinfo=UTC)
# The uploaded file's name travels into the upload record and the audit log.
STEMS = st.sampled_from(
    ["fuzzed", "fuzzed", "a\x00b", "..\\..\\etc/passwd", "日本語", " ", "x" * 300, "\ud800"]
)


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _settings(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# --- the site importer ---------------------------------------------------------------------------

SITE_HEADER = list(importer.TEMPLATE_COLUMNS)


def _site_cells(n: int, operator: str) -> dict:
    return {
        "reference": f"FUZZ-{n:03d}",
        "name": f"Fuzzed rooftop {n}",
        "operator": operator if n % 2 else "",
        "latitude": Decimal("10.7") + n * Decimal("0.01"),
        "longitude": Decimal("106.7") + n * Decimal("0.01"),
        "area_code": "VN-57",
        "technology": "solar_pv",
        "capacity_kw": Decimal("850.5"),
        "commissioned_on": date(2025, 3, 1),
        "equipment_serials": f"INV-F{n:03d}",
        "documents": "cpa_dd",
        "financial_support_declared": "no",
        "meter_1_serial": f"MTR-F{n:03d}",
        "meter_1_role": "generation",
        "meter_1_accuracy_class": "0.5S",
        "meter_1_calibrated_on": date(2025, 2, 1),
        "meter_1_calibration_valid_until": date(2030, 2, 1),
    }


def _site_rows(operator: str, *, typed: bool) -> list[list]:
    rows = []
    for n in range(4):
        cells = _site_cells(n, operator)
        line = []
        for name in SITE_HEADER:
            value = cells.get(name, "")
            line.append(value if typed and not isinstance(value, str) else _text(value))
        rows.append(line)
    return rows


def _text(value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


OPERATOR = "Fuzz Rooftop Operations"
SITE_ROWS = _site_rows(OPERATOR, typed=False)
SITE_TYPED_ROWS = _site_rows(OPERATOR, typed=True)
VALID_SITE_CSV = ("\n".join(",".join(line) for line in [SITE_HEADER, *SITE_ROWS]) + "\n").encode()
# Found by this test: without the reference column create_site crashed on a None reference.
NO_REFERENCE_CSV = b"\n".join(line.split(b",", 1)[1] for line in VALID_SITE_CSV.splitlines()) + b"\n"


def _site_tables(programme) -> tuple:
    """Everything an import can write: sites and meters, eligibility checks, audit entries, chain head."""
    return (
        _count(Site, Site.programme_id == programme.id),
        _count(Meter),
        _count(EligibilityCheck),
        _count(AuditEntry),
        db.session.get(AuditChainHead, 1).last_seq,
    )


def test_the_site_importer_accepts_a_file_whole_or_rejects_it_with_row_errors(world, registered, figures):
    OrganisationFactory(name=OPERATOR, kind=OrganisationKind.site_operator)
    db.session.flush()
    tally = Counter()

    @_settings(SITE_EXAMPLES)
    @given(case=any_file(SITE_HEADER, SITE_ROWS, SITE_TYPED_ROWS, importer.SHEET_NAME), stem=STEMS)
    @example(case=(".csv", VALID_SITE_CSV, "csv"), stem="fuzzed")  # the unmutated file: accepted in full
    @example(case=(".csv", NO_REFERENCE_CSV, "csv"), stem="fuzzed")  # regression: a missing required column
    # Regression: a NUL in a name and in the file name.
    @example(
        case=(".csv", VALID_SITE_CSV.replace(b"Fuzzed rooftop 1", b"Fuzzed\x00rooftop"), "csv"), stem="a\x00b"
    )
    @example(
        case=(".xlsx", workbook_bytes([SITE_HEADER, *SITE_TYPED_ROWS], importer.SHEET_NAME), "xlsx"),
        stem="fuzzed",
    )
    def check(case, stem):
        extension, data, kind = case
        tally[kind] += 1
        savepoint = db.session.begin_nested()
        try:
            before = _site_tables(registered)
            try:
                result = bulk.import_sites(
                    registered,
                    actor=world.coordinator,
                    filename=f"{stem}{extension}",
                    data=data,
                    check_on=date(2026, 11, 1),
                )
            except bulk.ImportRejected as rejected:
                assert rejected.row_errors, "a rejection must say which rows are wrong"
                assert _site_tables(registered) == before, f"partial write from a rejected {kind} file"
                tally["rejected"] += 1
                return
            parsed = (importer.parse_csv if extension == ".csv" else importer.parse_xlsx)(data)
            after = _site_tables(registered)
            created = after[0] - before[0]
            assert created == len(result.sites) == len(parsed.rows) == parsed.data_rows > 0, (
                f"accepted {kind} file: {created} sites written for {parsed.data_rows} rows"
            )
            assert after[1] - before[1] == sum(len(site.meters) for site in result.sites)
            assert after[2] - before[2] == len(result.sites)  # one eligibility check per site
            tally["accepted"] += 1
        finally:
            savepoint.rollback()
            db.session.expire_all()

    check()
    _report("site importer", tally, figures)


# --- the readings importer -----------------------------------------------------------------------

READING_HEADER = list(readings_file.TEMPLATE_COLUMNS)
START = datetime(2025, 3, 1, tzinfo=UTC)


def _reading_rows(*, typed: bool) -> list[list]:
    rows = []
    for n in (1, 2):
        for hour in range(6):
            begin = START + timedelta(hours=hour)
            value = Decimal("12.5") + hour
            rows.append(
                [
                    f"CPA-{n:04d}",
                    f"EXP-{n:04d}",
                    begin.isoformat(),
                    (begin + timedelta(hours=1)).isoformat(),
                    value if typed else str(value),
                ]
            )
    return rows


READING_ROWS = _reading_rows(typed=False)
READING_TYPED_ROWS = _reading_rows(typed=True)
VALID_READINGS_CSV = (
    "\n".join(",".join(map(str, line)) for line in [READING_HEADER, *READING_ROWS]) + "\n"
).encode()


def _reading_tables() -> tuple:
    return (
        _count(Reading),
        _count(MeterReadingStatus),
        _count(ReadingUpload),
        _count(AuditEntry),
        db.session.get(AuditChainHead, 1).last_seq,
    )


def test_the_readings_importer_accepts_a_file_whole_or_rejects_it_with_row_errors(
    world, make_crediting_site, tmp_path, figures
):
    for n in (1, 2):
        make_crediting_site(n)
    programme = world.programme
    tally = Counter()

    @_settings(READING_EXAMPLES)
    @given(
        case=any_file(READING_HEADER, READING_ROWS, READING_TYPED_ROWS, readings_file.SHEET_NAME), stem=STEMS
    )
    @example(case=(".csv", VALID_READINGS_CSV, "csv"), stem="fuzzed")
    @example(
        case=(
            ".xlsx",
            workbook_bytes([READING_HEADER, *READING_TYPED_ROWS], readings_file.SHEET_NAME),
            "xlsx",
        ),
        stem="fuzzed",
    )
    # Regression: a NUL in a header cell and in the file name (PostgreSQL refused the rejection).
    @example(case=(".csv", b"\x00" + VALID_READINGS_CSV, "csv"), stem="a\x00b")
    def check(case, stem):
        extension, data, kind = case
        tally[kind] += 1
        savepoint = db.session.begin_nested()
        try:
            before = _reading_tables()
            try:
                upload, _new = monitoring_services.receive_readings(
                    programme,
                    actor=world.coordinator,
                    filename=f"{stem}{extension}",
                    stream=io.BytesIO(data),
                    folder=tmp_path,
                    now=NOW,
                )
            except InvalidInput as refused:  # an empty file, or no .csv/.xlsx name: nothing recorded
                assert refused.errors
                assert _reading_tables() == before
                tally["rejected"] += 1
                return
            monitoring_services.start_upload(upload, now=NOW)
            outcome = monitoring_services.ingest_upload(upload, folder=tmp_path, now=NOW)
            after = _reading_tables()
            # Either way the upload is recorded (received, then accepted or rejected: two audit
            # entries); that is the contract, so the sender sees why a file was refused.
            assert (after[2] - before[2], after[3] - before[3], after[4] - before[4]) == (1, 2, 2)
            if not outcome.accepted:
                assert upload.status is UploadStatus.rejected and upload.error_count > 0 and upload.errors
                assert after[:2] == before[:2], f"partial write from a rejected {kind} file: {after} {before}"
                tally["rejected"] += 1
                return
            assert upload.status is UploadStatus.accepted
            written = after[0] - before[0]
            assert written == upload.rows_written == outcome.rows_written > 0, (
                f"accepted {kind} file: {written} readings written, the upload says {upload.rows_written}"
            )
            assert upload.rows_written + upload.rows_already_stored == upload.rows_total
            tally["accepted"] += 1
        finally:
            savepoint.rollback()
            db.session.expire_all()

    check()
    _report("readings importer", tally, figures)


def _report(importer: str, tally, figures: list[str]) -> None:
    """The figure, and the run's own sanity: every file ended one way, and both ways happened."""
    tried = tally["bytes"] + tally["csv"] + tally["xlsx"]
    line = (
        f"{importer}: {tried} malformed files tried ({tally['bytes']} arbitrary bytes, "
        f"{tally['csv']} CSV, {tally['xlsx']} XLSX): {tally['accepted']} accepted in full, "
        f"{tally['rejected']} rejected with row errors, 0 partial writes, 0 crashes"
    )
    print(line)
    figures.append(line)
    assert tally["accepted"] + tally["rejected"] == tried, line
    assert tally["accepted"] >= 2 and tally["rejected"] > tried // 2, line
