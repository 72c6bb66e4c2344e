"""The demo data set for `make run`: one organisation of each kind, a user per role, one JCM programme.

Seeding goes through the same services as the pages, so the audit log shows where it came from.
"""

from datetime import date

import sqlalchemy as sa

from poa_manager.accounts import services as account_services
from poa_manager.accounts.models import User
from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.database import db
from poa_manager.programmes import services as programme_services
from poa_manager.programmes.rules import Mechanism
from poa_manager.sites.models import Site

DEMO_PASSWORD = "sunrise-over-mekong-26"  # printed in the README; never use the demo in production

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
}

# (e-mail, name, organisation key, is admin, role on the demo programme, site reference)
USERS = [
    ("admin@demo.example.org", "Linh Admin", "secretariat", True, None, None),
    ("coordinator@demo.example.org", "Minh Coordinator", "cme", False, Role.coordinator, None),
    ("operator@demo.example.org", "Hoa Operator", "operator", False, Role.site_operator, "CPA-0001"),
    ("verifier@demo.example.org", "Kenji Verifier", "tpe", False, Role.verifier, None),
    ("registry@demo.example.org", "Thu Registry", "secretariat", False, Role.registry_administrator, None),
    ("government@demo.example.org", "Lan Government", "government", False, Role.viewer, None),
]

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
}
SITES = [
    ("CPA-0001", "Binh Duong textile factory rooftop, 1.2 MWp"),
    ("CPA-0002", "Dong Nai food processing plant rooftop, 850 kWp"),
]


def seed(*, settings: account_services.AccountSettings) -> bool:
    """Create the demo data once. Returns False, changing nothing, when it is already there."""
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
    for email, full_name, organisation_key, is_admin, _role, _site in USERS[1:]:
        users[email] = account_services.create_user(
            actor=admin,
            email=email,
            full_name=full_name,
            password=DEMO_PASSWORD,
            settings=settings,
            organisation_id=organisations[organisation_key].id,
            is_admin=is_admin,
            must_change_password=False,
        )

    coordinator = users["coordinator@demo.example.org"]
    programme = programme_services.create_programme(
        actor=coordinator, coordinating_entity_id=organisations["cme"].id, **PROGRAMME
    )
    programme.sites = [Site(reference=reference, name=name) for reference, name in SITES]
    db.session.flush()
    site_ids = {site.reference: site.id for site in programme.sites}
    for email, _name, _organisation, _is_admin, role, site_reference in USERS[2:]:
        programme_services.grant_role(
            programme, actor=admin, user_id=users[email].id, role=role, site_id=site_ids.get(site_reference)
        )
    return True
