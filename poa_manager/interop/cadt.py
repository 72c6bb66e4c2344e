"""Climate Action Data Trust (CADT) records built from plain facts. Pure: no Flask, no database.

CADT (peers.md §C) is the metadata layer registries publish projects and units to; it holds no
balances. Field names are CADT's own (Chia-Network/cadt `src/models/*/*.modeltypes.cjs`, v1 data
model), hence camelCase. Picklist values follow CADT's governance stub (`governance.stub.json`);
a CADT node validates against its live governance picklists, which can differ, so every mapping
marked [U] below is our interpretation and may need adjusting before a real upload.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

UNIT_METRIC = "tCO2e"
# [U] Every methodology the platform runs (renewable electricity, efficient lighting, efficient
# transformers) reduces emissions with technology; none removes carbon or is nature-based.
UNIT_TYPE = "Reduction - technical"
# Our serial ends in ".<start>-<end>" (registry/serials.py); CADT reads start and end with this.
SERIAL_NUMBER_PATTERN = r"^.+\.([0-9]+)-([0-9]+)$"

PROJECT_FIELDS = (
    "projectId",
    "originProjectId",
    "registryOfOrigin",
    "currentRegistry",
    "program",
    "projectName",
    "projectLink",
    "projectDeveloper",
    "sector",
    "projectType",
    "projectTags",
    "coveredByNDC",
    "ndcInformation",
    "projectStatus",
    "projectStatusDate",
    "unitMetric",
    "methodology",
    "validationBody",
    "validationDate",
)
LOCATION_FIELDS = ("id", "country", "inCountryRegion", "geographicIdentifier")
ISSUANCE_FIELDS = (
    "id",
    "startDate",
    "endDate",
    "verificationApproach",
    "verificationReportDate",
    "verificationBody",
)
UNIT_FIELDS = (
    "issuanceId",
    "projectLocationId",
    "unitOwner",
    "countryJurisdictionOfOwner",
    "inCountryJurisdictionOfOwner",
    "serialNumberBlock",
    "serialNumberPattern",
    "unitBlockStart",
    "unitBlockEnd",
    "unitCount",
    "vintageYear",
    "unitType",
    "unitStatus",
    "unitStatusReason",
    "unitRegistryLink",
    "correspondingAdjustmentDeclaration",
    "correspondingAdjustmentStatus",
)


# --- Facts (what the service reads from the database) ---------------------------------------------


@dataclass(frozen=True)
class ProjectFacts:
    reference: str
    title: str
    programme_label: str  # the mechanism, e.g. "JCM", "CDM PoA"
    link: str
    developer: str  # the coordinating/managing entity
    status: str  # ProgrammeStatus value: draft, submitted, validated, registered
    status_date: date | None
    registry: str
    sectoral_scopes: tuple[int, ...] = ()
    methodology_code: str | None = None
    methodology_version: str | None = None
    methodology_title: str | None = None
    validation_body: str | None = None
    validation_date: date | None = None
    technologies: tuple[str, ...] = ()
    authorizations: tuple[str, ...] = ()  # Article 6.2 letters, e.g. "LoA-1 v1 (CA0001)"


@dataclass(frozen=True)
class LocationFacts:
    programme_reference: str
    site_reference: str
    country_code: str  # ISO 3166-1 alpha-2, the programme's host country
    area_code: str | None = None  # ISO 3166-2, e.g. "VN-57"
    latitude: Decimal | None = None
    longitude: Decimal | None = None


@dataclass(frozen=True)
class IssuanceFacts:
    label: str  # "ISS-00001"
    period_start: date
    period_end: date
    verification_body: str | None = None
    verification_report_date: date | None = None
    sample_size: int | None = None  # sites checked; None when no sample was drawn
    population: int | None = None  # sites in the verified request


@dataclass(frozen=True)
class UnitFacts:
    programme_reference: str
    site_reference: str
    issuance_label: str
    serial: str
    serial_start: int
    serial_end: int
    vintage: int
    status: str  # BlockStatus value: active, retired, cancelled
    authorization_status: str  # mitigation_outcome, authorized, first_transferred
    owner: str
    owner_country_code: str | None
    link: str
    status_reason: str | None = None  # a retirement's beneficiary and purpose, a cancellation's


# --- Mappings ------------------------------------------------------------------------------------

# CDM sectoral scopes 1–15 in order: CADT's sector picklist is the same list.
SECTORS_BY_SCOPE = {
    1: "Energy (renewable/non-renewable)",
    2: "Energy distribution",
    3: "Energy demand",
    4: "Manufacturing industries",
    5: "Chemical industry",
    6: "Construction",
    7: "Transport",
    8: "Mining/Mineral production",
    9: "Metal production",
    10: "Fugitive emissions – from fuels (solid, oil and gas)",
    11: "Fugitive emissions – from Industrial gases (halocarbons and sulphur hexafluoride)",
    12: "Solvents use",
    13: "Waste handling and disposal",
    14: "Agriculture Forestry and Other Land Use (AFOLU)",
    15: "Livestock and manure management",
}

UNIT_STATUSES = {"active": "Held", "retired": "Retired", "cancelled": "Cancelled"}

# [U] CADT's stub lists Listed, Registered, Completed and Transitioned: a programme before
# registration (draft, submitted or validated) is "Listed".
PROJECT_STATUSES = {"registered": "Registered"}

# CADT country names (its picklist's spelling, typos included, so values match) by ISO 3166-1
# alpha-2. Codes missing here are exported as the code itself [U].
COUNTRY_NAMES = {
    "AD": "Andorra", "AE": "United Arab Emirates", "AF": "Afghanistan",
    "AG": "Antigua and Barduba", "AL": "Albania", "AO": "Angola", "AR": "Argentina",
    "AT": "Austria", "AU": "Australia", "AZ": "Azerbaijan", "BA": "Bosnia and  Herzegovina",
    "BB": "Barbados", "BD": "Bangladesh", "BE": "Belgium", "BF": "Burkina Faso", "BG": "Bulgaria",
    "BH": "Bahrain", "BI": "Burundi", "BJ": "Benin", "BN": "Brunei Darussalam", "BO": "Bolivia",
    "BR": "Brazil", "BS": "Bahamas", "BT": "Bhutan", "BW": "Botswana", "BY": "Belarus",
    "BZ": "Belize", "CA": "Canada", "CD": "Democratic Republic of Congo",
    "CF": "Central African Republic", "CG": "Congo", "CH": "Switzerland", "CI": "Cote d'Ivoire",
    "CM": "Cameroon", "CN": "China", "CO": "Colombia", "CR": "Costa Rica", "CU": "Cuba",
    "CV": "Cabo Verde", "CY": "Cyprus", "CZ": "Czech Republic", "DE": "Germany", "DJ": "Djibouti",
    "DK": "Denmark", "DM": "Dominica", "DO": "Domincan Republic", "DZ": "Algeria", "EE": "Estonia",
    "EG": "Egypt", "ER": "Eritrea", "ES": "Spain", "ET": "Ethiopia", "FI": "Finland", "FJ": "Fiji",
    "FM": "Micronesia", "FR": "France", "GA": "Gabon", "GB": "United Kingdom", "GD": "Grenada",
    "GE": "Georgia", "GH": "Ghana", "GN": "Guinea", "GQ": "Equatorial New Guinea", "GR": "Greece",
    "GT": "Guatemala", "GW": "Guinea Bissau", "GY": "Guyana", "HN": "Honduras", "HR": "Croatia",
    "HT": "Haiti", "HU": "Hungary", "ID": "Indonesia", "IE": "Ireland", "IL": "Israel",
    "IN": "India", "IR": "Iran", "IS": "Iceland", "IT": "Italy", "JM": "Jamaica", "JO": "Jordan",
    "JP": "Japan", "KE": "Kenya", "KH": "Cambodia", "KI": "Kiribati", "KM": "Comoros",
    "KN": "Saint Kitts and Nevis", "KP": "Democratic People's Republic of Korea",
    "KR": "Republic of Korea", "KW": "Kuwait", "LA": "Lao People's Democratic Republic",
    "LB": "Lebanon", "LC": "Saint Lucia", "LI": "Liechtenstein", "LK": "Sri Lanka", "LR": "Liberia",
    "LS": "Lesotho", "LT": "Lithuania", "LU": "Luxembourg", "LV": "Latvia", "LY": "Libya",
    "MA": "Morocco", "MC": "Monaco", "ME": "Montenegro", "MG": "Madagascar", "MH": "Marshall Islands",
    "MK": "The Former Yugoslav Republic of Macedonia", "ML": "Mali", "MM": "Myanmar",
    "MN": "Mongolia", "MR": "Mauritania", "MT": "Malta", "MU": "Mauritius", "MV": "Maldives",
    "MX": "Mexico", "MY": "Malaysia", "MZ": "Mozambique", "NA": "Namibia", "NE": "Niger",
    "NL": "Netherlands", "NO": "Norway", "NP": "Nepal", "NR": "Nauru", "NZ": "New Zealand",
    "OM": "Oman", "PA": "Panama", "PE": "Peru", "PG": "Papua New Guinea", "PH": "Philippines",
    "PK": "Pakistan", "PL": "Poland", "PS": "State of Palestine", "PT": "Portugal", "PW": "Palau",
    "PY": "Paraguay", "QA": "Qatar", "RO": "Romania", "RS": "Serbia", "RU": "Russian Federation",
    "RW": "Rwanda", "SB": "Solomon Islands", "SD": "Sudan", "SE": "Sweden", "SG": "Singapore",
    "SI": "Slovenia", "SK": "Slovakia", "SM": "San Marino", "SN": "Senegal", "SO": "Somalia",
    "SR": "Suriname", "SS": "South Sudan", "ST": "Sao Tome and Principe", "SV": "El Salvador",
    "SZ": "Swaziland", "TD": "Chad", "TH": "Thailand", "TJ": "Tajikistan", "TL": "Timor-Leste",
    "TN": "Tunisia", "TO": "Tonga", "TR": "Turkey", "TT": "Trinidad and Tobago", "TV": "Tuvalu",
    "TZ": "United Republic of Tanzania", "UA": "Ukraine", "UG": "Uganda",
    "US": "United States of America", "UY": "Uruguay", "VC": "Saint Vincent and the Grenadines",
    "VE": "Venezuela", "VN": "Viet Nam", "VU": "Vanuatu", "WS": "Samoa", "ZA": "South Africa",
    "ZW": "Zimbabwe",
    # [U] JCM partner countries missing from the governance stub, in UN short-name spelling.
    "CL": "Chile", "KG": "Kyrgyzstan", "KZ": "Kazakhstan", "MD": "Republic of Moldova",
    "SA": "Saudi Arabia", "UZ": "Uzbekistan",
}  # fmt: skip


def country_name(code: str | None) -> str | None:
    """CADT's name for an ISO 3166-1 alpha-2 code; the code itself when we have no name [U]."""
    if not code:
        return None
    return COUNTRY_NAMES.get(code.upper(), code.upper())


def sector(scopes: Sequence[int]) -> str | None:
    """CADT sector of the methodology's first CDM sectoral scope (CADT's list is the CDM one)."""
    return next((SECTORS_BY_SCOPE[s] for s in scopes if s in SECTORS_BY_SCOPE), None)


def project_status(status: str) -> str:
    """[U] Registered once a design is registered; "Listed" before that."""
    return PROJECT_STATUSES.get(status, "Listed")


def unit_status(status: str) -> str:
    """Held, Retired or Cancelled. [U] Units still in the pending account (issued, not yet
    forwarded) and units reserved by an open transaction are "Held": CADT has no pending state
    for either ("Pending Export" means leaving for another registry)."""
    try:
        return UNIT_STATUSES[status]
    except KeyError:
        raise ValueError(f"unknown block status {status!r}") from None


def corresponding_adjustment(authorization_status: str) -> tuple[str, str]:
    """(correspondingAdjustmentDeclaration, correspondingAdjustmentStatus) from the Article 6.2
    state of a block (domain.md §5):

    - authorized → ("Committed", "Pending"): the host Party has authorized the units, so it has
      committed to an adjustment, which is applied at first transfer;
    - first_transferred → ("Committed", "Completed"): the corresponding adjustment is recorded
      (registry.models.CorrespondingAdjustment);
    - mitigation_outcome → ("Not Required", "Not Started"). [U] Units never authorized need no
      adjustment now; they could be authorized later, in which case CADT's "Unknown" would also
      be defensible. We export what is true today.
    """
    if authorization_status == "first_transferred":
        return "Committed", "Completed"
    if authorization_status == "authorized":
        return "Committed", "Pending"
    if authorization_status == "mitigation_outcome":
        return "Not Required", "Not Started"
    raise ValueError(f"unknown authorization status {authorization_status!r}")


def location_id(programme_reference: str, site_reference: str) -> str:
    """[U] CADT assigns location UUIDs on upload; we give a stable id so units can point to it."""
    return f"{programme_reference}/{site_reference}"


def verification_approach(facts: IssuanceFacts) -> str:
    """[U] CADT leaves this as free text: say whether a sample was checked or every site."""
    if facts.sample_size is None:
        return "Verification of every site in the request"
    of = f" of {facts.population}" if facts.population is not None else ""
    return f"Sample-based verification: {facts.sample_size}{of} sites checked on site or by documents"


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


# --- Records -------------------------------------------------------------------------------------


def location_record(facts: LocationFacts) -> dict[str, Any]:
    """A project location: one site of the programme (a CPA, VPA or instance)."""
    if facts.latitude is not None and facts.longitude is not None:
        geographic = f"{facts.latitude},{facts.longitude}"  # [U] decimal degrees "lat,lon"
    else:
        geographic = facts.site_reference  # [U] no coordinates recorded: the site's reference
    return {
        "id": location_id(facts.programme_reference, facts.site_reference),
        "country": country_name(facts.country_code),
        "inCountryRegion": facts.area_code or "",  # [U] the ISO 3166-2 subdivision code
        "geographicIdentifier": geographic,
    }


def issuance_record(facts: IssuanceFacts) -> dict[str, Any]:
    """An issuance: the monitoring period and who verified it."""
    return {
        "id": facts.label,
        "startDate": _iso(facts.period_start),
        "endDate": _iso(facts.period_end),
        "verificationApproach": verification_approach(facts),
        "verificationReportDate": _iso(facts.verification_report_date),
        "verificationBody": facts.verification_body,
    }


def project_record(
    facts: ProjectFacts,
    locations: Iterable[LocationFacts] = (),
    issuances: Iterable[IssuanceFacts] = (),
) -> dict[str, Any]:
    """A project (our programme) with its locations and issuances as CADT child records."""
    methodology = None
    if facts.methodology_code:
        title = f": {facts.methodology_title}" if facts.methodology_title else ""
        version = f" --- Version {facts.methodology_version}" if facts.methodology_version else ""
        methodology = f"{facts.methodology_code}{title}{version}"  # [U] CADT's "title --- Version"
    tags = ["Programme of Activities", *sorted(set(facts.technologies))]
    return {
        # [U] We are the registry of origin, so CADT's projectId and originProjectId are both
        # our programme reference; CADT assigns warehouseProjectId on upload.
        "projectId": facts.reference,
        "originProjectId": facts.reference,
        "registryOfOrigin": facts.registry,
        "currentRegistry": facts.registry,
        "program": facts.programme_label,
        "projectName": facts.title,
        "projectLink": facts.link,
        "projectDeveloper": facts.developer,
        "sector": sector(facts.sectoral_scopes),
        "projectType": facts.methodology_title,  # [U] CADT's project-type picklist is governance-defined
        "projectTags": ", ".join(tags),
        # [U] Whether the activity lies inside the host's NDC is not recorded here.
        "coveredByNDC": "Unknown",
        "ndcInformation": (
            "Article 6.2 authorization: " + "; ".join(facts.authorizations) if facts.authorizations else None
        ),
        "projectStatus": project_status(facts.status),
        "projectStatusDate": _iso(facts.status_date),
        "unitMetric": UNIT_METRIC,
        "methodology": methodology,
        "validationBody": facts.validation_body,
        "validationDate": _iso(facts.validation_date),
        "projectLocations": [location_record(location) for location in locations],
        "issuances": [issuance_record(issuance) for issuance in issuances],
    }


def unit_record(facts: UnitFacts) -> dict[str, Any]:
    """A unit block: one serial range with its holder, status and corresponding adjustment."""
    declaration, adjustment = corresponding_adjustment(facts.authorization_status)
    return {
        "issuanceId": facts.issuance_label,
        "projectLocationId": location_id(facts.programme_reference, facts.site_reference),
        "unitOwner": facts.owner,
        "countryJurisdictionOfOwner": country_name(facts.owner_country_code),
        "inCountryJurisdictionOfOwner": None,
        "serialNumberBlock": facts.serial,
        "serialNumberPattern": SERIAL_NUMBER_PATTERN,
        "unitBlockStart": str(facts.serial_start),
        "unitBlockEnd": str(facts.serial_end),
        "unitCount": facts.serial_end - facts.serial_start + 1,
        "vintageYear": facts.vintage,
        "unitType": UNIT_TYPE,
        "unitStatus": unit_status(facts.status),
        "unitStatusReason": facts.status_reason,
        "unitRegistryLink": facts.link,
        "correspondingAdjustmentDeclaration": declaration,
        "correspondingAdjustmentStatus": adjustment,
    }


def flat_rows(records: Iterable[dict[str, Any]], columns: Sequence[str]) -> list[list[Any]]:
    """The records as table rows in `columns` order (for CSV); child lists are left out."""
    return [[record.get(column) for column in columns] for record in records]
