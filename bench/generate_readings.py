"""Generate the meter-readings workload used by the ingest and roll-up benchmarks.

One export meter per 1,000 kW site, one reading per local day in UTC+07:00 from 2025-01-01, rows ordered
site by site (the order the unique (meter_serial, reading_start) index likes). The file is streamed one
site at a time: 10,000 sites × 365 days (3.65M rows, about 300 MB) take a few seconds and a few MB.

Run: `python bench/generate_readings.py OUT.csv --sites 10000 --days 365 [--faults 0] [--seed 1]`.

`--faults N` plants N faulty rows at evenly spread, deterministic positions, cycling through a negative
value, a duplicate start (an extra, re-sent reading for the same day), an overlap (a reading that starts
at noon of the previous day) and a value above what the site can produce in a day. The default is a clean
file: a duplicate would break the unique index the ingest benchmark loads into.
"""

import argparse
import random
import time
from datetime import date, timedelta
from os import PathLike
from pathlib import Path

COLUMNS = ("site_ref", "meter_serial", "reading_start", "reading_end", "value")
FIRST_DAY = date(2025, 1, 1)
UTC_OFFSET = "+07:00"
CAPACITY_KW = 1000
DAILY_CEILING_KWH = CAPACITY_KW * 24  # nothing above this is physically possible in a day
FAULT_KINDS = ("negative", "duplicate_start", "overlap", "above_capacity")


def _stamp(day: date, time_of_day: str = "00:00:00") -> str:
    return f"{day.isoformat()}T{time_of_day}{UTC_OFFSET}"


def fault_plan(sites: int, days: int, faults: int) -> dict[int, dict[int, str]]:
    """Where the faults go: {site index: {day index: kind}}, evenly spread, never on a site's first day."""
    if faults <= 0:
        return {}
    slots = sites * (days - 1)  # every reading but each site's first, which has no predecessor to overlap
    if faults > slots:
        raise ValueError(f"at most {slots} faults fit in {sites} sites × {days} days")
    plan: dict[int, dict[int, str]] = {}
    for n in range(faults):
        site, day = divmod((2 * n + 1) * slots // (2 * faults), days - 1)  # strictly increasing slots
        plan.setdefault(site, {})[day + 1] = FAULT_KINDS[n % len(FAULT_KINDS)]
    return plan


def _site_lines(
    prefix: str, stamps: list[str], values: list[float], faults: dict[int, str], rng: random.Random
) -> list[str]:
    lines = []
    for day, value in enumerate(values):
        kind = faults.get(day)
        start, end = stamps[day], stamps[day + 1]
        if kind == "negative":  # an export meter that recorded the site's night-time import
            value = -rng.uniform(0.1, 40.0)
        elif kind == "above_capacity":  # a register glitch: more than 24 h at full capacity
            value = rng.uniform(1.05, 4.0) * DAILY_CEILING_KWH
        elif kind == "overlap":
            start = _stamp(FIRST_DAY + timedelta(days=day - 1), "12:00:00")
        lines.append(f"{prefix}{start},{end},{value:.3f}\n")
        if kind == "duplicate_start":  # the same day sent again with a corrected value
            lines.append(f"{prefix}{start},{end},{value * rng.uniform(0.97, 1.03):.3f}\n")
    return lines


def generate(
    path: str | PathLike[str], sites: int = 10_000, days: int = 365, faults: int = 0, seed: int = 1
) -> int:
    """Write the readings CSV to `path` and return the number of data rows (sites × days + duplicates)."""
    if sites < 1 or days < 1:
        raise ValueError("sites and days must be positive")
    plan = fault_plan(sites, days, faults)
    rng = random.Random(seed)  # the clean values do not depend on the faults
    fault_rng = random.Random(seed + 1_000_003)
    stamps = [_stamp(FIRST_DAY + timedelta(days=day)) for day in range(days + 1)]
    rows = 0
    with open(path, "w", encoding="ascii", newline="", buffering=1 << 20) as out:
        out.write(",".join(COLUMNS) + "\n")
        for site in range(sites):
            prefix = f"BENCH-{site + 1:05d},BM-{site + 1:05d},"
            # 3.0–4.0 peak-sun hours on average for this site, ±1.0 h of weather from day to day.
            mean = rng.uniform(3.0, 4.0) * CAPACITY_KW
            swing = 1.0 * CAPACITY_KW
            rand = rng.random
            values = [mean + swing * (2.0 * rand() - 1.0) for _ in range(days)]
            if site in plan:
                lines = _site_lines(prefix, stamps, values, plan[site], fault_rng)
            else:
                lines = [f"{prefix}{stamps[d]},{stamps[d + 1]},{v:.3f}\n" for d, v in enumerate(values)]
            out.writelines(lines)
            rows += len(lines)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="CSV file to write")
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--faults", type=int, default=0, help="faulty rows to plant (default: a clean file)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    rows = generate(args.out, args.sites, args.days, faults=args.faults, seed=args.seed)
    elapsed = time.perf_counter() - started
    size_mb = args.out.stat().st_size / 1e6
    print(f"{args.out}: {rows:,} rows, {size_mb:,.0f} MB in {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s)")


if __name__ == "__main__":
    main()
