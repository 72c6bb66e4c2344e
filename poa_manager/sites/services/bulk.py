"""Bulk upload of sites from CSV, XLSX, GeoJSON, KML or KMZ: every row checked, then all or none created."""

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from poa_manager.accounts.models import Organisation, User
from poa_manager.audit import services as audit
from poa_manager.database import db
from poa_manager.errors import InvalidInput, NotAllowed, RuleViolation
from poa_manager.programmes.models import Programme
from poa_manager.sites import geofiles, importer, policies
from poa_manager.sites.importer import RowError, SiteRow, error_report_csv
from poa_manager.sites.models import CheckOutcome, Site
from poa_manager.sites.services import inclusion, records

# Map files become the same rows as a spreadsheet, so every check below is shared (quality.md B3).
PARSERS = {".csv": importer.parse_csv, ".xlsx": importer.parse_xlsx, **geofiles.PARSERS}
# create_site's error fields that are named differently in the file.
_COLUMN_OF_FIELD = {"operator_organisation_id": "operator"}

__all__ = ["ImportRejected", "ImportResult", "error_report_csv", "import_sites"]


class ImportRejected(RuleViolation):
    """The file has errors, listed per row and column; nothing was imported."""

    code = "import_rejected"

    def __init__(self, row_errors: list[RowError], *, filename: str):
        self.row_errors = list(row_errors)
        rows = len({error.row for error in self.row_errors})
        super().__init__(
            f"{filename}: {len(self.row_errors)} error(s) in {rows} row(s); nothing was imported.",
            errors={"rows": [error.as_dict() for error in self.row_errors]},
        )


@dataclass(frozen=True)
class ImportResult:
    sites: list[Site]
    checked: dict[str, int] = field(default_factory=dict)  # eligibility outcome -> sites; empty if unchecked


def import_sites(
    programme: Programme, *, actor: User, filename: str, data: bytes, check_on: date | None = None
) -> ImportResult:
    """Create a draft site for every row of the file, all or none; optionally check each one."""
    if not policies.can_prepare_sites(actor, programme):
        raise NotAllowed("Only the programme's coordinator can import sites.")
    # Control characters out: PostgreSQL refuses NUL in the audit entry that names the file.
    filename = "".join(c for c in filename if c.isprintable())
    filename = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()[:255] or "upload"
    extension = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    parser = PARSERS.get(extension)
    if parser is None:
        error = RowError(
            importer.FILE,
            "",
            "unsupported_file_type",
            "Upload a .csv, .xlsx, .geojson, .kml or .kmz file.",
            extension,
        )
        raise ImportRejected([error], filename=filename)
    parsed = parser(data)
    errors = list(parsed.errors)
    if not parsed.rows:
        raise ImportRejected(errors, filename=filename)
    operators = _operators(parsed.rows, errors)
    refused_rows = {error.row for error in errors}

    sites: list[Site] = []
    # One savepoint around the whole file: if any row fails, rolling it back undoes every site and
    # every audit entry written so far, whatever the caller does with its own transaction.
    with db.session.begin_nested():
        for row in parsed.rows:
            if row.row in refused_rows:
                continue  # an unknown operator: the row is already reported
            facts = dict(row.facts)
            operator = facts.pop("operator")
            try:
                # A savepoint per row as well: a refused row leaves a half-built Site attached to
                # the programme, which rolling back its savepoint detaches before the next flush.
                with db.session.begin_nested():
                    site = records.create_site(
                        programme,
                        actor=actor,
                        operator_organisation_id=operators[operator.lower()].id if operator else None,
                        **facts,
                    )
            except (InvalidInput, RuleViolation) as refusal:  # NotAllowed/NotFound are not row problems
                errors.extend(_row_errors(row, refusal))
                continue
            sites.append(site)
        if errors:
            errors.sort(key=lambda error: error.row)  # stable: keeps each row's column order
            raise ImportRejected(errors, filename=filename)  # leaving the block rolls everything back

        checked: dict[str, int] = {}
        if check_on is not None:
            checked = {outcome.value: 0 for outcome in CheckOutcome}
            for site in sites:
                check = inclusion.check_eligibility(site, actor=actor, checked_on=check_on)
                checked[check.outcome.value] += 1
        audit.record(
            "sites.imported",
            actor=actor,
            entity_type="programme",
            entity_id=programme.id,
            data={
                "programme": programme.reference,
                "filename": filename,
                "sha256": hashlib.sha256(data).hexdigest(),
                "rows": len(sites),
                **({"checked_on": check_on, "checked": checked} if check_on is not None else {}),
            },
        )
    return ImportResult(sites=sites, checked=checked)


def _operators(rows: list[SiteRow], errors: list[RowError]) -> dict[str, Organisation]:
    """Active organisations by lower-case name; a row naming any other gets an error."""
    names = {row.facts["operator"].lower() for row in rows if row.facts["operator"]}
    if not names:
        return {}
    found = db.session.scalars(sa.select(Organisation).where(sa.func.lower(Organisation.name).in_(names)))
    by_name = {organisation.name.lower(): organisation for organisation in found}
    for row in rows:
        name = row.facts["operator"]
        if not name:
            continue
        organisation = by_name.get(name.lower())
        if organisation is None:
            errors.append(
                RowError(row.row, "operator", "unknown_operator", f"No organisation is named {name}.", name)
            )
        elif not organisation.is_active:
            errors.append(
                RowError(
                    row.row, "operator", "inactive_operator", f"{organisation.name} is not active.", name
                )
            )
    return {name: organisation for name, organisation in by_name.items() if organisation.is_active}


def _row_errors(row: SiteRow, refusal: InvalidInput | RuleViolation) -> list[RowError]:
    """create_site's per-field refusal, located on the row and its columns."""
    if not refusal.errors:
        return [RowError(row.row, "", refusal.code, refusal.message)]
    found = []
    for name, messages in refusal.errors.items():
        column = _COLUMN_OF_FIELD.get(name, name)
        for message in messages if isinstance(messages, list) else [messages]:
            found.append(RowError(row.row, column, refusal.code, str(message), _shown(row.facts.get(column))))
    return found


def _shown(value: Any) -> str:
    if value is None or isinstance(value, list | dict):
        return ""
    return str(value)
