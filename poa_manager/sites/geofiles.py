"""Sites as GeoJSON and KML/KMZ: export writers, and readers that turn a file into bulk-import rows.

Pure: no Flask, no database. The readers hand every feature to importer's table reader as one row
(property name -> cell), so a map file gets exactly the checks, duplicate detection and row-error
report of a CSV (quality.md B3). Row N of an error report is the file's N-th feature or Placemark;
row 0 is the file as a whole. XML is parsed with defusedxml, DTDs refused outright (a KML never
needs one), so entity expansion and external entities cannot happen (quality.md, security).
"""

import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException

from poa_manager.sites import importer
from poa_manager.sites.importer import FILE, ParsedFile, RowError

KML_NAMESPACE = "http://www.opengis.net/kml/2.2"
MAX_FEATURES = importer.MAX_ROWS  # as a CSV: larger programmes upload in parts
MAX_FILE_BYTES = importer.MAX_FILE_BYTES
MAX_KMZ_ENTRIES = 100  # a KMZ holds doc.kml and a few icons or overlays
MAX_UNCOMPRESSED_BYTES = importer.MAX_UNCOMPRESSED_BYTES
# Written by the export for people and other tools, not facts of a new site: skipped on import.
EXPORT_ONLY = frozenset({"id", "status", "url", "programme"})
COORDINATES = ("latitude", "longitude")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")  # valid JSON as it stands


# --- export -------------------------------------------------------------------------------------


def _json_number(value: Decimal | int) -> str:
    # Plain notation (never 1E+2), which every GeoJSON reader takes and the importer reads back.
    return format(value, "f") if isinstance(value, Decimal) else str(int(value))


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def geojson_feature(record: Mapping[str, Any]) -> str:
    """One site as a GeoJSON Feature (text): a Point when it has coordinates, else a null geometry.

    `record` maps column names (importer.TEMPLATE_COLUMNS, plus any of EXPORT_ONLY) to typed values.
    Decimals are written digit for digit, never through a float, so an export reads back exactly.
    """
    latitude, longitude = record.get("latitude"), record.get("longitude")
    if latitude is not None and longitude is not None:
        geometry = f'{{"type":"Point","coordinates":[{_json_number(longitude)},{_json_number(latitude)}]}}'
    else:
        geometry = "null"
    numbers: list[str] = []  # Decimals, spliced in as text: json would need a float
    others: dict[str, Any] = {}
    for name, value in record.items():
        if name in COORDINATES or value is None or value == []:
            continue
        if isinstance(value, Decimal):
            numbers.append(f"{_dumps(name)}:{_json_number(value)}")
        elif isinstance(value, date):
            others[name] = value.isoformat()
        elif isinstance(value, list | tuple):
            others[name] = importer.SEPARATOR.join(str(item) for item in value)
        else:
            others[name] = value
    # One C-encoded dump for the rest: per-property dumps were most of a 100,000-site export.
    properties = ",".join([*numbers, _dumps(others)[1:-1]] if others else numbers)
    return f'{{"type":"Feature","geometry":{geometry},"properties":{{{properties}}}}}'


def geojson_chunks(records: Iterable[Mapping[str, Any]], **members: Any) -> Iterator[str]:
    """A FeatureCollection as text pieces, one feature at a time (a large programme streams)."""
    head = "".join(f"{json.dumps(key)}:{json.dumps(value)}," for key, value in members.items())
    yield f'{{"type":"FeatureCollection",{head}"features":['
    separator = "\n"
    for record in records:
        yield separator + geojson_feature(record)
        separator = ",\n"
    yield "\n]}\n"


def _coordinate(value: Decimal | str) -> str:
    """A coordinate as JSON: a Decimal, or a database's text of a NUMERIC column, checked as a number."""
    if isinstance(value, str):
        return value if _PLAIN_NUMBER.fullmatch(value) else _json_number(Decimal(value))
    return _json_number(value)


def map_geojson(
    points: Iterable[tuple[Decimal | str, Decimal | str, Mapping[str, Any]]], **members: Any
) -> str:
    """A compact FeatureCollection for the map from (latitude, longitude, properties) triples.

    Only what the map shows travels: at 100,000 sites every byte of a feature is 100 kB of download.
    Properties must be JSON values (a capacity goes as text: it is shown, not computed with).
    """
    head = "".join(f"{json.dumps(key)}:{json.dumps(value)}," for key, value in members.items())
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    features = ",\n".join(
        '{"type":"Feature","geometry":{"type":"Point","coordinates":['
        f'{_coordinate(longitude)},{_coordinate(latitude)}]}},"properties":{dumps(properties)}}}'
        for latitude, longitude, properties in points
    )
    return f'{{"type":"FeatureCollection",{head}"features":[\n{features}\n]}}\n'


def _kml_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return importer._as_cell_text(value)


def kml_placemark(record: Mapping[str, Any]) -> str:
    """One site as a KML Placemark: its name, a Point, and every field as ExtendedData.

    Built with ElementTree, which escapes text and attribute values, never by concatenating data.
    """
    placemark = ElementTree.Element("Placemark")
    ElementTree.SubElement(placemark, "name").text = str(record.get("name") or record.get("reference") or "")
    extended = ElementTree.SubElement(placemark, "ExtendedData")
    for name, value in record.items():
        if name in COORDINATES or value is None or value == []:
            continue
        data = ElementTree.SubElement(extended, "Data", name=name)
        ElementTree.SubElement(data, "value").text = _kml_text(value)
    latitude, longitude = record.get("latitude"), record.get("longitude")
    if latitude is not None and longitude is not None:
        point = ElementTree.SubElement(placemark, "Point")
        # KML order is longitude,latitude[,altitude] (OGC 07-147r2 §16.10).
        ElementTree.SubElement(point, "coordinates").text = f"{_kml_text(longitude)},{_kml_text(latitude)}"
    return ElementTree.tostring(placemark, encoding="unicode")


def kml_chunks(records: Iterable[Mapping[str, Any]], *, document_name: str) -> Iterator[str]:
    """A KML 2.2 document as text pieces, one Placemark at a time."""
    name = ElementTree.Element("name")
    name.text = document_name
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<kml xmlns="{KML_NAMESPACE}"><Document>{ElementTree.tostring(name, encoding="unicode")}\n'
    )
    for record in records:
        yield kml_placemark(record) + "\n"
    yield "</Document></kml>\n"


MIMETYPES = {"geojson": "application/geo+json", "kml": "application/vnd.google-earth.kml+xml"}


def export_file(
    records: Iterable[Mapping[str, Any]], extension: str, reference: str, title: str
) -> tuple[Iterator[bytes], str]:
    """A programme's sites as UTF-8 pieces of a .geojson or .kml file, and the file's media type."""
    if extension == "geojson":
        chunks = geojson_chunks(records, programme=reference)
    elif extension == "kml":
        chunks = kml_chunks(records, document_name=f"{reference} — {title}")
    else:
        raise ValueError(f"no map file format {extension!r}")
    return (chunk.encode("utf-8") for chunk in chunks), MIMETYPES[extension]


# --- import -------------------------------------------------------------------------------------


def _file_error(code: str, message: str) -> ParsedFile:
    return ParsedFile(rows=[], errors=[RowError(FILE, "", code, message)])


def _too_large() -> ParsedFile:
    return _file_error("file_too_large", f"The file is larger than {MAX_FILE_BYTES // 2**20} MB.")


def _too_many() -> ParsedFile:
    return _file_error("too_many_rows", f"The file has more than {MAX_FEATURES} sites: split it into parts.")


class _Feature:
    """One feature's cells by column name, and the problems found before the table reader."""

    def __init__(self, number: int):
        self.number = number
        self.cells: dict[str, Any] = {}
        self.errors: list[RowError] = []

    def error(self, column: str, code: str, message: str, value: str = "") -> None:
        self.errors.append(RowError(self.number, column, code, message, value))


def _cell(feature: _Feature, name: str, value: Any) -> None:
    """A property as a cell the table reader understands; nested objects are refused."""
    if isinstance(value, Decimal):
        # json gives Decimals (parse_float); plain notation unless absurdly large, which then fails.
        value = format(value, "f") if abs(value.adjusted()) < 30 else str(value)
    elif isinstance(value, list):
        if not all(isinstance(item, str | int | Decimal) and not isinstance(item, bool) for item in value):
            feature.error(name, "not_a_value", "Give text, a number or a list of texts.")
            return
        value = importer.SEPARATOR.join(str(item) for item in value)
    elif isinstance(value, dict):
        feature.error(name, "not_a_value", "Give text, a number or a list of texts.")
        return
    feature.cells[name] = value


def _to_parsed(features: list[_Feature]) -> ParsedFile:
    """Run the features through importer's table reader; geometry problems join its row errors."""
    if not features:
        return _file_error("no_rows", "The file has no sites.")
    header: dict[str, None] = {}
    for feature in features:
        header.update(dict.fromkeys(name for name in feature.cells if name not in EXPORT_ONLY))
    columns = list(header)
    early = [error for feature in features for error in feature.errors]
    blank = [f for f in features if not f.errors and all(importer._blank(f.cells.get(c)) for c in columns)]
    early.extend(RowError(f.number, "", "empty_feature", "The feature has no site details.") for f in blank)
    # Row 0 (FILE) holds the header, so header problems such as an unknown property are file errors.
    records = [(FILE, list(columns))]
    records.extend((f.number, [f.cells.get(name) for name in columns]) for f in features)
    parsed = importer._parse_table(records) if columns else _file_error("no_rows", "The file has no sites.")
    refused = {error.row for error in early}
    errors = sorted([*early, *parsed.errors], key=lambda error: error.row)  # stable: keeps column order
    return ParsedFile(
        rows=[row for row in parsed.rows if row.row not in refused],
        errors=errors,
        data_rows=len(features),
    )


def _decimal_text(value: Any) -> str | None:
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f") if abs(value.adjusted()) < 30 else str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number in JSON")


def parse_geojson(data: bytes) -> ParsedFile:
    """A GeoJSON FeatureCollection (RFC 7946) of Points whose properties are the template's columns."""
    if len(data) > MAX_FILE_BYTES:
        return _too_large()
    if not data.strip():
        return _file_error("empty_file", "The file is empty.")
    try:
        # Decimals, not floats: a coordinate reads back digit for digit; NaN and Infinity are refused.
        document = json.loads(data.decode("utf-8-sig"), parse_float=Decimal, parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        return _file_error("not_utf8", "The file is not UTF-8 text.")
    except (ValueError, RecursionError) as error:
        return _file_error("not_geojson", f"The file is not valid JSON: {error}.")
    if isinstance(document, dict) and document.get("type") == "Feature":
        document = {"type": "FeatureCollection", "features": [document]}
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        return _file_error("not_geojson", "Expected a GeoJSON FeatureCollection.")
    raw_features = document.get("features")
    if not isinstance(raw_features, list):
        return _file_error("not_geojson", "The FeatureCollection has no list of features.")
    if len(raw_features) > MAX_FEATURES:
        return _too_many()
    features = []
    for number, raw in enumerate(raw_features, start=1):
        feature = _Feature(number)
        features.append(feature)
        if not isinstance(raw, dict) or raw.get("type") != "Feature":
            feature.error("", "not_a_feature", "Each entry of features must be a GeoJSON Feature.")
            continue
        properties = raw.get("properties") or {}
        if not isinstance(properties, dict):
            feature.error("", "not_a_feature", "The feature's properties must be an object.")
            continue
        geometry = raw.get("geometry")
        for name, value in properties.items():
            # The geometry is where the point is; properties repeat it only without a geometry.
            if not (geometry is not None and str(name).lower() in COORDINATES):
                _cell(feature, str(name).lower(), value)
        if geometry is not None:
            _read_geojson_point(feature, geometry)
    return _to_parsed(features)


def _read_geojson_point(feature: _Feature, geometry: Any) -> None:
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        feature.error("latitude", "not_a_point", f"A site is a Point, not {kind}.", str(kind))
        return
    position = geometry.get("coordinates")
    if not isinstance(position, list) or len(position) not in (2, 3):
        feature.error("latitude", "bad_coordinates", "Point coordinates are [longitude, latitude].")
        return
    longitude, latitude = (_decimal_text(value) for value in position[:2])
    if longitude is None or latitude is None:
        feature.error("latitude", "bad_coordinates", "Point coordinates must be numbers.")
        return
    feature.cells["longitude"], feature.cells["latitude"] = longitude, latitude


def _local(tag: Any) -> str:
    """An element's name without its namespace: KML 2.0, 2.1, 2.2 and Google's gx all read alike."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse_kml(data: bytes) -> ParsedFile:
    """A KML document: every Placemark with a Point, its fields in ExtendedData (Data or SchemaData)."""
    if len(data) > MAX_FILE_BYTES:
        return _too_large()
    if not data.strip():
        return _file_error("empty_file", "The file is empty.")
    try:
        root = SafeElementTree.fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        return _file_error(
            "unsafe_xml", "The file declares a DTD or entities, which KML never needs; it was not read."
        )
    except ElementTree.ParseError as error:
        return _file_error("not_kml", f"The file is not well-formed XML: {error}.")
    if _local(root.tag) != "kml":
        return _file_error("not_kml", "The file is not KML (its root element is not <kml>).")
    placemarks = [element for element in root.iter() if _local(element.tag) == "Placemark"]
    if len(placemarks) > MAX_FEATURES:
        return _too_many()
    features = []
    for number, placemark in enumerate(placemarks, start=1):
        feature = _Feature(number)
        features.append(feature)
        title = None
        for child in placemark:
            kind = _local(child.tag)
            if kind == "name":
                title = (child.text or "").strip() or None
            elif kind == "ExtendedData":
                _read_extended_data(feature, child)
            elif kind == "Point":
                _read_kml_point(feature, child)
            elif kind in ("MultiGeometry", "LineString", "Polygon", "LinearRing", "Model", "Track"):
                feature.error("latitude", "not_a_point", f"A site is a Point, not {kind}.", kind)
        if title and "name" not in feature.cells:
            feature.cells["name"] = title  # Google Earth keeps the title in <name>, not ExtendedData
    return _to_parsed(features)


def _read_extended_data(feature: _Feature, extended: Any) -> None:
    for element in extended.iter():
        kind = _local(element.tag)
        if kind == "Data":  # <Data name="..."><value>...</value></Data>
            value = next((c.text for c in element if _local(c.tag) == "value"), None)
        elif kind == "SimpleData":  # <SchemaData><SimpleData name="...">...</SimpleData>, as QGIS writes
            value = element.text
        else:
            continue
        name = (element.get("name") or "").strip().lower()
        if name and name not in COORDINATES:  # the Point is where the site is
            feature.cells[name] = value.strip() if value else None


def _read_kml_point(feature: _Feature, point: Any) -> None:
    text = next((c.text for c in point if _local(c.tag) == "coordinates"), None) or ""
    parts = text.strip().split(",")
    if len(parts) not in (2, 3) or not all(part.strip() for part in parts):
        feature.error(
            "latitude", "bad_coordinates", "Point coordinates are longitude,latitude.", text.strip()[:60]
        )
        return
    feature.cells["longitude"], feature.cells["latitude"] = parts[0].strip(), parts[1].strip()


def parse_kmz(data: bytes) -> ParsedFile:
    """A KMZ: a ZIP holding doc.kml (or another .kml at its root), checked before anything inflates."""
    if len(data) > MAX_FILE_BYTES:
        return _too_large()
    not_kmz = _file_error("not_kmz", "The file is not a KMZ archive.")
    if not data.startswith(b"PK\x03\x04"):
        return not_kmz
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            # ASVS 5.0 V5.2.3: entry count and declared sizes first; zipfile never inflates an entry
            # past its declared size, and the read below is bounded as well.
            if len(entries) > MAX_KMZ_ENTRIES:
                return _file_error(
                    "too_many_entries", f"The archive has more than {MAX_KMZ_ENTRIES} entries."
                )
            if sum(entry.file_size for entry in entries) > MAX_UNCOMPRESSED_BYTES:
                return _file_error(
                    "archive_too_large",
                    f"The archive would expand to more than {MAX_UNCOMPRESSED_BYTES // 2**20} MB.",
                )
            documents = [e for e in entries if e.filename.lower().endswith(".kml") and "/" not in e.filename]
            if not documents:
                return _file_error("no_kml", "The archive holds no .kml document at its root.")
            chosen = next((e for e in documents if e.filename.lower() == "doc.kml"), documents[0])
            if chosen.file_size > MAX_FILE_BYTES:
                return _too_large()
            with archive.open(chosen) as handle:
                kml = handle.read(MAX_FILE_BYTES + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return not_kmz
    return parse_kml(kml)


PARSERS = {".geojson": parse_geojson, ".json": parse_geojson, ".kml": parse_kml, ".kmz": parse_kmz}
