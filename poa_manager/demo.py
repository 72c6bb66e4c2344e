"""The demo data set for `make run`: one organisation of each kind, a user per role, one JCM programme.

Seeding goes through the same services as the pages, so the audit log shows where it came from.
"""

import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from poa_manager.accounts import policies as account_policies
from poa_manager.accounts import services as account_services
from poa_manager.accounts import two_factor
from poa_manager.accounts.models import User
from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.database import db, utcnow
from poa_manager.monitoring import services as monitoring_services
from poa_manager.programmes import services as programme_services
from poa_manager.programmes.rules import Mechanism
from poa_manager.registry import services as registry_services
from poa_manager.sites import services as site_services

DEMO_PASSWORD = "sunrise-over-mekong-26"  # printed in the README; never use the demo in production
# The demo's authenticator key (README): registry administrators and host-government users must
# use TOTP, so the demo enrols them with this shared, published key. Demo data only.
DEMO_TOTP_SECRET = "DEMOPOAMANAGERTOTPKEYJCMVNTWOSIX"

ORGANISATIONS = {
    "secretariat": ("JCM Joint Committee Secretariat (Viet Nam)", OrganisationKind.registry_authority, "VN"),
    "cme": ("Mekong Clean Energy Coordinator JSC", OrganisationKind.coordinating_entity, "VN"),
    "operator": ("Binh Duong Rooftop Solar Operations Ltd", OrganisationKind.site_operator, "VN"),
    "tpe": ("Asia Carbon Verification (TPE)", OrganisationKind.verifier, "JP"),
    "government": (
        "Ministry of Agriculture and Environment of Viet Nam",
        OrganisationKind.host_government,
        "VN",
    ),
    "japan": ("Government of Japan (Ministry of the Environment)", OrganisationKind.host_government, "JP"),
}

# (e-mail, name, organisation key); the first is the platform administrator.
USERS = [
    ("admin@demo.example.org", "Linh Admin", "secretariat"),
    ("coordinator@demo.example.org", "Minh Coordinator", "cme"),
    ("operator@demo.example.org", "Hoa Operator", "operator"),
    ("verifier@demo.example.org", "Kenji Verifier", "tpe"),  # validates, so impartiality bars him
    ("auditor@demo.example.org", "Aiko Auditor", "tpe"),  # verifies (samples, records findings)
    ("reviewer@demo.example.org", "Taro Reviewer", "tpe"),  # approves the statement (four eyes)
    ("registry@demo.example.org", "Thu Registry", "secretariat"),
    ("government@demo.example.org", "Lan Government", "government"),
    ("trader@demo.example.org", "Quang Trader", "cme"),  # the CME's second person: approves its transfers
    ("japan@demo.example.org", "Yuki Tanaka", "japan"),  # holds Japan's share of the credits
]


def _enrol_demo_second_factor(users) -> None:
    """Enrol every demo user whose role requires TOTP (accounts.policies), with DEMO_TOTP_SECRET."""
    now = utcnow()
    for user in users:
        db.session.refresh(user, ["memberships", "organisation"])
        if not account_policies.two_factor_required(user):
            continue
        user.totp_secret = DEMO_TOTP_SECRET
        code = two_factor.code_at_step(DEMO_TOTP_SECRET, two_factor.step_of(now))
        account_services.confirm_totp_enrolment(user, actor=user, code=code, now=now)
        # Seeding typed no code into a login: the first real login may use the current one.
        user.totp_last_step = None


PROGRAMME = {
    "reference": "VN-JCM-PoA-001",
    "title": "Rooftop solar PV for factories in southern Viet Nam",
    "mechanism": Mechanism.jcm,
    "host_country": "VN",
    "partner_country": "JP",
    "methodology_code": "JCM_VN_AM007",
    "methodology_version": "1.0",
    "boundary": {"codes": ["VN-39", "VN-57", "VN-SG"]},  # Dong Nai, Binh Duong, Ho Chi Minh City
    "start_date": date(2025, 1, 1),
    "duration_years": 15,
    # VN_AM007's conservative reference EF (domain.md §3.1: the exact spreadsheet value is [U]);
    # the 2023 grid factor stands in for it in the demo.
    "monitoring_plan": {"reference_emission_factor_tco2_per_mwh": "0.6592"},
}
# CPA-0001 has credited since 1 July 2025, so the demo holds half a year of daily readings to roll up.
CREDITING_START = date(2025, 7, 1)
READINGS_UNTIL = date(2026, 1, 1)
# Criteria as a coordinator would write them in the PoA-DD (domain.md §1.4).
CRITERIA = [
    {
        "code": "EC-01",
        "description": "Located in Binh Duong, Dong Nai or Ho Chi Minh City",
        "kind": "location_in_boundary",
        "params": {"require_coordinates": True},
    },
    {
        "code": "EC-02",
        "description": "Grid-connected rooftop solar PV",
        "kind": "technology_allowed",
        "params": {"technologies": ["solar_pv"]},
    },
    {"code": "EC-03", "description": "Small scale: at most 15 MW", "kind": "capacity_range", "params": {}},
    {
        "code": "EC-04",
        "description": "Commissioned on or after the programme start",
        "kind": "commissioning_window",
        "params": {"not_before": "2025-01-01"},
    },
    {
        "code": "EC-05",
        "description": "Revenue meter of class 0.2S or 0.5S with valid calibration",
        "kind": "meter_accuracy",
        "params": {"accepted_classes": ["0.2S", "0.5S"]},
    },
    {
        "code": "EC-06",
        "description": "CPA-DD and grid-connection agreement on file",
        "kind": "documents_present",
        "params": {"document_kinds": ["cpa_dd", "grid_connection_agreement"]},
    },
    {
        "code": "EC-07",
        "description": "Not registered in any other programme or registry",
        "kind": "no_double_counting",
        "params": {},
    },
]


def _site(
    reference: str, name: str, latitude: str, longitude: str, area: str, capacity_kw: str, meter: str
) -> dict:
    return {
        "reference": reference,
        "name": name,
        "latitude": Decimal(latitude),
        "longitude": Decimal(longitude),
        "area_code": area,
        "technology": "solar_pv",
        "capacity_kw": Decimal(capacity_kw),
        "commissioned_on": date(2025, 6, 1),
        "documents": ["cpa_dd", "grid_connection_agreement"],
        "equipment_serials": [f"INV-{meter}"],
        "financial_support_declared": False,
        "meters": [
            {
                "serial": f"MTR-{meter}",
                "role": "export",
                "accuracy_class": "0.5S",
                "calibrated_on": date(2025, 5, 20),
                "calibration_valid_until": date(2030, 5, 19),
            }
        ],
    }


SITES = [
    _site(
        "CPA-0001",
        "Binh Duong textile factory rooftop, 1.2 MWp",
        "11.0521",
        "106.6670",
        "VN-57",
        "1200",
        "VN57-0001",
    ),
    _site(
        "CPA-0002",
        "Dong Nai food processing plant rooftop, 850 kWp",
        "10.9447",
        "106.8243",
        "VN-39",
        "850",
        "VN39-0002",
    ),
    # Fails two criteria on purpose: outside the boundary (Long An) and above the small-scale limit.
    _site(
        "CPA-0003", "Long An steel mill rooftop, 18 MWp", "10.6956", "106.2431", "VN-41", "18000", "VN41-0003"
    ),
]


def seed(
    *, settings: account_services.AccountSettings, upload_folder: Path | None = None, showcase: bool = False
) -> bool:
    """Create the demo data once. Returns False, changing nothing, when it is already there.

    `showcase` adds `demo_showcase` on top (a year of a 200-site programme, `flask poa seed-demo`);
    the browser tests use the small base alone.
    """
    created = _seed_base(settings=settings, upload_folder=upload_folder)
    if showcase:
        if upload_folder is None:
            raise ValueError("The showcase needs a folder for its readings uploads.")
        from poa_manager import demo_showcase  # it reads this module's constants

        created = demo_showcase.seed_showcase(upload_folder=upload_folder) or created
    return created


def _seed_base(*, settings: account_services.AccountSettings, upload_folder: Path | None) -> bool:
    if db.session.scalar(sa.select(User.id).where(User.email == USERS[0][0])) is not None:
        return False

    admin = account_services.create_first_admin(
        email=USERS[0][0],
        full_name=USERS[0][1],
        organisation_name=ORGANISATIONS["secretariat"][0],
        password=DEMO_PASSWORD,
        settings=settings,
    )
    name, kind, country = ORGANISATIONS["secretariat"]
    organisations = {
        "secretariat": account_services.update_organisation(
            admin.organisation, actor=admin, name=name, kind=kind, country_code=country, is_active=True
        )
    }
    for key, (name, kind, country) in ORGANISATIONS.items():
        if key not in organisations:
            organisations[key] = account_services.create_organisation(
                actor=admin, name=name, kind=kind, country_code=country
            )

    users = {}
    for email, full_name, organisation_key in USERS[1:]:
        users[email] = account_services.create_user(
            actor=admin,
            email=email,
            full_name=full_name,
            password=DEMO_PASSWORD,
            settings=settings,
            organisation_id=organisations[organisation_key].id,
            must_change_password=False,
        )

    coordinator = users["coordinator@demo.example.org"]
    verifier, registry = users["verifier@demo.example.org"], users["registry@demo.example.org"]
    programme = programme_services.create_programme(
        actor=coordinator, coordinating_entity_id=organisations["cme"].id, **PROGRAMME
    )
    for email, role in (
        ("verifier@demo.example.org", Role.verifier),
        ("registry@demo.example.org", Role.registry_administrator),
        ("government@demo.example.org", Role.viewer),
    ):
        programme_services.grant_role(programme, actor=admin, user_id=users[email].id, role=role)
    _enrol_demo_second_factor(users.values())

    # The coordinator designs the programme, adds its sites and checks them against the criteria.
    site_services.update_criteria(programme, actor=coordinator, criteria=CRITERIA)
    operator_id = organisations["operator"].id
    sites = [
        site_services.create_site(programme, actor=coordinator, operator_organisation_id=operator_id, **facts)
        for facts in SITES
    ]
    today = utcnow().date()
    for site in sites:
        site_services.check_eligibility(site, actor=coordinator, checked_on=today)

    # Validation by the TPE and registration by the Joint Committee secretariat, four eyes each.
    programme_services.submit_for_validation(programme, actor=coordinator, now=utcnow())
    programme_services.validate(programme, actor=verifier, now=utcnow())
    programme_services.register(programme, actor=registry, now=utcnow())

    # CPA-0001 is included after the TPE's confirmation; CPA-0002 stays eligible for you to include.
    site_services.include_sites(
        programme, actor=coordinator, site_ids=[sites[0].id], included_on=CREDITING_START
    )
    site_services.confirm_inclusion(sites[0], actor=verifier, included_on=CREDITING_START)
    programme_services.grant_role(
        programme,
        actor=admin,
        user_id=users["operator@demo.example.org"].id,
        role=Role.site_operator,
        site_id=sites[0].id,
    )
    site_services.advance_crediting(today=today)
    # Credits go 50 % to Japan (MOEJ model project rule, domain.md §4.4), 10 % to Viet Nam and 40 %
    # to the participant once the registry forwards an issuance.
    registry_services.set_allocation_table(
        programme,
        actor=coordinator,
        jcm_model_project=True,
        shares=[
            {"organisation_id": organisations["japan"].id, "share_percent": Decimal(50)},
            {"organisation_id": organisations["government"].id, "share_percent": Decimal(10)},
            {"organisation_id": organisations["cme"].id, "share_percent": Decimal(40)},
        ],
    )
    if upload_folder is not None:
        _seed_readings(sites[0], users["operator@demo.example.org"], upload_folder)
    return True


def _seed_readings(site, operator: User, folder: Path) -> None:
    """Daily export readings of CPA-0001 from its crediting start, sent as the operator would."""
    lines = ["site_ref,meter_serial,reading_start,reading_end,value"]
    day, n = CREDITING_START, 0
    while day < READINGS_UNTIL:
        # A plausible 1.2 MWp rooftop day in southern Viet Nam: 4.2–5.4 MWh, no floats involved.
        kwh = Decimal(4200 + (n * 137) % 1200) + Decimal(n % 10) / 10
        start, end = datetime.combine(day, time(0)), datetime.combine(day + timedelta(days=1), time(0))
        lines.append(f"{site.reference},{site.meters[0].serial},{start.isoformat()},{end.isoformat()},{kwh}")
        day, n = day + timedelta(days=1), n + 1
    upload, _new = monitoring_services.receive_readings(
        site.programme,
        actor=operator,
        filename="CPA-0001-2025H2-daily.csv",
        stream=io.BytesIO(("\n".join(lines) + "\n").encode()),
        folder=folder,
        site=site,
    )
    monitoring_services.start_upload(upload)
    monitoring_services.ingest_upload(upload, folder=folder)
