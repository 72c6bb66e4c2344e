"""GeoJSON and KML/KMZ of sites: exports read back as the same rows, and hostile files are refused."""

import io
import json
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poa_manager.sites import geofiles, importer

RECORD = {
    "id": 7,
    "status": "included",
    "reference": "CPA-0007",
    "operator": "Sun & Co <Ltd>",
    "name": 'An Phu "rooftop" & <b>bold</b>',
    "latitude": Decimal("10.980123"),
    "longitude": Decimal("-106.650456"),
    "area_code": "VN-57",
    "technology": "solar_pv",
    "capacity_kw": Decimal("850.500"),
    "commissioned_on": date(2025, 3, 1),
    "equipment_serials": ["INV-1", "INV-2"],
    "documents": ["cpa_dd"],
    "financial_support_declared": False,
    "funding_sources": '=HYPERLINK("x")',
    "meter_1_serial": "MTR-1",
    "meter_1_role": "export",
    "meter_1_accuracy_class": "0.5S",
    "meter_1_calibrated_on": date(2025, 2, 1),
    "meter_1_calibration_valid_until": date(2030, 2, 1),
}
EXPECTED_FACTS = {
    "reference": "CPA-0007",
    "name": 'An Phu "rooftop" & <b>bold</b>',
    "operator": "Sun & Co <Ltd>",
    "latitude": Decimal("10.980123"),
    "longitude": Decimal("-106.650456"),
    "area_code": "VN-57",
    "technology": "solar_pv",
    "capacity_kw": Decimal("850.500"),
    "commissioned_on": date(2025, 3, 1),
    "equipment_serials": ["INV-1", "INV-2"],
    "documents": ["cpa_dd"],
    "financial_support_declared": False,
    "funding_sources": '=HYPERLINK("x")',
    "meters": [
        {
            "serial": "MTR-1",
            "role": "export",
            "accuracy_class": "0.5S",
            "calibrated_on": date(2025, 2, 1),
            "calibration_valid_until": date(2030, 2, 1),
        }
    ],
}
UNLOCATED = {"reference": "CPA-0008", "name": "Not surveyed yet", "status": "draft"}


def geojson(records, **members) -> bytes:
    return "".join(geofiles.geojson_chunks(records, **members)).encode()


def kml(records) -> bytes:
    return "".join(geofiles.kml_chunks(records, document_name="VN <test> & co")).encode()


def kmz(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in entries.items():
            archive.writestr(name, body)
    return out.getvalue()


def codes(parsed) -> list[tuple[int, str, str]]:
    return [(error.row, error.column, error.code) for error in parsed.errors]


@pytest.mark.parametrize(
    "parse, build",
    [
        (geofiles.parse_geojson, geojson),
        (geofiles.parse_kml, kml),
        (geofiles.parse_kmz, lambda records: kmz({"doc.kml": kml(records)})),
    ],
)
def test_an_export_reads_back_as_the_same_rows(parse, build):
    parsed = parse(build([RECORD, UNLOCATED]))
    assert parsed.errors == []
    assert [row.row for row in parsed.rows] == [1, 2]
    first, second = (row.facts for row in parsed.rows)
    assert {key: first[key] for key in EXPECTED_FACTS} == EXPECTED_FACTS
    assert second["reference"] == "CPA-0008" and second["latitude"] is None and second["longitude"] is None


def test_geojson_export_is_valid_json_with_exact_numbers_and_no_empty_fields():
    document = json.loads(geojson([RECORD, UNLOCATED], programme="VN-1"))
    assert document["type"] == "FeatureCollection" and document["programme"] == "VN-1"
    located, unlocated = document["features"]
    assert located["geometry"] == {"type": "Point", "coordinates": [-106.650456, 10.980123]}
    assert located["properties"]["capacity_kw"] == 850.5
    assert located["properties"]["equipment_serials"] == "INV-1;INV-2"
    assert "latitude" not in located["properties"]
    assert unlocated["geometry"] is None and unlocated["properties"] == UNLOCATED
    # Digit for digit in the text: 850.500 is written as stored, not through a float.
    assert b'"capacity_kw":850.500' in geojson([RECORD])


def test_kml_escapes_markup_in_every_field():
    text = kml([RECORD]).decode()
    assert "<b>bold</b>" not in text and "&lt;b&gt;bold&lt;/b&gt;" in text
    assert "Sun &amp; Co &lt;Ltd&gt;" in text and "VN &lt;test&gt; &amp; co" in text
    assert "<coordinates>-106.650456,10.980123</coordinates>" in text


def test_map_geojson_is_compact():
    text = geofiles.map_geojson(
        [(Decimal("10.5"), Decimal("106.25"), {"reference": "A", "status": "draft"})], unlocated=3
    )
    document = json.loads(text)
    assert document["unlocated"] == 3
    assert document["features"][0]["geometry"]["coordinates"] == [106.25, 10.5]
    assert " " not in text.replace('"type":"Feature"', "")


def test_google_earth_and_qgis_layouts_are_read():
    text = b"""<?xml version="1.0"?>
    <kml xmlns="http://earth.google.com/kml/2.1"><Document><Folder>
      <Placemark><name>Roof A</name>
        <ExtendedData><SchemaData schemaUrl="#s">
          <SimpleData name="Reference">CPA-1</SimpleData><SimpleData name="capacity_kw">12.5</SimpleData>
        </SchemaData></ExtendedData>
        <Point><coordinates> 106.7,10.8,0 </coordinates></Point></Placemark>
    </Folder></Document></kml>"""
    parsed = geofiles.parse_kml(text)
    assert parsed.errors == []
    (row,) = parsed.rows
    assert (row.facts["reference"], row.facts["name"]) == ("CPA-1", "Roof A")
    assert (row.facts["latitude"], row.facts["longitude"]) == (Decimal("10.8"), Decimal("106.7"))
    assert row.facts["capacity_kw"] == Decimal("12.5")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE kml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>&d;</name></Placemark></kml>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE kml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>&secret;</name></Placemark></kml>"""
BARE_DTD = b"""<?xml version="1.0"?><!DOCTYPE kml SYSTEM "http://example.org/kml.dtd">
<kml xmlns="http://www.opengis.net/kml/2.2"></kml>"""


@pytest.mark.parametrize("hostile", [BILLION_LAUGHS, XXE, BARE_DTD])
def test_entities_and_dtds_are_refused_before_anything_is_read(hostile):
    parsed = geofiles.parse_kml(hostile)
    assert parsed.rows == [] and codes(parsed) == [(0, "", "unsafe_xml")]
    # The same inside a KMZ.
    assert codes(geofiles.parse_kmz(kmz({"doc.kml": hostile}))) == [(0, "", "unsafe_xml")]


def test_a_zip_bomb_is_refused_by_its_declared_size():
    bomb = kmz({"doc.kml": b"<kml>" + b" " * (geofiles.MAX_UNCOMPRESSED_BYTES + 1) + b"</kml>"})
    assert len(bomb) < 200_000  # it compresses to almost nothing
    assert codes(geofiles.parse_kmz(bomb)) == [(0, "", "archive_too_large")]


def test_a_kmz_with_too_many_entries_or_no_kml_is_refused():
    many = kmz({f"icon{i}.png": b"x" for i in range(geofiles.MAX_KMZ_ENTRIES + 1)})
    assert codes(geofiles.parse_kmz(many)) == [(0, "", "too_many_entries")]
    assert codes(geofiles.parse_kmz(kmz({"files/doc.kml": kml([RECORD])}))) == [(0, "", "no_kml")]
    assert codes(geofiles.parse_kmz(b"PK\x03\x04 broken")) == [(0, "", "not_kmz")]
    assert codes(geofiles.parse_kmz(kml([RECORD]))) == [(0, "", "not_kmz")]


@pytest.mark.parametrize(
    "body, code",
    [
        (b"", "empty_file"),
        (b"{not json", "not_geojson"),
        (b'{"type": "Point", "coordinates": [1, 2]}', "not_geojson"),
        (b'{"type": "FeatureCollection", "features": {}}', "not_geojson"),
        (b'{"type": "FeatureCollection", "features": []}', "no_rows"),
        (b'{"type": "FeatureCollection", "features": [], "x": NaN}', "not_geojson"),
        (b"\xff\xfe{}", "not_utf8"),
    ],
)
def test_files_that_are_not_geojson_are_refused_as_a_whole(body, code):
    parsed = geofiles.parse_geojson(body)
    assert parsed.rows == [] and codes(parsed) == [(0, "", code)]


def test_not_kml_is_refused_as_a_whole():
    assert codes(geofiles.parse_kml(b"<html><body/></html>")) == [(0, "", "not_kml")]
    assert codes(geofiles.parse_kml(b"<kml><unclosed></kml>"))[0][2] == "not_kml"


def feature(properties, geometry=None):
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def collection(*features) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def test_bad_features_become_row_errors_and_only_clean_rows_remain():
    point = {"type": "Point", "coordinates": [106.5, 10.5]}
    parsed = geofiles.parse_geojson(
        collection(
            feature({"reference": "OK-1", "name": "Fine"}, point),
            feature({"reference": "BAD-1", "name": "Far"}, {"type": "Point", "coordinates": [200, 10.5]}),
            feature({"reference": "BAD-2", "name": "Area"}, {"type": "Polygon", "coordinates": []}),
            feature({"reference": "BAD-3", "name": "Text"}, {"type": "Point", "coordinates": ["a", "b"]}),
            feature({"name": "No reference"}, point),
            feature({"reference": "BAD-5", "name": "Fine", "technology": {"nested": 1}}, point),
            feature({}, None),
            feature({"reference": "OK-1", "name": "Twice"}, point),
            {"type": "Point"},
            feature(
                {"reference": "BAD-9", "name": "Precise"}, {"type": "Point", "coordinates": [1.1234567, 2]}
            ),
        )
    )
    assert [row.facts["reference"] for row in parsed.rows] == ["OK-1"]
    assert codes(parsed) == [
        (2, "longitude", "out_of_range"),
        (3, "latitude", "not_a_point"),
        (4, "latitude", "bad_coordinates"),
        (5, "reference", "required"),
        (6, "technology", "not_a_value"),
        (7, "", "empty_feature"),
        (8, "reference", "duplicate_reference_in_file"),
        (9, "", "not_a_feature"),
        (10, "longitude", "too_many_decimals"),
    ]


def test_unknown_properties_are_reported_once_for_the_file_and_export_only_ones_are_skipped():
    point = {"type": "Point", "coordinates": [106.5, 10.5]}
    parsed = geofiles.parse_geojson(
        collection(
            feature({"reference": "A", "name": "A", "url": "/sites/1", "status": "x", "capcity_kw": 1}, point)
        )
    )
    assert codes(parsed) == [(0, "capcity_kw", "unknown_column")]
    assert "capacity_kw" in parsed.errors[0].message


def test_too_many_features_are_refused_before_reading_them():
    features = [feature({"reference": f"S-{i}", "name": "x"}) for i in range(geofiles.MAX_FEATURES + 1)]
    assert codes(geofiles.parse_geojson(collection(*features))) == [(0, "", "too_many_rows")]


decimals = st.decimals(allow_nan=False, allow_infinity=False, places=6)


@given(
    latitude=decimals.filter(lambda d: -90 <= d <= 90), longitude=decimals.filter(lambda d: -180 <= d <= 180)
)
def test_any_valid_point_reads_back_exactly(latitude, longitude):
    record = {"reference": "P-1", "name": "P", "latitude": latitude, "longitude": longitude}
    for parsed in (geofiles.parse_geojson(geojson([record])), geofiles.parse_kml(kml([record]))):
        assert parsed.errors == []
        (row,) = parsed.rows
        assert (row.facts["latitude"], row.facts["longitude"]) == (latitude, longitude)


@given(
    latitude=st.one_of(
        st.decimals(min_value=Decimal("90.000001"), max_value=10**6, places=6),
        st.decimals(min_value=-(10**6), max_value=Decimal("-90.000001"), places=6),
    ),
    longitude=st.decimals(min_value=-180, max_value=180, places=6),
)
def test_a_point_off_the_globe_is_a_row_error(latitude, longitude):
    body = collection()[:-2] + (
        b'{"type":"Feature","properties":{"reference":"X","name":"X"},"geometry":{"type":"Point","coordinates":['
        + format(longitude, "f").encode()
        + b","
        + format(latitude, "f").encode()
        + b"]}}]}"
    )
    parsed = geofiles.parse_geojson(body)
    assert parsed.rows == []
    assert codes(parsed) == [(1, "latitude", "out_of_range")]


def test_the_importer_columns_are_what_the_export_writes():
    assert set(EXPECTED_FACTS) - {"meters"} <= set(importer.TEMPLATE_COLUMNS)
    assert geofiles.EXPORT_ONLY.isdisjoint(importer.TEMPLATE_COLUMNS)
