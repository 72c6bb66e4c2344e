"""Points, GeoJSON boundaries, great-circle distances and a grid index of nearby sites. Pure Python.

Shared by programmes (their boundary) and sites (location checks, the double-counting guard).
"""

import math
import re
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius, the usual haversine constant
METRES_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180  # along a meridian, about 111 195 m
# A point this close to a ring's edge (about 0.1 mm) counts as on it, so that a point typed in
# decimal notation on a vertex or edge is inside despite the float rounding of the ring.
EDGE_TOLERANCE_DEG = 1e-9
_MILLIMETRE = Decimal("0.001")

Ring = list[tuple[float, float]]  # (lon, lat) pairs, first == last


def _as_decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{name} must be a Decimal, int or str, not {type(value).__name__}")
    try:
        number = Decimal(value)
    except (ArithmeticError, TypeError, ValueError):
        raise ValueError(f"{name} {value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{name} must be a finite number")
    return number


@dataclass(frozen=True)
class Point:
    """A WGS 84 position in decimal degrees; ints and numeric strings are converted to Decimal."""

    lat: Decimal
    lon: Decimal

    def __post_init__(self) -> None:
        lat, lon = _as_decimal(self.lat, "latitude"), _as_decimal(self.lon, "longitude")
        if not -90 <= lat <= 90:
            raise ValueError(f"latitude {lat} is outside -90..90")
        if not -180 <= lon <= 180:
            raise ValueError(f"longitude {lon} is outside -180..180")
        object.__setattr__(self, "lat", lat)
        object.__setattr__(self, "lon", lon)

    def __str__(self) -> str:
        return f"({self.lat}, {self.lon})"


# --- GeoJSON boundaries -------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _position_problem(position: Any) -> str | None:
    if not isinstance(position, Sequence) or isinstance(position, str) or len(position) < 2:
        return "is not a [longitude, latitude] pair"
    if not all(_is_number(part) for part in position):
        return "holds a value that is not a number"
    lon, lat = position[0], position[1]
    # Comparisons with NaN are false, so NaN and infinities are reported as out of range too.
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return f"is out of range (longitude {lon}, latitude {lat}; GeoJSON order is [lon, lat])"
    return None


def _ring_problems(ring: Any, label: str) -> list[str]:
    if not isinstance(ring, Sequence) or isinstance(ring, str):
        return [f"{label} is not a list of positions"]
    problems = []
    if len(ring) < 4:
        problems.append(f"{label} has {len(ring)} positions; a closed ring needs at least 4")
    # Report only the first bad position of a ring, with a count, so a broken import stays readable.
    checked = ((index, _position_problem(position)) for index, position in enumerate(ring, 1))
    bad = [(index, problem) for index, problem in checked if problem]
    if bad:
        index, problem = bad[0]
        more = f" ({len(bad)} bad positions in all)" if len(bad) > 1 else ""
        problems.append(f"{label}: position {index} {problem}{more}")
    elif len(ring) >= 2 and [float(v) for v in ring[0]] != [float(v) for v in ring[-1]]:
        problems.append(f"{label} is not closed: its first and last positions differ")
    return problems


def _polygon_problems(polygon: Any, prefix: str) -> list[str]:
    if not isinstance(polygon, Sequence) or isinstance(polygon, str) or not polygon:
        return [f"{prefix}coordinates must be a non-empty list of rings"]
    problems = []
    for index, ring in enumerate(polygon, 1):
        label = f"{prefix}ring {index} ({'outer' if index == 1 else f'hole {index - 1}'})"
        problems.extend(_ring_problems(ring, label))
    return problems


def validate_boundary(geojson: Any) -> list[str]:
    """Problems that stop a GeoJSON Polygon or MultiPolygon from being used as a boundary; [] if none."""
    if not isinstance(geojson, Mapping):
        return ["The boundary must be a GeoJSON object of type Polygon or MultiPolygon"]
    kind, coordinates = geojson.get("type"), geojson.get("coordinates")
    if kind == "Polygon":
        problems = _polygon_problems(coordinates, "")
    elif kind != "MultiPolygon":
        problems = [f"the boundary type must be Polygon or MultiPolygon, not {kind!r}"]
    elif not isinstance(coordinates, Sequence) or isinstance(coordinates, str) or not coordinates:
        problems = ["MultiPolygon coordinates must be a non-empty list of polygons"]
    else:
        problems = []
        for index, polygon in enumerate(coordinates, 1):
            problems.extend(_polygon_problems(polygon, f"polygon {index}, "))
    return [problem[0].upper() + problem[1:] for problem in problems]


def _polygons(geojson: Mapping[str, Any]) -> Iterator[list[Ring]]:
    problems = validate_boundary(geojson)
    if problems:
        raise ValueError("invalid boundary: " + "; ".join(problems))
    polygons = [geojson["coordinates"]] if geojson["type"] == "Polygon" else geojson["coordinates"]
    for polygon in polygons:
        yield [[(float(position[0]), float(position[1])) for position in ring] for ring in polygon]


def _on_segment(x: float, y: float, a: tuple[float, float], b: tuple[float, float]) -> bool:
    (ax, ay), (bx, by) = a, b
    if not (min(ax, bx) - EDGE_TOLERANCE_DEG <= x <= max(ax, bx) + EDGE_TOLERANCE_DEG):
        return False
    if not (min(ay, by) - EDGE_TOLERANCE_DEG <= y <= max(ay, by) + EDGE_TOLERANCE_DEG):
        return False
    length = math.hypot(bx - ax, by - ay)
    if length == 0:
        return math.hypot(x - ax, y - ay) <= EDGE_TOLERANCE_DEG
    return abs((bx - ax) * (y - ay) - (by - ay) * (x - ax)) / length <= EDGE_TOLERANCE_DEG


def _edges(ring: Ring) -> Iterator[tuple[tuple[float, float], tuple[float, float]]]:
    return zip(ring, ring[1:], strict=False)


def _in_polygon(x: float, y: float, rings: list[Ring]) -> bool:
    # A hole's edge is still the polygon's boundary, so it counts as inside like the outer edge.
    if any(_on_segment(x, y, a, b) for ring in rings for a, b in _edges(ring)):
        return True
    # Even-odd rule over the outer ring and its holes together: a point in a hole crosses twice.
    inside = False
    for ring in rings:
        for (ax, ay), (bx, by) in _edges(ring):
            if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
                inside = not inside
    return inside


def contains(boundary: Mapping[str, Any], point: Point) -> bool:
    """Whether a Polygon or MultiPolygon contains the point, edges included. Raises ValueError if invalid.

    Planar test on [lon, lat]: rings crossing the antimeridian must be split, as RFC 7946 §3.1.9 asks.
    """
    x, y = float(point.lon), float(point.lat)
    return any(_in_polygon(x, y, rings) for rings in _polygons(boundary))


# --- Distances and the proximity index ----------------------------------------------------------


def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi, half_dlambda = math.radians(lat2 - lat1) / 2, math.radians(lon2 - lon1) / 2
    h = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def distance_m(a: Point, b: Point) -> Decimal:
    """Great-circle (haversine) distance in metres, to the millimetre."""
    metres = _haversine_m(float(a.lat), float(a.lon), float(b.lat), float(b.lon))
    return Decimal(repr(metres)).quantize(_MILLIMETRE)


@dataclass(frozen=True)
class _Entry:
    key: Hashable
    point: Point
    order: int


class ProximityIndex:
    """Sites of each technology on a lat/lon grid, so a search for neighbours within R metres reads
    only the cells around the point instead of every site (quality.md A1 row 13, domain.md §1.4 b).

    Cells are radius_m tall; each row of cells wraps round the antimeridian, and near the poles a
    search reads the whole row.
    """

    def __init__(self, radius_m: Decimal | int | str) -> None:
        self.radius_m = _as_decimal(radius_m, "radius_m")
        if self.radius_m <= 0:
            raise ValueError("radius_m must be positive")
        self._radius_rad = float(self.radius_m) / EARTH_RADIUS_M
        self._cell_deg = math.degrees(self._radius_rad)
        self._lon_cells = max(1, math.floor(360 / self._cell_deg))
        self._lon_width = 360 / self._lon_cells
        self._grids: dict[str, dict[int, dict[int, list[_Entry]]]] = {}
        self._keys: set[Hashable] = set()

    def __len__(self) -> int:
        return len(self._keys)

    def _row(self, lat: float) -> int:
        return math.floor((lat + 90) / self._cell_deg)

    def _column(self, lon: float) -> int:
        return math.floor((lon + 180) / self._lon_width) % self._lon_cells

    def add(self, key: Hashable, point: Point, technology: str) -> None:
        """Index a site. Raises ValueError if the key is already indexed."""
        if key in self._keys:
            raise ValueError(f"{key!r} is already in the index")
        self._keys.add(key)
        row = self._grids.setdefault(technology, {}).setdefault(self._row(float(point.lat)), {})
        row.setdefault(self._column(float(point.lon)), []).append(_Entry(key, point, len(self._keys)))

    def _columns(self, lat: float, lon: float, reach_deg: float) -> set[int] | None:
        """Columns a search must read, or None for the whole row (a pole or half the globe in reach)."""
        if abs(lat) + reach_deg >= 90 or self._radius_rad >= math.pi / 2:
            return None
        # Widest longitude span of a spherical cap of angular radius r centred at latitude φ:
        # Δλ = asin(sin r / cos φ).
        ratio = math.sin(math.radians(reach_deg)) / math.cos(math.radians(lat))
        if ratio >= 1:
            return None
        span = math.degrees(math.asin(ratio))
        first = math.floor((lon - span + 180) / self._lon_width)
        last = math.floor((lon + span + 180) / self._lon_width)
        if last - first + 1 >= self._lon_cells:
            return None
        return {column % self._lon_cells for column in range(first, last + 1)}

    def _candidates(self, grid: dict[int, dict[int, list[_Entry]]], point: Point) -> Iterator[_Entry]:
        lat, lon = float(point.lat), float(point.lon)
        # A small margin so that float rounding never leaves out a site exactly at the radius.
        reach_deg = self._cell_deg * (1 + 1e-6) + 1e-9
        columns = self._columns(lat, lon, reach_deg)
        for row_index in range(self._row(lat - reach_deg), self._row(lat + reach_deg) + 1):
            row = grid.get(row_index)
            if not row:
                continue
            if columns is None or len(columns) > len(row):
                cells = (cell for column, cell in row.items() if columns is None or column in columns)
            else:
                cells = (row[column] for column in columns if column in row)
            for cell in cells:
                yield from cell

    def near(
        self, point: Point, technology: str, *, exclude: Hashable | None = None
    ) -> list[tuple[Hashable, Decimal]]:
        """(key, distance_m) of the indexed sites of this technology within the radius, nearest first."""
        found = []
        for entry in self._candidates(self._grids.get(technology, {}), point):
            if entry.key == exclude:
                continue
            metres = distance_m(point, entry.point)
            if metres <= self.radius_m:
                found.append((metres, entry.order, entry.key))
        return [(key, metres) for metres, _, key in sorted(found, key=lambda item: item[:2])]


AREA_CODE = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")  # ISO 3166-1 country or ISO 3166-2 subdivision


def boundary_problems(boundary: Mapping[str, Any]) -> list[str]:
    """Problems with a programme boundary: {"geojson": Polygon | MultiPolygon} or {"codes": [...]}."""
    if set(boundary) == {"geojson"}:
        return validate_boundary(boundary["geojson"])
    if set(boundary) == {"codes"}:
        codes = boundary["codes"]
        if not isinstance(codes, list) or not codes:
            return ["List at least one country or province code."]
        bad = [str(code) for code in codes if not (isinstance(code, str) and AREA_CODE.match(code))]
        return [f"Not an ISO 3166 code: {', '.join(bad)} (write VN or VN-57)."] if bad else []
    return ['Give either {"geojson": …} or {"codes": […]}.']
