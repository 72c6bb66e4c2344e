"""Exports of a verification: the frozen frame (to reproduce the draw), and the sample with its findings
as CSV and XLSX (formula-safe: every text cell goes through monitoring.exports.safe_text)."""

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from poa_manager.database import db
from poa_manager.monitoring.exports import safe_text
from poa_manager.verification import services
from poa_manager.verification.models import FrameEntry, Verification

SAMPLE_COLUMNS = [
    "site_reference",
    "stratum",
    "claimed_tco2e",
    "sampled",
    "draw_round",
    "draw_order",
    "outcome",
    "method",
    "verified_tco2e",
    "evidence",
    "population_problems",
    "population_decision",
    "population_note",
]


def results_payload(verification: Verification) -> dict[str, Any]:
    """The live results with what the page shows beside them: the extension hint and the re-draw check."""
    results = services.compute_results(verification)
    return {
        **results.as_dict(),
        "suggested_extension": services.suggested_extension(results),
        "draw_reproduces": services.reproduces(verification),
    }


def _rows(verification: Verification) -> list[list[Any]]:
    entries = db.session.scalars(services.frame_entries(verification)).all()
    return [_row(entry) for entry in entries]


def _row(entry: FrameEntry) -> list[Any]:
    return [
        entry.site_reference,
        entry.stratum,
        str(entry.claimed_tco2e),
        "yes" if entry.is_sampled else "no",
        entry.draw_round,
        entry.draw_order,
        entry.outcome.value if entry.outcome else None,
        entry.method.value if entry.method else None,
        None if entry.verified_tco2e is None else str(entry.verified_tco2e),
        entry.evidence,
        " | ".join(entry.problems or []),
        entry.population_decision.value if entry.population_decision else None,
        entry.population_note,
    ]


def sample_csv(verification: Verification) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SAMPLE_COLUMNS)
    for row in _rows(verification):
        writer.writerow([safe_text(value) for value in row])
    return buffer.getvalue().encode()


def frame_csv(verification: Verification) -> bytes:
    """The frame exactly as hashed into `frame_sha256`: anyone can re-draw from it and the seed."""
    entries = db.session.scalars(services.frame_entries(verification)).all()
    return services.frame_csv([(e.site_reference, e.stratum, e.claimed_tco2e) for e in entries])


def sample_workbook(verification: Verification) -> bytes:
    # Write-only: rows stream to the file instead of 1.3 million cells held in memory at 100,000
    # sites (bench/bench_verification.py).
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Sample and findings")
    sheet.append(_header(sheet, SAMPLE_COLUMNS))
    for row in _rows(verification):
        sheet.append([safe_text(value) for value in row])
    plan = workbook.create_sheet("Plan")
    detail = verification.sample_size_detail or {}
    plan.append(_header(plan, ["Plan", "Value"]))
    for key, value in [
        ("Verification", verification.label),
        ("Request", verification.request.label),
        ("Seed", str(verification.seed) if verification.seed is not None else None),
        ("Frame SHA-256", verification.frame_sha256),
        ("Population N", detail.get("population")),
        ("Confidence", str(verification.confidence)),
        ("Relative precision", str(verification.relative_precision)),
        ("Formula", detail.get("formula")),
        ("Sample size n", verification.sample_size),
        ("Stratified by", verification.stratify_by or "not stratified"),
        ("Allocation", verification.allocation.value),
    ]:
        plan.append([key, safe_text(value)])
    for h, stratum in sorted((verification.strata or {}).items()):
        plan.append([f"Stratum {safe_text(h)}", f"N={stratum.get('N')} n={stratum.get('n')}"])
    figures = workbook.create_sheet("Results")
    figures.append(_header(figures, ["Figure", "Value"]))
    for key, value in results_payload(verification).items():
        figures.append([key, safe_text(value if not isinstance(value, list) else "; ".join(value))])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _header(sheet, names: list[str]) -> list[WriteOnlyCell]:
    cells = [WriteOnlyCell(sheet, value=name) for name in names]
    for cell in cells:
        cell.font = Font(bold=True)
    return cells
