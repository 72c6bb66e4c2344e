"""Serial blocks, domain.md §5.3, §5.5 and §6.3: ranges, the split rule, rounding, apportioning, serials."""

import math
import re
from decimal import Decimal
from fractions import Fraction
from itertools import combinations, pairwise

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from poa_manager.programmes.rules import Mechanism
from poa_manager.registry import serials as ser
from poa_manager.registry.serials import SerialPrefix, SerialRange

D = Decimal
R = SerialRange
PREFIX = SerialPrefix("JCM", "VN", "VN-JCM-PoA-001", "CPA-0001", 2025)


# --- Serial ranges (domain.md §6.3) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "quantity"),
    [
        (1, 1, 1),
        (1, 150, 150),  # inclusive ends: end − start + 1
        (608, 30350, 29743),  # the Gold Standard example of §6.3
        (513004457, 513073958, 69502),  # the Verra example of §6.3
        (10**12, 10**12 + 9, 10),
    ],
)
def test_quantity_counts_both_ends(start, end, quantity):
    assert R(start, end).quantity == quantity


@pytest.mark.parametrize(
    ("start", "end", "error", "message"),
    [
        (0, 5, ValueError, "start at 1, not 0"),
        (-3, 5, ValueError, "start at 1, not -3"),
        (5, 4, ValueError, "5–4 ends before it starts"),
        (D(1), 5, TypeError, "must be an int, not Decimal"),
        (1, 5.0, TypeError, "must be an int, not float"),
        (True, 5, TypeError, "must be an int, not bool"),
    ],
)
def test_a_serial_range_rejects_impossible_blocks(start, end, error, message):
    with pytest.raises(error, match=message):
        R(start, end)


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        # quality.md A1 #2: the UNDP generator's README example seems to give programme 3 the
        # block 37–41 and programme 5 the block 41–55, so unit 41 is issued twice.
        (R(37, 41), R(41, 55), True),
        (R(37, 41), R(42, 56), False),  # what allocate gives: adjacent, not overlapping
        (R(1, 10), R(3, 4), True),  # one inside the other
        (R(5, 5), R(5, 5), True),
        (R(1, 1), R(2, 2), False),
        (R(1, 100), R(100, 100), True),
        (R(1, 100), R(101, 200), False),
    ],
)
def test_overlaps_sees_a_shared_serial_number_either_way_round(a, b, overlap):
    assert a.overlaps(b) is overlap
    assert b.overlaps(a) is overlap


def test_the_undp_slip_double_counts_unit_41():
    programme_3, programme_5 = R(37, 41), R(41, 55)
    assert programme_3.contains(41) and programme_5.contains(41)
    assert programme_3.quantity + programme_5.quantity == 20  # but only 19 numbers: 37–55
    assert programme_5.start - programme_3.end != 1  # the next block must start at end + 1


@pytest.mark.parametrize(
    ("block", "other", "inside"),
    [
        (R(10, 20), 10, True),
        (R(10, 20), 20, True),  # the end is included
        (R(10, 20), 9, False),
        (R(10, 20), 21, False),
        (R(10, 20), R(10, 20), True),
        (R(10, 20), R(12, 15), True),
        (R(10, 20), R(15, 21), False),
        (R(10, 20), R(1, 9), False),
        (R(12, 15), R(10, 20), False),
    ],
)
def test_contains_a_number_or_a_whole_block(block, other, inside):
    assert block.contains(other) is inside


def test_contains_and_overlaps_refuse_other_types():
    with pytest.raises(TypeError):
        R(1, 5).contains(D(3))
    with pytest.raises(TypeError):
        R(1, 5).overlaps((1, 5))


def test_a_block_reads_start_to_end_and_orders_by_start():
    assert str(R(37, 41)) == "37–41"
    assert str(R(42, 42)) == "42–42"
    assert sorted([R(42, 56), R(1, 36), R(37, 41)]) == [R(1, 36), R(37, 41), R(42, 56)]
    assert R(1, 5) < R(1, 6) < R(2, 2)


# --- The split rule (domain.md §5.5) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "quantity", "kept", "moved"),
    [
        (R(1, 150), 50, R(1, 100), R(101, 150)),  # the owner keeps the FIRST sub-block
        (R(1, 150), 1, R(1, 149), R(150, 150)),
        (R(1, 150), 149, R(1, 1), R(2, 150)),
        (R(1, 150), 150, None, R(1, 150)),  # the whole block moves
        (R(42, 42), 1, None, R(42, 42)),
        (R(608, 30350), 29000, R(608, 1350), R(1351, 30350)),
    ],
)
def test_split_off_moves_the_last_sub_block(block, quantity, kept, moved):
    assert ser.split_off(block, quantity) == (kept, moved)


@pytest.mark.parametrize("quantity", [0, -1, 151])
def test_split_off_needs_between_one_and_all_credits(quantity):
    with pytest.raises(ValueError, match=f"cannot split {quantity} credits off block 1–150 of 150"):
        ser.split_off(R(1, 150), quantity)


def test_split_off_takes_whole_credits_only():
    with pytest.raises(TypeError):
        ser.split_off(R(1, 150), D("50"))


# --- Allocation (domain.md §6.3) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("next_serial", "quantities", "blocks"),
    [
        (1, [150], [R(1, 150)]),
        (1, [100, 30, 20], [R(1, 100), R(101, 130), R(131, 150)]),
        (37, [5, 15], [R(37, 41), R(42, 56)]),  # the UNDP example done right
        (151, [1, 1, 1], [R(151, 151), R(152, 152), R(153, 153)]),
        (10**12, [2], [R(10**12, 10**12 + 1)]),
        (5, [], []),
    ],
)
def test_allocate_hands_out_contiguous_blocks_in_order(next_serial, quantities, blocks):
    assert ser.allocate(next_serial, quantities) == blocks


@pytest.mark.parametrize(
    ("next_serial", "quantities", "message"),
    [
        (0, [5], "start at 1, not 0"),
        (1, [5, 0, 3], "quantity #1 is 0"),  # callers leave site lines without credits out
        (1, [-2], "quantity #0 is -2"),
    ],
)
def test_allocate_rejects_impossible_requests(next_serial, quantities, message):
    with pytest.raises(ValueError, match=message):
        ser.allocate(next_serial, quantities)


def test_allocate_takes_whole_credits_only():
    with pytest.raises(TypeError, match="quantity #0 must be an int, not Decimal"):
        ser.allocate(1, [D("5")])


# --- Whole credits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tco2e", "credits"),
    [
        (D("150.999"), 150),  # always down, however close to the next tonne
        (D("150"), 150),
        (D("150.000"), 150),
        (D("0.999999"), 0),
        (D("0"), 0),
        (D("-0"), 0),
        (D("1E+3"), 1000),
        (D("128293.457"), 128293),
        (D("123456789012.5"), 123456789012),
        (12, 12),
        (0, 0),
    ],
)
def test_credits_are_verified_tonnes_rounded_down(tco2e, credits):
    result = ser.credits_from_tco2e(tco2e)
    assert result == credits and type(result) is int


@pytest.mark.parametrize(
    ("tco2e", "error", "message"),
    [
        (D("-0.001"), ValueError, "negative"),
        (-1, ValueError, "negative"),
        (D("NaN"), ValueError, "not a finite number"),
        (D("sNaN"), ValueError, "not a finite number"),
        (D("Infinity"), ValueError, "not a finite number"),
        (D("-Infinity"), ValueError, "not a finite number"),
        (150.5, TypeError, "not float"),
        ("150", TypeError, "not str"),
        (True, TypeError, "not bool"),
    ],
)
def test_credits_from_tco2e_refuses_what_is_not_a_verified_amount(tco2e, error, message):
    with pytest.raises(error, match=message):
        ser.credits_from_tco2e(tco2e)


# --- Apportioning whole credits ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        # An allocation table in percent (domain.md §4.4).
        (100, [D(50), D(30), D(20)], [50, 30, 20]),
        (1001, [D(50), D(30), D(20)], [501, 300, 200]),  # quotas 500.5/300.3/200.2: .5 wins
        (7, [D(50), D(50)], [4, 3]),  # a tie of remainders goes to the earlier line
        (7, [D("0.5"), D("0.5")], [4, 3]),  # shares as fractions give the same parts
        (10, [D(1), D(1), D(1)], [4, 3, 3]),  # 3⅓ each: the first line takes the spare credit
        (10, [1, 1, 1], [4, 3, 3]),  # ints are fine too
        (2, [D(1), D(1), D(1)], [1, 1, 0]),
        (10, [D(0), D(1), D(0)], [0, 10, 0]),
        (5, [D(0), D(3)], [0, 5]),
        (0, [D(1), D(2)], [0, 0]),
        (0, [D(0), D(0)], [0, 0]),
        (0, [], []),
        # A Japanese-government share of 50 % of 1 credit: rounding gives it to the first party.
        (1, [D(50), D(50)], [1, 0]),
        # 2/3 and 1/3 of 100 as 66.67/33.33 %: quotas 66.67 and 33.33 → 67 and 33.
        (100, [D("66.67"), D("33.33")], [67, 33]),
    ],
)
def test_apportion_worked_examples(total, weights, parts):
    assert ser.apportion(total, weights) == parts


def test_apportion_an_issuance_over_its_sites():
    # 128 293.457 tCO2e verified over three sites → 128 293 credits. Quotas 128293·w/128293.457:
    #   52 817.214 → 52 817.0259, 41 309.788 → 41 309.6408, 34 166.455 → 34 166.3333.
    # Integer parts sum to 128 292; the spare credit goes to the largest remainder, site 2.
    sites = [D("52817.214"), D("41309.788"), D("34166.455")]
    total = ser.credits_from_tco2e(sum(sites))
    assert total == 128293
    parts = ser.apportion(total, sites)
    assert parts == [52817, 41310, 34166]
    assert sum(parts) == total
    # Flooring each site on its own would drop the credit: 52817 + 41309 + 34166 = 128292.
    assert sum(ser.credits_from_tco2e(s) for s in sites) == 128292


@pytest.mark.parametrize(
    ("total", "weights", "error", "message"),
    [
        (10, [D(0), D(0)], ValueError, "every weight is zero"),
        (10, [], ValueError, "every weight is zero"),
        (-1, [D(1)], ValueError, "negative total"),
        (10, [D(1), D(-1)], ValueError, r"weight #1 \(-1\) is negative"),
        (10, [D("NaN")], ValueError, "not a finite number"),
        (10, [D("Infinity")], ValueError, "not a finite number"),
        (10, [0.5, 0.5], TypeError, "weight #0 must be a Decimal or an int, not float"),
        (D(10), [D(1)], TypeError, "must be an int, not Decimal"),
    ],
)
def test_apportion_rejects_what_it_cannot_split(total, weights, error, message):
    with pytest.raises(error, match=message):
        ser.apportion(total, weights)


# --- Readable block serials (domain.md §6.3) ----------------------------------------------------


def test_every_programme_mechanism_has_a_serial_code():
    assert set(ser.MECHANISM_CODES) == {m.value for m in Mechanism}
    assert ser.MECHANISM_CODES[Mechanism.jcm] == "JCM"
    for code in ser.MECHANISM_CODES.values():
        assert SerialPrefix(code, "VN", "P", "S", 2025).mechanism == code


def test_format_serial_of_the_worked_example():
    serial = ser.format_serial(PREFIX, R(1, 150))
    assert serial == "JCM.VN.VN-JCM-PoA-001.CPA-0001.2025.000000001-000000150"
    assert ser.parse_serial(serial) == (PREFIX, R(1, 150))


@pytest.mark.parametrize(
    ("programme", "site", "serial"),
    [
        ("PoA.1", "CPA 7", "CDM.VN.PoA%2E1.CPA%207.2025.000000001-000000150"),
        ("50%", "a_b-c", "CDM.VN.50%25.a_b-c.2025.000000001-000000150"),
        ("x~y/z", "Đà Nẵng", "CDM.VN.x%7Ey%2Fz.%C4%90%C3%A0%20N%E1%BA%B5ng.2025.000000001-000000150"),
        ("...", ".", "CDM.VN.%2E%2E%2E.%2E.2025.000000001-000000150"),
    ],
)
def test_references_are_percent_encoded_so_the_dots_stay_unambiguous(programme, site, serial):
    prefix = SerialPrefix("CDM", "VN", programme, site, 2025)
    assert ser.format_serial(prefix, R(1, 150)) == serial
    assert ser.parse_serial(serial) == (prefix, R(1, 150))


def test_long_serial_numbers_are_written_in_full():
    block = R(1234567890123, 1234567890200)
    serial = ser.format_serial(PREFIX, block)
    assert serial.endswith(".2025.1234567890123-1234567890200")
    assert ser.parse_serial(serial) == (PREFIX, block)


@pytest.mark.parametrize(
    ("text", "block"),
    [
        ("JCM.VN.VN-JCM-PoA-001.CPA-0001.2025.000000001-000000150", R(1, 150)),
        ("  JCM.VN.VN-JCM-PoA-001.CPA-0001.2025.1-150\n", R(1, 150)),  # whitespace, unpadded
        ("jcm.vn.VN-JCM-PoA-001.CPA-0001.2025.1-150", R(1, 150)),  # lower-case codes
        ("Jcm.Vn.VN-JCM-PoA-001.CPA-0001.2025.0001-00150", R(1, 150)),
        ("JCM.VN.VN-JCM-PoA-001.CPA-0001.2025.42", R(42, 42)),  # one serial number
        ("JCM.VN.VN-JCM-PoA-001.CPA-0001.2025.000000042", R(42, 42)),
        ("JCM.VN.VN%2dJCM-PoA-001.CPA%2D0001.2025.1-150", R(1, 150)),  # needless escapes
    ],
)
def test_parse_serial_accepts_loose_spellings_and_formats_them_canonically(text, block):
    prefix, parsed = ser.parse_serial(text)
    assert (prefix, parsed) == (PREFIX, block)
    assert ser.format_serial(prefix, parsed) == (
        f"JCM.VN.VN-JCM-PoA-001.CPA-0001.2025.{block.start:09d}-{block.end:09d}"
    )


def test_parse_serial_decodes_lower_case_escapes():
    prefix, _ = ser.parse_serial("CDM.VN.PoA%2e1.%c4%90.2025.7")
    assert (prefix.programme, prefix.site) == ("PoA.1", "Đ")
    assert ser.format_serial(prefix, R(7, 7)) == "CDM.VN.PoA%2E1.%C4%90.2025.000000007-000000007"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected 6 parts separated by dots"),
        ("   ", "found 1"),
        ("JCM.VN.P.S.2025", "found 5"),
        ("JCM.VN.P.S.x.2025.1-5", "found 7"),
        ("JCM.VN.PoA.1.S.2025.1-5", "found 7"),  # an unencoded dot
        ("JCM.VN.P.S.2025.abc", "'abc' is neither a serial number nor a range"),
        ("JCM.VN.P.S.2025.1-", "neither a serial number nor a range"),
        ("JCM.VN.P.S.2025.-5", "neither a serial number nor a range"),
        ("JCM.VN.P.S.2025.1-2-3", "neither a serial number nor a range"),
        ("JCM.VN.P.S.2025.1 - 5", "neither a serial number nor a range"),
        ("JCM.VN.P.S.2025.+5", "neither a serial number nor a range"),
        ("JCM.VN.P.S.2025.1_000", "neither a serial number nor a range"),
        ("JCM.VN.P.S.2025.١٢", "neither a serial number nor a range"),  # Arabic-Indic digits
        ("JCM.VN.P.S.2025.", "neither a serial number nor a range"),
        ("JCM.VN.P.S.2025.10-5", "10–5 ends before it starts"),
        ("JCM.VN.P.S.2025.0-5", "start at 1, not 0"),
        ("JCM.VN.P.S.2025.0", "start at 1, not 0"),
        ("JCM.VN.P.S.25.1-5", "vintage '25' is not four digits"),
        ("JCM.VN.P.S.20255.1-5", "vintage '20255' is not four digits"),
        ("JCM.VN.P.S.y2k.1-5", "vintage 'y2k' is not four digits"),
        ("JCM.VN.P.S.0999.1-5", "vintage 999 is not a four-digit year"),
        ("JCM.VN..S.2025.1-5", "the programme reference is empty"),
        ("JCM.VN.P..2025.1-5", "the site reference is empty"),
        ("JCM.VN.P S.S.2025.1-5", "programme reference 'P S' has characters other than"),
        ("JCM.VN.P.50%.2025.1-5", "site reference '50%' has characters other than"),
        ("JCM.VN.P.%zz.2025.1-5", "site reference '%zz' has characters other than"),
        ("JCM.VN.P.%FF.2025.1-5", "site reference '%FF' does not decode as UTF-8"),
        ("JCM.VNM.P.S.2025.1-5", "host country 'VNM' is not a two-letter ISO code"),
        ("JCM..P.S.2025.1-5", "host country '' is not a two-letter ISO code"),
        ("J-CM.VN.P.S.2025.1-5", "mechanism code 'J-CM' is not letters and digits"),
        ("6A.VN.P.S.2025.1-5", "mechanism code '6A' is not letters and digits"),
        (".VN.P.S.2025.1-5", "mechanism code '' is not letters and digits"),
    ],
)
def test_parse_serial_rejects_malformed_serials_with_a_clear_message(text, message):
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        ser.parse_serial(text)
    assert str(raised.value).startswith(f"malformed serial {text!r}: ")


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        (("JCM", "VN", "", "S", 2025), ValueError, "programme reference is empty"),
        (("JCM", "VN", "P", "", 2025), ValueError, "site reference is empty"),
        (("JCM", "VN", "P", 7, 2025), TypeError, "site reference must be a string"),
        (("JCM", "VNM", "P", "S", 2025), ValueError, "two-letter ISO code"),
        (("J.CM", "VN", "P", "S", 2025), ValueError, "not letters and digits"),
        (("ЈСМ", "VN", "P", "S", 2025), ValueError, "not letters and digits"),  # Cyrillic lookalikes
        (("JCM", "VN", "P", "S", 999), ValueError, "not a four-digit year"),
        (("JCM", "VN", "P", "S", 10000), ValueError, "not a four-digit year"),
        (("JCM", "VN", "P", "S", "2025"), TypeError, "vintage must be an int"),
    ],
)
def test_a_serial_prefix_rejects_what_cannot_be_written(fields, error, message):
    with pytest.raises(error, match=message):
        SerialPrefix(*fields)


def test_a_serial_prefix_stores_its_codes_upper_case():
    assert SerialPrefix("jcm", "vn", "VN-JCM-PoA-001", "CPA-0001", 2025) == PREFIX


# --- ITMO unique identifier (domain.md §5.3) -----------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "identifier"),
    [
        ({"serial": R(1, 150)}, "CA0001-JCMVN-VN-000000001-000000150-2025"),
        ({"serial": 42}, "CA0001-JCMVN-VN-000000042-2025"),
        ({"serial": R(42, 42)}, "CA0001-JCMVN-VN-000000042-000000042-2025"),
        ({"serial": 10**12}, "CA0001-JCMVN-VN-1000000000000-2025"),
        (
            {"serial": 1, "registry": "jcmvn", "first_transferring_party": "vn"},
            "CA0001-JCMVN-VN-000000001-2025",
        ),
        ({"serial": 1, "cooperative_approach": "CA0123", "vintage": 2031}, "CA0123-JCMVN-VN-000000001-2031"),
    ],
)
def test_itmo_identifier_holds_the_five_elements(kwargs, identifier):
    args = {"cooperative_approach": "CA0001", "registry": "JCMVN", "first_transferring_party": "VN"}
    args |= {"vintage": 2025} | kwargs
    assert ser.itmo_identifier(**args) == identifier


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"cooperative_approach": "CA001"}, ValueError, "is not CA \\+ 4 digits"),
        ({"cooperative_approach": "CA00012"}, ValueError, "is not CA \\+ 4 digits"),
        ({"cooperative_approach": "ca0001"}, ValueError, "is not CA \\+ 4 digits"),
        ({"cooperative_approach": "XX0001"}, ValueError, "is not CA \\+ 4 digits"),
        ({"cooperative_approach": " CA0001"}, ValueError, "is not CA \\+ 4 digits"),
        ({"registry": "JCM-VN"}, ValueError, "registry ID 'JCM-VN'"),
        ({"registry": ""}, ValueError, "registry ID ''"),
        ({"first_transferring_party": "VNM"}, ValueError, "first transferring Party 'VNM'"),
        ({"vintage": 25}, ValueError, "not a four-digit year"),
        ({"serial": 0}, ValueError, "start at 1, not 0"),
        ({"serial": True}, TypeError, "must be an int, not bool"),
        ({"serial": D(5)}, TypeError, "must be an int, not Decimal"),
    ],
)
def test_itmo_identifier_rejects_malformed_elements(kwargs, error, message):
    args = {"cooperative_approach": "CA0001", "registry": "JCMVN", "first_transferring_party": "VN"}
    args |= {"serial": 1, "vintage": 2025} | kwargs
    with pytest.raises(error, match=message):
        ser.itmo_identifier(**args)


def test_itmo_identifier_takes_keyword_arguments_only():
    with pytest.raises(TypeError):
        ser.itmo_identifier("CA0001", "JCMVN", "VN", 1, 2025)


# --- Properties (hypothesis) -----------------------------------------------------------------------

SERIAL = st.integers(1, 10**12)


@st.composite
def blocks(draw):
    a, b = draw(SERIAL), draw(SERIAL)
    return R(min(a, b), max(a, b))


@settings(max_examples=300, deadline=None)
@given(block=blocks(), data=st.data())
def test_a_split_conserves_the_block_in_two_adjacent_disjoint_parts(block, data):
    quantity = data.draw(st.integers(1, block.quantity), label="quantity")
    kept, moved = ser.split_off(block, quantity)
    assert moved.quantity == quantity and moved.end == block.end  # the transferee gets the last
    assert block.contains(moved)
    if kept is None:
        assert moved == block
        return
    assert kept.start == block.start and kept.end + 1 == moved.start  # adjacent
    assert kept.quantity + moved.quantity == block.quantity
    assert not kept.overlaps(moved)
    assert kept < moved  # the owner keeps the first sub-block


@settings(max_examples=200, deadline=None)
@given(block=blocks(), data=st.data())
def test_repeated_splits_partition_the_block(block, data):
    # A chain of partial transfers: every unit ends up in exactly one block, none is lost.
    pieces, rest = [], block
    for _ in range(data.draw(st.integers(1, 6), label="transfers")):
        rest_or_none, moved = ser.split_off(rest, data.draw(st.integers(1, rest.quantity)))
        pieces.append(moved)
        if rest_or_none is None:
            break
        rest = rest_or_none
    else:
        pieces.append(rest)
    assert sum(p.quantity for p in pieces) == block.quantity
    assert sorted(pieces)[0].start == block.start and sorted(pieces)[-1].end == block.end
    assert all(a.end + 1 == b.start for a, b in pairwise(sorted(pieces)))


@settings(max_examples=300, deadline=None)
@given(next_serial=SERIAL, quantities=st.lists(st.integers(1, 10**6), max_size=20))
def test_allocate_gives_disjoint_contiguous_blocks(next_serial, quantities):
    allocated = ser.allocate(next_serial, quantities)
    assert [b.quantity for b in allocated] == quantities
    assert sum(b.quantity for b in allocated) == sum(quantities)
    if allocated:
        assert allocated[0].start == next_serial
        assert allocated[-1].end == next_serial + sum(quantities) - 1  # the next counter is end + 1
    assert all(a.end + 1 == b.start for a, b in pairwise(allocated))
    assert not any(a.overlaps(b) for a, b in combinations(allocated, 2))


TCO2E = st.one_of(
    st.decimals(min_value=0, max_value=10**15, allow_nan=False, allow_infinity=False),
    st.integers(0, 10**15),
)


@settings(max_examples=300, deadline=None)
@given(tco2e=TCO2E)
def test_credits_never_exceed_the_verified_tonnes(tco2e):
    credits = ser.credits_from_tco2e(tco2e)
    assert type(credits) is int
    assert 0 <= credits <= tco2e
    assert Fraction(tco2e) - credits < 1  # and lose less than one tonne


WEIGHT = st.one_of(
    st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False, allow_infinity=False),
    st.integers(0, 1000),
    st.sampled_from([D(0), D(1), D("33.33"), D(50), D(100)]),  # ties and percent shares
)


@settings(max_examples=400, deadline=None)
@given(total=st.integers(0, 10**9), weights=st.lists(WEIGHT, max_size=12))
def test_apportion_sums_to_the_total_and_stays_within_one_of_each_quota(total, weights):
    weight_sum = sum((Fraction(w) for w in weights), Fraction(0))
    if total > 0 and weight_sum == 0:
        with pytest.raises(ValueError, match="every weight is zero"):
            ser.apportion(total, weights)
        return
    parts = ser.apportion(total, weights)
    assert len(parts) == len(weights) and all(type(p) is int for p in parts)
    assert sum(parts) == total
    for part, w in zip(parts, weights, strict=True):
        quota = total * Fraction(w) / weight_sum if total else Fraction(0)
        assert part in (math.floor(quota), math.ceil(quota))  # a whole quota is met exactly
    # A larger weight never gets less; equal weights differ by at most the tie-break of one credit,
    # which goes to the earlier line.
    for i, j in combinations(range(len(weights)), 2):
        if weights[i] > weights[j]:
            assert parts[i] >= parts[j]
        elif weights[i] < weights[j]:
            assert parts[i] <= parts[j]
        else:
            assert parts[i] - parts[j] in (0, 1)


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(1, 10**6),
    weights=st.lists(WEIGHT, min_size=1, max_size=8),
    scale=st.sampled_from([D("0.01"), D(3), D(100), D("1E+6")]),
)
def test_apportion_depends_only_on_the_proportions(total, weights, scale):
    # Shares in percent or as fractions of one give the same credits.
    assume(any(weights))
    assert ser.apportion(total, [D(w) * scale for w in weights]) == ser.apportion(total, weights)


MECHANISM_CODE = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,4}", fullmatch=True)
COUNTRY = st.from_regex(r"[A-Za-z]{2}", fullmatch=True)
PREFIXES = st.builds(
    SerialPrefix,
    mechanism=MECHANISM_CODE,
    host_country=COUNTRY,
    programme=st.text(min_size=1),
    site=st.text(min_size=1),
    vintage=st.integers(1990, 2100),
)
CANONICAL = re.compile(
    r"[A-Z][A-Z0-9]*\.[A-Z]{2}\.[A-Za-z0-9_%-]+\.[A-Za-z0-9_%-]+\.[0-9]{4}\.[0-9]{9,}-[0-9]{9,}"
)


@settings(max_examples=500, deadline=None)
@given(prefix=PREFIXES, block=blocks())
def test_format_and_parse_round_trip_for_any_references(prefix, block):
    serial = ser.format_serial(prefix, block)
    assert CANONICAL.fullmatch(serial)
    assert serial.count(".") == 5
    assert ser.parse_serial(serial) == (prefix, block)


@settings(max_examples=300, deadline=None)
@given(prefix=PREFIXES, block=blocks(), data=st.data())
def test_parse_then_format_gives_the_canonical_spelling(prefix, block, data):
    canonical = ser.format_serial(prefix, block)
    mechanism, country, programme, site, vintage, _ = canonical.split(".")

    def recase(text):
        return "".join(c.lower() if data.draw(st.booleans()) else c for c in text)

    def lower_escapes(text):
        return re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), text)

    numbers = str(block.start) if block.quantity == 1 else f"{block.start}-{block.end}"
    space = data.draw(st.sampled_from(["", " ", "\t", "\n  "]), label="space")
    messy = ".".join(
        (recase(mechanism), recase(country), lower_escapes(programme), lower_escapes(site), vintage, numbers)
    )
    assert ser.parse_serial(space + messy + space) == (prefix, block)
    assert ser.format_serial(*ser.parse_serial(space + messy + space)) == canonical
