import math
import random
from decimal import Decimal

import pytest

from poa_manager.geo import (
    EARTH_RADIUS_M,
    METRES_PER_DEGREE,
    Point,
    ProximityIndex,
    contains,
    distance_m,
    validate_boundary,
)


def P(lat: str, lon: str) -> Point:
    return Point(Decimal(lat), Decimal(lon))


def _square(west: float, south: float, east: float, north: float) -> list[list[float]]:
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


# Outer square 0..10 with a hole 4..6 (GeoJSON order is [lon, lat]).
SQUARE_WITH_HOLE = {"type": "Polygon", "coordinates": [_square(0, 0, 10, 10), _square(4, 4, 6, 6)]}
TWO_ISLANDS = {
    "type": "MultiPolygon",
    "coordinates": [[_square(0, 0, 2, 2)], [_square(5, 5, 8, 8), _square(6, 6, 7, 7)]],
}
TRIANGLE = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [0, 10], [0, 0]]]}
WIDE_STRIP = {"type": "Polygon", "coordinates": [_square(0, 0, 50, 10)]}  # 50° of longitude, 10° of latitude


# --- Point --------------------------------------------------------------------------------------


def test_point_converts_strings_and_ints_to_decimal():
    point = Point("10.8231", 106)
    assert point.lat == Decimal("10.8231") and point.lon == Decimal("106")
    assert isinstance(point.lon, Decimal)


@pytest.mark.parametrize(
    ("lat", "lon", "error"),
    [
        (Decimal("90.0001"), Decimal("0"), ValueError),
        (Decimal("-91"), Decimal("0"), ValueError),
        (Decimal("0"), Decimal("180.5"), ValueError),
        (Decimal("0"), Decimal("-181"), ValueError),
        ("NaN", "0", ValueError),
        ("north", "0", ValueError),
        (10.5, Decimal("0"), TypeError),  # floats are refused: coordinates are measured values
        (True, Decimal("0"), TypeError),
    ],
)
def test_point_rejects_out_of_range_or_non_decimal_coordinates(lat, lon, error):
    with pytest.raises(error):
        Point(lat, lon)


@pytest.mark.parametrize(("lat", "lon"), [("90", "180"), ("-90", "-180"), ("0", "0")])
def test_point_accepts_the_limits(lat, lon):
    assert P(lat, lon).lat == Decimal(lat)


# --- Boundary validation ------------------------------------------------------------------------


@pytest.mark.parametrize("boundary", [SQUARE_WITH_HOLE, TWO_ISLANDS, TRIANGLE, WIDE_STRIP])
def test_valid_boundaries_have_no_problems(boundary):
    assert validate_boundary(boundary) == []


def test_three_dimensional_positions_are_accepted():
    ring = [[0, 0, 12.5], [1, 0, 12.5], [1, 1, 12.5], [0, 0, 12.5]]
    assert validate_boundary({"type": "Polygon", "coordinates": [ring]}) == []


@pytest.mark.parametrize(
    ("boundary", "expected"),
    [
        (None, "must be a GeoJSON object"),
        ([[0, 0]], "must be a GeoJSON object"),
        ({"type": "Point", "coordinates": [0, 0]}, "Polygon or MultiPolygon, not 'Point'"),
        ({"type": "Polygon"}, "non-empty list of rings"),
        ({"type": "Polygon", "coordinates": []}, "non-empty list of rings"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "is not closed"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}, "has 3 positions"),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 95], [0, 0]]]},
            "position 3 is out of range",
        ),
        ({"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [1, 1], [0, 0]]]}, "longitude 200"),
        ({"type": "Polygon", "coordinates": [[[0, 0], ["1", 0], [1, 1], [0, 0]]]}, "not a number"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1], [1, 1], [0, 0]]]}, "not a [longitude, latitude]"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, math.nan], [0, 0]]]}, "out of range"),
        ({"type": "MultiPolygon", "coordinates": []}, "non-empty list of polygons"),
        (
            {"type": "Polygon", "coordinates": [_square(0, 0, 10, 10), [[4, 4], [6, 4], [6, 6], [4, 5]]]},
            "Ring 2 (hole 1) is not closed",
        ),
        (
            {"type": "MultiPolygon", "coordinates": [[_square(0, 0, 1, 1)], [[[0, 0], [1, 0], [0, 0]]]]},
            "Polygon 2, ring 1 (outer) has 3 positions",
        ),
    ],
)
def test_boundary_problems_are_named(boundary, expected):
    problems = validate_boundary(boundary)
    assert any(expected in problem for problem in problems), problems


def test_many_bad_positions_in_one_ring_give_one_line_with_a_count():
    ring = [[0, 0], [999, 0], [999, 1], [999, 2], [0, 0]]
    problems = validate_boundary({"type": "Polygon", "coordinates": [ring]})
    assert problems == [
        "Ring 1 (outer): position 2 is out of range (longitude 999, latitude 0; GeoJSON order is [lon, lat]) "
        "(3 bad positions in all)"
    ]


# --- Containment --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("boundary", "lat", "lon", "inside"),
    [
        (SQUARE_WITH_HOLE, "2", "2", True),
        (SQUARE_WITH_HOLE, "5", "5", False),  # in the hole
        (SQUARE_WITH_HOLE, "5", "11", False),
        (SQUARE_WITH_HOLE, "-0.0001", "5", False),
        (SQUARE_WITH_HOLE, "5", "0", True),  # on the outer edge
        (SQUARE_WITH_HOLE, "0", "0", True),  # on a vertex
        (SQUARE_WITH_HOLE, "10", "10", True),
        (SQUARE_WITH_HOLE, "5", "4", True),  # on the hole's edge: still the polygon's boundary
        (SQUARE_WITH_HOLE, "4.0001", "4.0001", False),
        (SQUARE_WITH_HOLE, "3.9999", "5", True),
        (TWO_ISLANDS, "1", "1", True),
        (TWO_ISLANDS, "3", "3", False),  # between the islands
        (TWO_ISLANDS, "5.5", "7.5", True),  # second island
        (TWO_ISLANDS, "6.5", "6.5", False),  # the second island's hole
        (TRIANGLE, "5", "5", True),  # on the hypotenuse
        (TRIANGLE, "6.7", "3.3", True),  # on the hypotenuse although 3.3 and 6.7 are not exact floats
        (TRIANGLE, "5.01", "5", False),
        (WIDE_STRIP, "5", "40", True),
        (WIDE_STRIP, "40", "5", False),  # the same numbers in (lat, lon) order: GeoJSON is [lon, lat]
    ],
)
def test_contains(boundary, lat, lon, inside):
    assert contains(boundary, P(lat, lon)) is inside


def test_contains_refuses_an_invalid_boundary():
    with pytest.raises(ValueError, match="is not closed"):
        contains({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, P("0.5", "0.5"))


# --- Distance -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected_m"),
    [
        (P("0", "0"), P("1", "0"), Decimal("111195.08")),  # one degree of latitude: 2πR / 360
        (P("10", "106"), P("11", "106"), Decimal("111195.08")),
        (P("0", "0"), P("0", "1"), Decimal("111195.08")),  # one degree of longitude on the equator
        (P("60", "0"), P("60", "1"), Decimal("55597.01")),  # 2R·asin(cos 60° · sin 0.5°)
        (P("0", "179.5"), P("0", "-179.5"), Decimal("111195.08")),  # across the antimeridian
        (P("0", "0"), P("90", "0"), Decimal("10007557.22")),  # a quarter meridian
        (P("0", "0"), P("0", "180"), Decimal("20015114.44")),  # half the circumference
        (P("10.5", "106.5"), P("10.5", "106.5"), Decimal("0")),
    ],
)
def test_distance_m_matches_known_values(a, b, expected_m):
    assert abs(distance_m(a, b) - expected_m) < Decimal("0.05")
    assert distance_m(a, b) == distance_m(b, a)


def test_distance_is_a_decimal_to_the_millimetre():
    metres = distance_m(P("10", "106"), P("10.001", "106.001"))
    assert isinstance(metres, Decimal) and metres.as_tuple().exponent == -3


def test_one_degree_of_latitude_is_about_111_195_m():
    assert round(distance_m(P("45", "7"), P("46", "7"))) == 111195
    assert EARTH_RADIUS_M == 6_371_008.8


# --- Proximity index ----------------------------------------------------------------------------


def _random_sites(rng: random.Random, count: int, lat: float, lon: float, spread_deg: float):
    sites = []
    for index in range(count):
        site_lat = min(90.0, max(-90.0, lat + rng.uniform(-spread_deg, spread_deg)))
        site_lon = (lon + rng.uniform(-spread_deg, spread_deg) + 180) % 360 - 180  # wrap at ±180
        point = Point(Decimal(f"{site_lat:.6f}"), Decimal(f"{site_lon:.6f}"))
        sites.append((f"S{index}", point, rng.choice(["solar_pv", "hydro", "biogas"])))
    return sites


def _brute_force(sites, point, technology, radius_m):
    found = [
        (distance_m(point, site_point), order, key)
        for order, (key, site_point, site_technology) in enumerate(sites)
        if site_technology == technology and distance_m(point, site_point) <= radius_m
    ]
    return [(key, metres) for metres, _, key in sorted(found)]


@pytest.mark.parametrize(
    ("seed", "lat", "lon", "spread_deg", "radius_m"),
    [
        (20250301, 10.8, 106.7, 0.05, Decimal("750")),  # Ho Chi Minh City area
        (7, 69.6, 18.9, 0.2, Decimal("2000")),  # Tromsø: longitude cells are narrow in metres
        (11, -33.9, 151.2, 0.01, Decimal("100")),
        (3, 0.0, 180.0, 0.02, Decimal("1500")),  # straddles the antimeridian
        (5, 89.9, 0.0, 0.05, Decimal("5000")),  # around the north pole
    ],
)
def test_proximity_index_finds_exactly_what_a_full_scan_finds(seed, lat, lon, spread_deg, radius_m):
    rng = random.Random(seed)
    sites = _random_sites(rng, 400, lat, lon, spread_deg)
    index = ProximityIndex(radius_m)
    for key, point, technology in sites:
        index.add(key, point, technology)
    queries = [point for _, point, _ in sites[:40]] + [
        point for _, point, _ in _random_sites(rng, 40, lat, lon, spread_deg)
    ]
    non_empty = 0
    for query in queries:
        for technology in ("solar_pv", "hydro", "wind"):
            expected = _brute_force(sites, query, technology, radius_m)
            assert index.near(query, technology) == expected
            non_empty += bool(expected)
    assert non_empty > 20  # the comparison is not vacuous


def test_proximity_index_sees_across_cell_borders():
    index = ProximityIndex(1000)
    cell_deg = 1000 / METRES_PER_DEGREE  # cells are one radius tall
    border = math.ceil(100 / cell_deg) * cell_deg - 90  # a row border just north of latitude 10
    query = Point(Decimal(f"{border - 0.0001:.7f}"), Decimal("106"))
    index.add("north", Point(Decimal(f"{border + 0.0080:.7f}"), Decimal("106")), "solar_pv")
    index.add("south", Point(Decimal(f"{border - 0.0085:.7f}"), Decimal("106")), "solar_pv")
    index.add("east", Point(query.lat, Decimal("106.0090")), "solar_pv")
    index.add("too-far", Point(Decimal(f"{border + 0.0090:.7f}"), Decimal("106")), "solar_pv")
    found = index.near(query, "solar_pv")
    assert [key for key, _ in found] == ["north", "south", "east"]  # about 901, 934 and 985 m
    assert all(metres <= 1000 for _, metres in found)


def test_proximity_index_returns_only_the_same_technology_sorted_by_distance():
    index = ProximityIndex(Decimal("500"))
    index.add("far", P("10.0040", "106"), "solar_pv")
    index.add("near", P("10.0010", "106"), "solar_pv")
    index.add("hydro", P("10.0001", "106"), "hydro")
    result = index.near(P("10", "106"), "solar_pv")
    assert [key for key, _ in result] == ["near", "far"]
    assert result[0][1] == distance_m(P("10", "106"), P("10.0010", "106"))
    assert index.near(P("10", "106"), "wind") == []


def test_proximity_index_can_leave_out_the_site_itself():
    index = ProximityIndex(100)
    index.add(1, P("10", "106"), "solar_pv")
    index.add(2, P("10.0005", "106"), "solar_pv")
    assert index.near(P("10", "106"), "solar_pv", exclude=1) == [
        (2, distance_m(P("10", "106"), P("10.0005", "106")))
    ]
    assert len(index) == 2


def test_proximity_index_near_the_antimeridian_and_the_poles_does_not_crash():
    index = ProximityIndex(1000)
    index.add("east", P("0", "179.9990"), "solar_pv")
    index.add("west", P("0", "-179.9990"), "solar_pv")
    index.add("pole", P("90", "0"), "solar_pv")
    index.add("other-side", P("89.9990", "180"), "solar_pv")
    assert [key for key, _ in index.near(P("0", "180"), "solar_pv")] == ["east", "west"]
    assert {key for key, _ in index.near(P("89.9995", "-90"), "solar_pv")} == {"pole", "other-side"}


def test_a_radius_larger_than_the_earth_finds_every_site_of_the_technology():
    index = ProximityIndex(30_000_000)
    index.add("a", P("-80", "-170"), "solar_pv")
    index.add("b", P("80", "10"), "solar_pv")
    assert {key for key, _ in index.near(P("0", "0"), "solar_pv")} == {"a", "b"}


def test_proximity_index_rejects_a_duplicate_key_and_a_bad_radius():
    index = ProximityIndex(100)
    index.add("a", P("0", "0"), "solar_pv")
    with pytest.raises(ValueError, match="already in the index"):
        index.add("a", P("1", "1"), "solar_pv")
    for radius in (0, -5, "abc"):
        with pytest.raises(ValueError):
            ProximityIndex(radius)
