from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum

import pytest

from poa_manager.audit import chain

T0 = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)


def _chain(count: int) -> list[chain.ChainRow]:
    rows, previous = [], chain.GENESIS_HASH
    for seq in range(1, count + 1):
        row = chain.ChainRow(
            seq=seq,
            occurred_at=T0 + timedelta(seconds=seq),
            actor_id=7,
            actor_label="ana@example.org",
            action="site.included",
            entity_type="site",
            entity_id=str(seq),
            data=chain.canonical_data({"after": {"capacity_kw": Decimal("250.125")}}),
            prev_hash=previous,
        )
        row = replace(row, hash=chain.chain_hash(previous, row))
        rows.append(row)
        previous = row.hash
    return rows


def test_intact_chain_verifies_every_row():
    report = chain.verify(_chain(5))
    assert report.intact and report.rows_checked == 5


@pytest.mark.parametrize("k", [1, 3, 5])
def test_changed_data_is_reported_at_the_changed_row(k):
    rows = _chain(5)
    rows[k - 1] = replace(rows[k - 1], data={"after": {"capacity_kw": "999"}})
    report = chain.verify(rows)
    assert report.first_bad_seq == k
    assert "does not match" in report.reason


def test_deleted_row_is_reported_where_the_gap_is():
    rows = _chain(5)
    del rows[2]
    assert chain.verify(rows).first_bad_seq == 4


def test_rehashed_forgery_breaks_the_link_of_the_next_row():
    rows = _chain(4)
    forged = replace(rows[1], actor_label="mallory@example.org")
    rows[1] = replace(forged, hash=chain.chain_hash(forged.prev_hash, forged))
    assert chain.verify(rows).first_bad_seq == 3


def test_canonical_encoding_ignores_key_order_and_time_zone_spelling():
    ict = timezone(timedelta(hours=7))
    a = chain.ChainRow(1, T0, None, "system", "x", "y", None, {"b": 1, "a": Decimal("1.50")}, "0")
    b = chain.ChainRow(
        1, T0.astimezone(ict), None, "system", "x", "y", None, {"a": Decimal("1.50"), "b": 1}, "0"
    )
    assert chain.canonical(a) == chain.canonical(b)


def test_decimals_dates_and_enums_are_kept_exactly_as_text():
    class Status(StrEnum):
        included = "included"

    data = chain.canonical_data({"er": Decimal("0.10"), "on": date(2025, 3, 1), "status": Status.included})
    assert data == {"er": "0.10", "on": "2025-03-01", "status": "included"}


def test_floats_are_kept_as_their_exact_repr_and_naive_times_and_nan_are_refused():
    assert chain.canonical_data({"coordinates": [106.0, 10.123456789]}) == {
        "coordinates": ["106.0", "10.123456789"]
    }
    with pytest.raises(ValueError):
        chain.canonical_data({"x": float("nan")})
    with pytest.raises(ValueError):
        chain.canonical_data({"at": datetime(2026, 1, 1)})
