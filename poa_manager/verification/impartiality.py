"""Verifier impartiality per mechanism (domain.md §6.1). Pure: no Flask, no database.

Gold Standard [C]: a VVB that validated anything for the PoA (the design, a VPA inclusion, a renewal,
a design change) may verify it only with a completely different audit team. The other mechanisms
get the same rule by default, which is [U]: the platform shows it as unconfirmed and lets the
operator choose another rule per mechanism (POA_VERIFIER_IMPARTIALITY, docs/verification.md).
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from poa_manager.programmes.rules import Mechanism


class ImpartialityRule(StrEnum):
    none = "none"  # whoever validated may verify
    different_team = "different_team"  # the same organisation, but none of the same people
    different_organisation = "different_organisation"  # another verifier organisation altogether

    @property
    def label(self) -> str:
        return {
            ImpartialityRule.none: "No restriction",
            ImpartialityRule.different_team: (
                "A verifier that validated or confirmed inclusions verifies only with a different team"
            ),
            ImpartialityRule.different_organisation: (
                "A verifier that validated or confirmed inclusions may not verify"
            ),
        }[self]


DEFAULT_RULES: Mapping[Mechanism, ImpartialityRule] = {
    mechanism: ImpartialityRule.different_team for mechanism in Mechanism
}
CONFIRMED_RULES = frozenset({Mechanism.gold_standard})


def is_confirmed(mechanism: Mechanism, rule: ImpartialityRule) -> bool:
    """Whether domain.md confirms this rule for this mechanism ([C]); anything else is [U]."""
    return mechanism in CONFIRMED_RULES and rule is DEFAULT_RULES[mechanism]


def parse_rules(setting: str) -> dict[Mechanism, ImpartialityRule]:
    """The defaults with overrides from "mechanism=rule,…" (e.g. "jcm=none,cdm_poa=different_team")."""
    rules = dict(DEFAULT_RULES)
    for item in filter(None, (part.strip() for part in setting.split(","))):
        name, _, value = item.partition("=")
        try:
            rules[Mechanism(name.strip())] = ImpartialityRule(value.strip())
        except ValueError:
            raise ValueError(
                f"{item!r}: expected mechanism=rule with a mechanism among "
                f"{', '.join(Mechanism)} and a rule among {', '.join(ImpartialityRule)}"
            ) from None
    return rules


@dataclass(frozen=True)
class PriorWork:
    """Something a verifier's person did earlier on the same programme."""

    user_id: int
    organisation_id: int
    person: str
    activity: str  # e.g. "validated design version 1", "confirmed the inclusion of CPA-0003"


def conflicts(
    rule: ImpartialityRule,
    *,
    organisation_id: int,
    people: Collection[int],
    prior_work: Sequence[PriorWork],
) -> list[str]:
    """Why `people` of `organisation_id` may not verify under `rule`; empty when they may."""
    if rule is ImpartialityRule.none:
        return []
    own = [work for work in prior_work if work.organisation_id == organisation_id]
    if rule is ImpartialityRule.different_organisation:
        return [f"The organisation already worked on this programme: {w.person} {w.activity}." for w in own]
    return [f"{w.person} {w.activity}, so cannot verify it." for w in own if w.user_id in people]
