"""The showcase layer of the demo (`flask poa seed-demo`): a year of a 200-site JCM programme.

On top of `demo.seed`'s small programme (which the browser tests walk through), this adds:
- VN-JCM-PoA-002, rooftop solar PV across Viet Nam: 200 sites in 24 provinces, checked, included
  and confirmed by the TPE (JCM: the TPE confirms each inclusion, domain.md §1.5), a year of daily
  readings with planted faults, the first half-year verified by stratified sampling, issued,
  forwarded by the allocation table, one transfer and one retirement; the second half-year
  submitted about 45 days ago and still waiting for a verifier (overdue against the 14-day target);
- VN-JCM-TR-001, amorphous distribution transformers (another methodology, no meters);
- the JCM Viet Nam reference cycles that the cycle-time dashboard compares against.

Everything goes through the services as users would, with the history's own dates passed as
`now=`/`*_on=`: every cycle step takes one, so no timestamp is patched afterwards. The audit log
keeps the real times of seeding, which is fine for demo history.
Readings are generated from a seeded random generator, so every run writes the same numbers.
"""

import io
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import sqlalchemy as sa

from poa_manager.accounts.models import Organisation, User
from poa_manager.accounts.roles import Role
from poa_manager.dashboards.models import ReferenceBatch, ReferenceCycle
from poa_manager.database import db, utcnow
from poa_manager.monitoring import services as monitoring_services
from poa_manager.programmes import services as programme_services
from poa_manager.programmes.models import Programme
from poa_manager.programmes.rules import Mechanism
from poa_manager.registry import services as registry_services
from poa_manager.registry.models import AccountKind, TransactionKind
from poa_manager.sites import services as site_services
from poa_manager.sites.models import Site
from poa_manager.verification import services as verification_services
from poa_manager.verification.models import CheckMethod, FindingOutcome, Opinion

SOLAR_REFERENCE = "VN-JCM-PoA-002"
TRANSFORMER_REFERENCE = "VN-JCM-TR-001"
SITE_COUNT = 200
SEED = 20241031  # the readings and the sample draw are the same on every run

# Provinces (ISO 3166-2:VN codes of the 63-province map the registries still use), a point inside
# each one for the sites to cluster around, and how many of the 200 sites sit there: most in the
# southern and northern industrial belts, where factory rooftops are.
PROVINCES = [
    ("VN-57", "Binh Duong", "11.05", "106.65", 24),
    ("VN-39", "Dong Nai", "10.95", "106.95", 22),
    ("VN-SG", "Ho Chi Minh City", "10.84", "106.63", 20),
    ("VN-41", "Long An", "10.65", "106.40", 12),
    ("VN-43", "Ba Ria - Vung Tau", "10.58", "107.15", 8),
    ("VN-37", "Tay Ninh", "11.30", "106.15", 6),
    ("VN-46", "Tien Giang", "10.40", "106.30", 5),
    ("VN-CT", "Can Tho", "10.03", "105.72", 5),
    ("VN-44", "An Giang", "10.45", "105.25", 4),
    ("VN-40", "Binh Thuan", "11.05", "108.05", 5),
    ("VN-36", "Ninh Thuan", "11.62", "108.90", 4),
    ("VN-34", "Khanh Hoa", "12.30", "109.05", 4),
    ("VN-33", "Dak Lak", "12.70", "108.05", 4),
    ("VN-DN", "Da Nang", "16.03", "108.15", 6),
    ("VN-27", "Quang Nam", "15.55", "108.35", 5),
    ("VN-22", "Nghe An", "18.75", "105.60", 4),
    ("VN-21", "Thanh Hoa", "19.80", "105.70", 5),
    ("VN-HN", "Ha Noi", "21.00", "105.80", 14),
    ("VN-HP", "Hai Phong", "20.85", "106.62", 11),
    ("VN-56", "Bac Ninh", "21.15", "106.05", 10),
    ("VN-54", "Bac Giang", "21.28", "106.20", 6),
    ("VN-66", "Hung Yen", "20.80", "106.05", 6),
    ("VN-61", "Hai Duong", "20.93", "106.32", 6),
    ("VN-13", "Quang Ninh", "21.02", "106.95", 4),
]
assert sum(count for *_rest, count in PROVINCES) == SITE_COUNT

# Planted faults, by site number (1-based), all inside the first half-year unless said otherwise.
GAP_DAYS = {12: range(40, 43), 47: range(101, 102), 133: range(60, 72), 171: range(250, 253)}
STUCK_METER = (88, range(120, 127))  # a week of zeros: the logger sent 0 kWh while the meter hung
CALIBRATION_LAPSE = (21, 75, 93)  # validity ends on day 75; recalibrated on day 93
SMALL_ERRORS = (Decimal("0.985"), Decimal("0.97"))  # verified/claimed on two sampled sites
GRAM = Decimal("0.000001")


@dataclass(frozen=True)
class Timeline:
    """The showcase's dates, anchored on today so the overdue request is always ~45 days old."""

    year_start: date
    year_end: date  # the last day with readings
    first_end: date  # the first monitoring period: year_start..first_end
    now: datetime

    @classmethod
    def from_today(cls, now: datetime) -> "Timeline":
        month = date(now.year, now.month, 1)
        # The year of readings ends three months back, so both periods ended well before today.
        end_month = _months_before(month, 3)
        start = _months_before(end_month, 12)
        return cls(
            start, end_month - timedelta(days=1), _months_before(end_month, 6) - timedelta(days=1), now
        )

    def day(self, n: int) -> date:
        return self.year_start + timedelta(days=n)

    def at(self, day: date, hour: int = 9) -> datetime:
        return datetime.combine(day, time(hour), UTC)


def _months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def seed_showcase(*, upload_folder: Path, now: datetime | None = None) -> bool:
    """Add the showcase to the base demo once; False, changing nothing, when it is there already."""
    if db.session.scalar(sa.select(Programme.id).where(Programme.reference == SOLAR_REFERENCE)):
        return False
    people = _people()
    orgs = {key: db.session.get(Organisation, user.organisation_id) for key, user in people.items()}
    timeline = Timeline.from_today(now or utcnow())
    solar = _solar_programme(people, orgs, timeline)
    sites = _solar_sites(solar, people, orgs, timeline)
    _readings(solar, sites, people, timeline, upload_folder)
    _faults_after_readings(sites, people, timeline, upload_folder)
    _readings_since_the_year(solar, sites, people, timeline, upload_folder)
    _first_period(solar, sites, people, orgs, timeline)
    _second_period(solar, people, timeline)
    _transformers(people, orgs, timeline)
    _reference_cycles()
    return True


def _people() -> dict[str, User]:
    keys = ("admin", "coordinator", "operator", "verifier", "auditor", "reviewer", "registry", "government")
    keys += ("trader", "japan")
    users = {
        user.email.split("@")[0]: user
        for user in db.session.scalars(sa.select(User).where(User.email.like("%@demo.example.org")))
    }
    return {key: users[key] for key in keys}


# --- the solar programme and its 200 sites -------------------------------------------------------


def _register(programme: Programme, people: dict[str, User], at: datetime) -> None:
    for key, role in (("verifier", Role.verifier), ("registry", Role.registry_administrator)):
        programme_services.grant_role(programme, actor=people["admin"], user_id=people[key].id, role=role)
    for key in ("government", "japan"):
        programme_services.grant_role(
            programme, actor=people["admin"], user_id=people[key].id, role=Role.viewer
        )
    programme_services.submit_for_validation(programme, actor=people["coordinator"], now=at)
    programme_services.validate(programme, actor=people["verifier"], now=at + timedelta(days=20))
    programme_services.register(programme, actor=people["registry"], now=at + timedelta(days=30))


def _solar_programme(people, orgs, timeline: Timeline) -> Programme:
    from poa_manager import demo

    coordinator = people["coordinator"]
    programme = programme_services.create_programme(
        actor=coordinator,
        coordinating_entity_id=orgs["coordinator"].id,
        reference=SOLAR_REFERENCE,
        title="Rooftop solar PV on factories and warehouses across Viet Nam",
        mechanism=Mechanism.jcm,
        host_country="VN",
        partner_country="JP",
        methodology_code="JCM_VN_AM007",
        methodology_version="1.0",
        boundary={"codes": [code for code, *_rest in PROVINCES]},
        start_date=_months_before(timeline.year_start, 6),
        duration_years=15,
        monitoring_plan=dict(demo.PROGRAMME["monitoring_plan"]),
    )
    criteria = [dict(c) for c in demo.CRITERIA]
    criteria[0] = {**criteria[0], "description": "Located in one of the programme's 24 provinces"}
    start = _months_before(timeline.year_start, 6).isoformat()
    criteria[3] = {**criteria[3], "params": {"not_before": start}}
    site_services.update_criteria(programme, actor=coordinator, criteria=criteria)
    _register(programme, people, timeline.at(_months_before(timeline.year_start, 5)))
    _allocation(programme, people, orgs)
    return programme


def _allocation(programme: Programme, people, orgs) -> None:
    # JCM model project: half to Japan, 10 % to Viet Nam, 40 % to the participant (domain.md §4.4).
    registry_services.set_allocation_table(
        programme,
        actor=people["coordinator"],
        jcm_model_project=True,
        shares=[
            {"organisation_id": orgs["japan"].id, "share_percent": Decimal(50)},
            {"organisation_id": orgs["government"].id, "share_percent": Decimal(10)},
            {"organisation_id": orgs["coordinator"].id, "share_percent": Decimal(40)},
        ],
    )


def _site_facts(rng: random.Random, timeline: Timeline) -> list[dict]:
    """200 rooftops: 20–1,000 kWp (a tenth are 1 MWp), on a grid around each province's point."""
    facts = []
    n = 0
    for code, province, lat, lon, count in PROVINCES:
        for k in range(count):
            n += 1
            roll = rng.random()
            if roll < 0.1:
                capacity = 1000
            elif roll < 0.45:
                capacity = rng.randrange(20, 100)
            else:
                capacity = rng.randrange(100, 1000, 5)
            # A 0.02° (~2 km) grid: sites never fall within the double-counting radius of each other.
            latitude = (
                Decimal(lat) + Decimal((k % 5) - 2) * Decimal("0.02") + Decimal(rng.randrange(0, 50)) / 10000
            )
            longitude = (
                Decimal(lon) + Decimal((k // 5) - 1) * Decimal("0.02") + Decimal(rng.randrange(0, 50)) / 10000
            )
            facts.append(
                {
                    "reference": f"RT-{n:04d}",
                    "name": f"{province} rooftop {k + 1}, {capacity} kWp",
                    "latitude": latitude,
                    "longitude": longitude,
                    "area_code": code,
                    "technology": "solar_pv",
                    "capacity_kw": Decimal(capacity),
                    "commissioned_on": timeline.year_start - timedelta(days=rng.randrange(5, 90)),
                    "documents": ["cpa_dd", "grid_connection_agreement"],
                    "equipment_serials": [f"INV-RT-{n:04d}"],
                    "financial_support_declared": False,
                    "meters": [
                        {
                            "serial": f"MTR-RT-{n:04d}",
                            "role": "export",
                            "accuracy_class": "0.5S",
                            "calibrated_on": timeline.year_start - timedelta(days=120),
                            "calibration_valid_until": (
                                timeline.day(CALIBRATION_LAPSE[1])
                                if n == CALIBRATION_LAPSE[0]
                                else timeline.year_start + timedelta(days=5 * 365)
                            ),
                        }
                    ],
                }
            )
    return facts


def _solar_sites(programme: Programme, people, orgs, timeline: Timeline) -> list[Site]:
    coordinator, verifier = people["coordinator"], people["verifier"]
    rng = random.Random(SEED)
    checked_on = timeline.year_start - timedelta(days=3)  # after every commissioning date
    sites = [
        site_services.create_site(
            programme, actor=coordinator, operator_organisation_id=orgs["operator"].id, **facts
        )
        for facts in _site_facts(rng, timeline)
    ]
    for site in sites:
        site_services.check_eligibility(site, actor=coordinator, checked_on=checked_on)
    # JCM has no monthly batching (that is CDM's rule, domain.md §1.5): one request for all 200,
    # each confirmed by the TPE, from the first day of the crediting year.
    site_services.include_sites(
        programme, actor=coordinator, site_ids=[s.id for s in sites], included_on=timeline.year_start
    )
    for site in sites:
        site_services.confirm_inclusion(site, actor=verifier, included_on=timeline.year_start)
    # The demo operator (Hoa) keeps the meter records of eight sites in Binh Duong and Dong Nai.
    for site in sites[:4] + sites[24:28]:
        programme_services.grant_role(
            programme,
            actor=people["admin"],
            user_id=people["operator"].id,
            role=Role.site_operator,
            site_id=site.id,
        )
    site_services.advance_crediting(today=timeline.now.date())
    return sites


# --- readings ------------------------------------------------------------------------------------


def daily_kwh_tenths(rng: random.Random, capacity_kw: int, latitude: Decimal, day: date) -> int:
    """A plausible day's export in tenths of kWh: capacity × ~4 kWh/kWp × season × weather.

    Integers only: the season and the weather are percentages. The south is sunniest in the dry
    season (Jan–Apr), the north in summer (May–Sep) with a grey winter.
    """
    north = latitude > 17
    season = (
        (70, 72, 80, 90, 108, 112, 115, 114, 105, 95, 82, 74)
        if north
        else (112, 116, 118, 112, 100, 92, 90, 90, 88, 90, 96, 104)
    )[day.month - 1]
    weather = rng.randrange(35, 60) if rng.random() < 0.08 else rng.randrange(82, 108)  # 8 % rainy days
    return capacity_kw * 40 * season * weather // 10_000


def _readings(programme, sites: list[Site], people, timeline: Timeline, folder: Path) -> None:
    """The coordinator's monitoring system sends the year as four quarterly CSV exports."""
    rng = random.Random(SEED + 1)
    days = (timeline.year_end - timeline.year_start).days + 1
    rows: list[list[str]] = [[] for _ in range(4)]
    quarter_days = [0, 91, 182, 273, days]
    for number, site in enumerate(sites, start=1):
        serial = site.meters[0].serial
        for n in range(days):
            day = timeline.day(n)
            value = daily_kwh_tenths(rng, int(site.capacity_kw), site.latitude, day)
            if n in GAP_DAYS.get(number, ()):
                continue  # the logger was down: no row at all
            if number == STUCK_METER[0] and n in STUCK_METER[1]:
                value = 0
            quarter = next(q for q in range(4) if quarter_days[q] <= n < quarter_days[q + 1])
            rows[quarter].append(
                f"{site.reference},{serial},{day.isoformat()}T00:00:00,"
                f"{(day + timedelta(days=1)).isoformat()}T00:00:00,{Decimal(value) / 10}"
            )
    for q in range(4):
        end = timeline.day(min(quarter_days[q + 1], days) - 1)
        _upload(
            programme,
            people["coordinator"],
            f"{SOLAR_REFERENCE}-{timeline.day(quarter_days[q]):%Y%m}-to-{end:%Y%m}-daily.csv",
            rows[q],
            folder,
            at=timeline.at(end + timedelta(days=6)),
        )


def _upload(programme, actor: User, filename: str, rows: list[str], folder: Path, *, at: datetime, site=None):
    text = "site_ref,meter_serial,reading_start,reading_end,value\n" + "\n".join(rows) + "\n"
    upload, _new = monitoring_services.receive_readings(
        programme,
        actor=actor,
        filename=filename,
        stream=io.BytesIO(text.encode()),
        folder=folder,
        site=site,
        now=at,
    )
    monitoring_services.start_upload(upload, now=at)
    monitoring_services.ingest_upload(upload, folder=folder, now=at)
    return upload


def _faults_after_readings(sites: list[Site], people, timeline: Timeline, folder: Path) -> None:
    """The lapsed meter is recalibrated late; Hoa's next upload is rejected for a spike and a typo."""
    number, _lapse, recalibrated = CALIBRATION_LAPSE
    meter = sites[number - 1].meters[0]
    monitoring_services.record_calibration(
        meter,
        actor=people["coordinator"],
        calibrated_on=timeline.day(recalibrated),
        valid_until=timeline.day(recalibrated) + timedelta(days=5 * 365),
        error_found_percent=Decimal("0.4"),
        certificate_reference=f"QUATEST3-{timeline.day(recalibrated):%Y}-0{number}",
    )
    site = sites[0]  # RT-0001, one of Hoa's sites
    serial = site.meters[0].serial
    first = timeline.year_end + timedelta(days=1)
    rows = []
    for n in range(10):
        day = first + timedelta(days=n)
        value = Decimal(int(site.capacity_kw) * 41) / 10
        if n == 4:
            value = site.capacity_kw * 31  # a spike: more than the capacity can make in 24 h
        stamp = day.isoformat() if n != 7 else day.strftime("%d/%m/%Y")  # a spreadsheet re-formatted it
        until = (day + timedelta(days=1)).isoformat()
        rows.append(f"{site.reference},{serial},{stamp}T00:00:00,{until}T00:00:00,{value}")
    _upload(
        site.programme,
        people["operator"],
        f"{site.reference}-{first:%Y%m}-first-days.csv",
        rows,
        folder,
        at=timeline.at(first + timedelta(days=12), hour=16),
        site=site,
    )


LOGGER_OFFLINE = (150, 10)  # RT-0150's logger stopped sending ten days ago


def _readings_since_the_year(programme, sites: list[Site], people, timeline: Timeline, folder: Path) -> None:
    """Monitoring goes on after the year: daily readings up to yesterday, sent by the coordinator.

    Not for RT-0001, whose next days wait in Hoa's rejected file, nor for RT-0150's last ten days
    (its logger went offline): the dashboards show both as sites without recent readings, and the
    operator's completeness chart as a gap.
    """
    rng = random.Random(SEED + 3)  # its own sequence: the year's numbers stay as they were
    first, last = timeline.year_end + timedelta(days=1), timeline.now.date() - timedelta(days=1)
    offline_site, offline_days = LOGGER_OFFLINE
    rows = []
    for number, site in enumerate(sites, start=1):
        if number == 1:
            continue
        until = last - timedelta(days=offline_days) if number == offline_site else last
        serial = site.meters[0].serial
        day = first
        while day <= until:
            value = daily_kwh_tenths(rng, int(site.capacity_kw), site.latitude, day)
            rows.append(
                f"{site.reference},{serial},{day.isoformat()}T00:00:00,"
                f"{(day + timedelta(days=1)).isoformat()}T00:00:00,{Decimal(value) / 10}"
            )
            day += timedelta(days=1)
    if rows:
        _upload(
            programme,
            people["coordinator"],
            f"{SOLAR_REFERENCE}-{first:%Y%m%d}-to-{last:%Y%m%d}-daily.csv",
            rows,
            folder,
            at=timeline.at(last + timedelta(days=1), hour=6),
        )


# --- the first period: verified by sampling, issued, forwarded, transferred, retired ---------------


def _first_period(programme, sites, people, orgs, timeline: Timeline) -> None:
    coordinator, auditor, reviewer = people["coordinator"], people["auditor"], people["reviewer"]
    end = timeline.first_end
    report = monitoring_services.open_report(
        programme,
        actor=coordinator,
        period_start=timeline.year_start,
        period_end=end,
        today=timeline.now.date(),
    )
    monitoring_services.submit_report(report, actor=coordinator, now=timeline.at(end + timedelta(days=18)))
    request = monitoring_services.request_issuance(
        report, actor=coordinator, now=timeline.at(end + timedelta(days=19))
    )
    # Aiko and Taro verify; Kenji validated the programme, so the impartiality rule keeps him out.
    verification = verification_services.assign_verifier(
        request,
        actor=coordinator,
        organisation_id=auditor.organisation_id,
        team_user_ids=[auditor.id, reviewer.id],
        lead_user_id=auditor.id,
        now=timeline.at(end + timedelta(days=26)),
    )
    verification_services.draw(
        verification,
        actor=auditor,
        plan=verification_services.PlanInput(
            stratify_by="capacity_class",
            notes="Strata by capacity class: small rooftops differ from 1 MWp ones.",
        ),
        seed=SEED,
        now=timeline.at(end + timedelta(days=30)),
    )
    sampled = list(db.session.scalars(verification_services.frame_entries(verification, sampled_only=True)))
    for i, entry in enumerate(sampled):
        if i < len(SMALL_ERRORS):
            # A misstatement: the verifier's own figure, to the gram, rounded down (never overstated).
            verified = (entry.claimed_tco2e * SMALL_ERRORS[i]).quantize(GRAM, ROUND_FLOOR)
            outcome = FindingOutcome.error
        else:
            verified, outcome = entry.claimed_tco2e, FindingOutcome.conforming  # confirmed as it stands
        verification_services.record_finding(
            verification,
            actor=auditor,
            site_id=entry.site_id,
            verified_tco2e=verified,
            outcome=outcome,
            method=CheckMethod.site_visit if i % 4 == 0 else CheckMethod.remote,
            evidence=(
                "Inverter log shows export below the meter file on cloudy days; the lower value is kept."
                if i < len(SMALL_ERRORS)
                else "Meter file agrees with the utility's invoices and the inverter log."
            ),
            now=timeline.at(end + timedelta(days=35 + i // 4)),
        )
    verification_services.draft_statement(
        verification,
        actor=auditor,
        opinion=Opinion.positive,
        summary=(
            f"{len(sampled)} sites sampled in capacity strata; two small misstatements found and "
            "corrected across the request by the ratio estimate."
        ),
        now=timeline.at(end + timedelta(days=52)),
    )
    verification_services.approve_statement(
        verification, actor=reviewer, now=timeline.at(end + timedelta(days=55))
    )
    registry = people["registry"]
    issuance = registry_services.approve_issuance(
        request, actor=registry, now=timeline.at(end + timedelta(days=62))
    )
    registry_services.forward_issuance(issuance, actor=registry, now=timeline.at(end + timedelta(days=63)))
    # Four eyes on the participant's account: Minh proposes, Quang approves (quality.md T5).
    cme = registry_services.account_of(orgs["coordinator"].id, AccountKind.holding)
    blocks = sorted(db.session.scalars(registry_services.holdings(cme)), key=lambda b: (-b.quantity, b.id))
    sale = registry_services.initiate_transaction(
        blocks[0],
        actor=coordinator,
        kind=TransactionKind.transfer,
        quantity=blocks[0].quantity // 2,  # half of the largest block, sold to the Government of Japan
        to_account_id=registry_services.account_of(orgs["japan"].id, AccountKind.holding).id,
        now=timeline.at(end + timedelta(days=70)),
    )
    registry_services.approve_transaction(
        sale, actor=people["trader"], now=timeline.at(end + timedelta(days=71))
    )
    retirement = registry_services.initiate_transaction(
        blocks[1],
        actor=coordinator,
        kind=TransactionKind.retirement,
        quantity=min(100, blocks[1].quantity),
        beneficiary="Mekong Clean Energy Coordinator JSC",
        purpose=f"Voluntary offset of the company's {end.year} office electricity",
        using_entity="Mekong Clean Energy Coordinator JSC",
        now=timeline.at(end + timedelta(days=80)),
    )
    registry_services.approve_transaction(
        retirement, actor=people["trader"], now=timeline.at(end + timedelta(days=81))
    )


def _second_period(programme, people, timeline: Timeline) -> None:
    """Submitted ~45 days ago; nobody assigned a verifier yet (the target is 14 days): overdue."""
    coordinator = people["coordinator"]
    report = monitoring_services.open_report(
        programme,
        actor=coordinator,
        period_start=timeline.first_end + timedelta(days=1),
        period_end=timeline.year_end,
        today=timeline.now.date(),
    )
    submitted = timeline.now - timedelta(days=45)
    monitoring_services.submit_report(report, actor=coordinator, now=submitted)
    monitoring_services.request_issuance(report, actor=coordinator, now=submitted + timedelta(hours=2))


# --- a second methodology ------------------------------------------------------------------------

TRANSFORMER_CRITERIA = [
    {
        "code": "EC-01",
        "description": "Installed on the distribution grid of northern Viet Nam",
        "kind": "location_in_boundary",
        "params": {"require_coordinates": True},
    },
    {
        "code": "EC-02",
        "description": "Amorphous-core distribution transformer",
        "kind": "technology_allowed",
        "params": {"technologies": ["amorphous_transformer"]},
    },
    {
        "code": "EC-03",
        "description": "Factory test certificate on file",
        "kind": "documents_present",
        "params": {"document_kinds": ["factory_test_certificate"]},
    },
    {"code": "EC-04", "description": "Not registered elsewhere", "kind": "no_double_counting", "params": {}},
]
# (reference, feeder, province code, lat, lon, units, kVA, NLL_REF kW, NLL_PJ kW). The hours energised
# are left to the window length (units energised throughout): a yearly figure on the site record
# would be refused for the two vintage windows the year splits into.
TRANSFORMERS = [
    ("TR-0001", "Dong Anh feeder 473", "VN-HN", "21.14", "105.85", 40, 400, "0.84", "0.20"),
    ("TR-0002", "Gia Lam feeder 471", "VN-HN", "21.03", "105.93", 25, 250, "0.60", "0.16"),
    ("TR-0003", "Tu Son feeder 475", "VN-56", "21.12", "105.96", 30, 400, "0.84", "0.20"),
    ("TR-0004", "An Duong feeder 472", "VN-HP", "20.88", "106.60", 20, 630, "1.15", "0.32"),
    ("TR-0005", "My Hao feeder 474", "VN-66", "20.93", "106.08", 15, 250, "0.60", "0.16"),
]


def _transformers(people, orgs, timeline: Timeline) -> None:
    coordinator = people["coordinator"]
    programme = programme_services.create_programme(
        actor=coordinator,
        coordinating_entity_id=orgs["coordinator"].id,
        reference=TRANSFORMER_REFERENCE,
        title="Amorphous-core distribution transformers in northern Viet Nam",
        mechanism=Mechanism.jcm,
        host_country="VN",
        partner_country="JP",
        methodology_code="JCM_VN_AMORPHOUS_TRANSFORMERS",
        methodology_version="unconfirmed",
        boundary={"codes": ["VN-HN", "VN-56", "VN-HP", "VN-66"]},
        start_date=_months_before(timeline.year_start, 6),
        duration_years=10,
        # The 2023 grid factor stands in for the methodology's EF_grid, as in VN-JCM-PoA-001 (§3.1 [U]).
        monitoring_plan={"grid_emission_factor_tco2_per_mwh": "0.6592"},
    )
    site_services.update_criteria(programme, actor=coordinator, criteria=TRANSFORMER_CRITERIA)
    _register(programme, people, timeline.at(_months_before(timeline.year_start, 5)))
    _allocation(programme, people, orgs)
    sites = []
    for ref, feeder, code, lat, lon, units, kva, reference_kw, project_kw in TRANSFORMERS:
        sites.append(
            site_services.create_site(
                programme,
                actor=coordinator,
                reference=ref,
                name=f"{feeder}: {units} × {kva} kVA amorphous units",
                latitude=Decimal(lat),
                longitude=Decimal(lon),
                area_code=code,
                technology="amorphous_transformer",
                capacity_kw=Decimal(units * kva) * Decimal("0.9"),  # kVA at a 0.9 power factor
                commissioned_on=timeline.year_start - timedelta(days=40),
                documents=["factory_test_certificate"],
                equipment_serials=[f"AMT-{ref}"],
                financial_support_declared=False,
                operator_organisation_id=orgs["operator"].id,
                attributes={
                    "transformer_core": "amorphous",
                    "transformer_count": units,
                    "rated_kva": kva,
                    "no_load_loss_reference_kw": reference_kw,
                    "no_load_loss_project_kw": project_kw,
                },
            )
        )
    for site in sites:
        site_services.check_eligibility(
            site, actor=coordinator, checked_on=timeline.year_start - timedelta(days=20)
        )
    site_services.include_sites(
        programme, actor=coordinator, site_ids=[s.id for s in sites], included_on=timeline.year_start
    )
    for site in sites:
        site_services.confirm_inclusion(site, actor=people["verifier"], included_on=timeline.year_start)
    site_services.advance_crediting(today=timeline.now.date())
    # One monitoring period over the year, split by the roll-up into its two vintage windows.
    report = monitoring_services.open_report(
        programme,
        actor=coordinator,
        period_start=timeline.year_start,
        period_end=timeline.year_end,
        today=timeline.now.date(),
    )
    monitoring_services.submit_report(
        report, actor=coordinator, now=timeline.at(timeline.year_end + timedelta(days=25))
    )


# --- reference cycles ----------------------------------------------------------------------------

REFERENCE_SOURCE = (
    "poa_manager issue 7, from secondary reports on the JCM Viet Nam credit notification of "
    "31 Oct 2024 (JCM Joint Committee notification as summarised there); not checked against the "
    "JCM registry itself"
)
REFERENCE_BATCH = "JCM Viet Nam notification of 31 Oct 2024"
# Site-by-site JCM Viet Nam history: monitoring ended, credits notified ~3 to 5 years later.
REFERENCE_CYCLES = [
    ("VN014", date(2019, 6, 30)),
    ("VN011", date(2019, 7, 31)),
    ("VN013", date(2020, 12, 31)),
]


def _reference_cycles() -> None:
    notified = date(2024, 10, 31)
    for reference, monitoring_end in REFERENCE_CYCLES:
        if db.session.scalar(sa.select(ReferenceCycle.id).where(ReferenceCycle.reference == reference)):
            continue
        # Titles and per-project credits are left empty: the source gives neither.
        db.session.add(
            ReferenceCycle(
                reference=reference,
                title="",
                mechanism="jcm",
                host_country="VN",
                monitoring_end=monitoring_end,
                notified_on=notified,
                credits=None,
                batch=REFERENCE_BATCH,
                source=REFERENCE_SOURCE,
                confidence="S",
            )
        )
    if not db.session.scalar(sa.select(ReferenceBatch.id).where(ReferenceBatch.name == REFERENCE_BATCH)):
        db.session.add(
            ReferenceBatch(
                name=REFERENCE_BATCH,
                host_country="VN",
                notified_on=notified,
                project_count=13,
                credits=35_313,
                source=REFERENCE_SOURCE,
                confidence="S",
            )
        )
    db.session.flush()
