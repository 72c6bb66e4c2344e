"""The ER calculation workbook verifiers expect: every site line with its equation inputs (T11).

Values are written from the same `Decimal`s the report holds, so the workbook's total equals the
report's exactly; each line also carries `ER = BE − PE − LE` as a live formula, and the summary a
`SUM` over the lines, so a verifier can check the arithmetic in the spreadsheet itself.
"""

import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from poa_manager import tabular
from poa_manager.monitoring.models import MonitoringReport

MWH = Decimal(1_000_000)

# Data cells go through the one formula-injection rule (poa_manager/tabular.py); the workbook's own
# ER and SUM formulas are written as formulas on purpose, and never pass through it.
safe_text = tabular.neutralise


def report_workbook(report: MonitoringReport) -> bytes:
    workbook = Workbook()
    lines_sheet = workbook.active
    lines_sheet.title = "Lines"
    parameter_names = sorted({name for line in report.lines for name in line.parameters})
    header = [
        "Site",
        "Window start",
        "Window end",
        "Vintage",
        "Readings",
        "Completeness %",
        "Export MWh",
        "Import MWh",
        "Net MWh",
        "Counted MWh",
        *parameter_names,
        "BE tCO2e",
        "PE tCO2e",
        "LE tCO2e",
        "ER tCO2e",
        "ER check (BE − PE − LE)",
        "Flags",
        "Problem",
    ]
    lines_sheet.append(header)
    for cell in lines_sheet[1]:
        cell.font = Font(bold=True)
    column = {name: get_column_letter(i + 1) for i, name in enumerate(header)}
    for row, line in enumerate(report.lines, start=2):
        be, pe, le = (column[name] for name in ("BE tCO2e", "PE tCO2e", "LE tCO2e"))
        lines_sheet.append(
            [
                safe_text(line.site_reference),
                line.window_start,
                line.window_end,
                line.vintage,
                line.reading_count,
                line.completeness_percent,
                line.export_wh / MWH,
                line.import_wh / MWH,
                line.net_wh / MWH,
                line.counted_wh / MWH,
                *(_number(line.parameters.get(name)) for name in parameter_names),
                line.baseline_tco2e,
                line.project_tco2e,
                line.leakage_tco2e,
                line.emission_reductions_tco2e,
                f"={be}{row}-{pe}{row}-{le}{row}",
                ", ".join(line.flags),
                safe_text(line.problem or ""),
            ]
        )
    last = len(report.lines) + 1
    er = column["ER tCO2e"]

    summary = workbook.create_sheet("Summary", 0)
    rows = [
        ("Programme", safe_text(report.programme.reference)),
        ("Report", report.label),
        ("Period", f"{report.period_start} – {report.period_end}"),
        ("Status", report.status.value),
        ("Methodology", f"{report.methodology_code} v{report.methodology_version}"),
        ("Programme design version", report.programme_version_number),
        ("Site lines", len(report.lines)),
        ("Total ER tCO2e (report)", report.total_tco2e),
        ("Total ER tCO2e (sum of lines)", f"=SUM(Lines!{er}2:{er}{max(last, 2)})"),
    ]
    for label, value in rows:
        summary.append([label, value])
    summary.append([])
    summary.append(["Rules in force (unconfirmed rules of domain.md §7 are per report)"])
    for key, value in sorted((report.settings or {}).items()):
        summary.append([key, str(value)])
    for cell in summary["A"]:
        cell.font = Font(bold=True)

    meters = workbook.create_sheet("Meters")
    meters.append(
        [
            "Site",
            "Window start",
            "Meter",
            "Role",
            "Readings",
            "Covered hours",
            "Energy kWh",
            "Lapsed-calibration kWh",
            "Calibration adjustment kWh",
            "Filled kWh",
            "Completeness %",
            "Rollovers",
            "Lapsed days",
        ]
    )
    for line in report.lines:
        for m in line.meters:
            meters.append(
                [
                    safe_text(line.site_reference),
                    line.window_start,
                    safe_text(m.meter.serial),
                    m.role,
                    m.reading_count,
                    Decimal(m.covered_s) / 3600,
                    Decimal(m.energy_wh) / 1000,
                    Decimal(m.lapsed_energy_wh) / 1000,
                    Decimal(m.adjustment_wh) / 1000,
                    Decimal(m.filled_wh) / 1000,
                    m.completeness_percent,
                    m.rollovers,
                    "; ".join(f"{a}–{b}" for a, b in m.lapsed_days),
                ]
            )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _number(text: str | None) -> Decimal | str:
    if text is None:
        return ""
    try:
        return Decimal(text)
    except ArithmeticError:
        return safe_text(text)
