"""Reading lists of sites registered in other registries (CSV or GeoJSON). Pure: no Flask, no database.

The guard (services/guard.py) checks new sites against these by serial and location, so a site
credited under Verra, Gold Standard, the CDM or another JCM project is caught (domain.md §1.4 b).
"""

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

COLUMNS = (
    "registry",
    "identifier",
    "name",
    "latitude",
    "longitude",
    "technology",
    "meter_serials",
    "equipment_serials",
    "crediting_start",
    "crediting_end",
)
MAX_ROWS = 50_000


@dataclass(frozen=True)
class Registration:
    registry_name: str
    identifier: str
    name: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    technology: str | None = None
    meter_serials: tuple[str, ...] = ()
    equipment_serials: tuple[str, ...] = ()
    crediting_start: date | None = None
    crediting_end: date | None = None


@dataclass
class ParsedRegistrations:
    registrations: list[Registration] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def parse(filename: str, data: bytes) -> ParsedRegistrations:
    """A CSV with the COLUMNS header, or a GeoJSON FeatureCollection of Points with those properties."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return ParsedRegistrations(errors=["The file is not UTF-8 text."])
    if filename.lower().endswith((".geojson", ".json")):
        return _parse_geojson(text)
    return _parse_csv(text)


def _parse_csv(text: str) -> ParsedRegistrations:
    result = ParsedRegistrations()
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = {"registry", "identifier"} - set(header)
    if missing:
        return ParsedRegistrations(errors=[f"Missing columns: {', '.join(sorted(missing))}."])
    for number, row in enumerate(reader, start=2):
        if number - 1 > MAX_ROWS:
            result.errors.append(f"More than {MAX_ROWS} rows: split the file.")
            break
        _add(result, {key.strip().lower(): value for key, value in row.items() if key}, f"row {number}")
    return result


def _parse_geojson(text: str) -> ParsedRegistrations:
    result = ParsedRegistrations()
    try:
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        return ParsedRegistrations(errors=[f"Not valid JSON: {error.msg} (line {error.lineno})."])
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        return ParsedRegistrations(errors=["Expected a GeoJSON FeatureCollection."])
    for number, feature in enumerate(document.get("features") or [], start=1):
        properties = dict((feature or {}).get("properties") or {})
        geometry = (feature or {}).get("geometry") or {}
        if geometry.get("type") == "Point" and len(geometry.get("coordinates") or []) >= 2:
            properties["longitude"], properties["latitude"] = geometry["coordinates"][:2]
        _add(result, properties, f"feature {number}")
    return result


def _add(result: ParsedRegistrations, values: dict[str, Any], where: str) -> None:
    problems: list[str] = []

    def text(name: str) -> str | None:
        value = values.get(name)
        return str(value).strip() or None if value is not None else None

    def number(name: str, low: int, high: int) -> Decimal | None:
        raw = text(name)
        if raw is None:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            problems.append(f"{name} {raw!r} is not a number")
            return None
        if not low <= value <= high:
            problems.append(f"{name} {raw} is outside {low}..{high}")
        return value

    def day(name: str) -> date | None:
        raw = text(name)
        try:
            return date.fromisoformat(raw) if raw else None
        except ValueError:
            problems.append(f"{name} {raw!r} is not a date like 2024-12-31")
            return None

    def serials(name: str) -> tuple[str, ...]:
        raw = values.get(name) or ""
        items = raw if isinstance(raw, list) else str(raw).split(";")
        return tuple(sorted({" ".join(str(item).split()).upper() for item in items if str(item).strip()}))

    registry, identifier = text("registry"), text("identifier")
    if not registry or not identifier:
        problems.append("registry and identifier are required")
    registration = Registration(
        registry_name=registry or "",
        identifier=identifier or "",
        name=text("name"),
        latitude=number("latitude", -90, 90),
        longitude=number("longitude", -180, 180),
        technology=text("technology"),
        meter_serials=serials("meter_serials"),
        equipment_serials=serials("equipment_serials"),
        crediting_start=day("crediting_start"),
        crediting_end=day("crediting_end"),
    )
    if (registration.latitude is None) != (registration.longitude is None):
        problems.append("give both latitude and longitude, or neither")
    if problems:
        result.errors.append(f"{where}: " + "; ".join(problems))
    else:
        result.registrations.append(registration)
