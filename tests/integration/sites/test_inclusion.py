"""Sites are checked against the programme's criteria, guarded against double counting, and included."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from poa_manager.errors import NotAllowed, RuleViolation
from poa_manager.programmes.models import ProgrammeVersion
from poa_manager.programmes.rules import CreditingPeriodType, InclusionRoute
from poa_manager.sites import services
from poa_manager.sites.models import CheckOutcome, SiteStatus

TODAY = date(2026, 11, 1)


def _check(site, world):
    return services.check_eligibility(site, actor=world.coordinator, checked_on=TODAY)


def _route(programme, route: InclusionRoute):
    version: ProgrammeVersion = programme.current_version
    version.inclusion_route = route  # set directly: a registered design only changes by revision


def test_eligible_site_passes_every_criterion_and_is_included_with_its_crediting_period(
    world, registered, make_site
):
    site = make_site(registered, 1)
    check = _check(site, world)
    assert check.outcome is CheckOutcome.eligible, check.results
    assert [r["outcome"] for r in check.results] == ["passed"] * 7
    assert check.programme_version_id == registered.current_version.id

    _route(registered, InclusionRoute.coordinator)
    [included] = services.include_sites(
        registered, actor=world.coordinator, site_ids=[site.id], included_on=date(2026, 11, 2)
    )
    assert included.status is SiteStatus.included
    assert (included.crediting_start, included.crediting_end) == (date(2026, 11, 2), date(2036, 11, 1))
    assert (included.replication_order, included.support_rate) == (1, Decimal("0.50"))


@pytest.mark.parametrize(
    ("overrides", "failed_code"),
    [
        (
            {"latitude": Decimal("21.03"), "longitude": Decimal("105.85")},
            "EC-01",
        ),  # Ha Noi: outside the boundary
        ({"technology": "wind"}, "EC-02"),
        ({"capacity_kw": 16000}, "EC-03"),
        ({"commissioned_on": date(2023, 6, 1)}, "EC-04"),
        (
            {
                "meters": [
                    {
                        "serial": "M-1",
                        "accuracy_class": "1",
                        "calibrated_on": date(2025, 1, 1),
                        "calibration_valid_until": date(2030, 1, 1),
                    }
                ]
            },
            "EC-05",
        ),
        ({"documents": []}, "EC-06"),
    ],
)
def test_each_failed_criterion_is_named_with_its_observed_value(
    world, registered, make_site, overrides, failed_code
):
    site = make_site(registered, 2, **overrides)
    check = _check(site, world)
    assert site.status is SiteStatus.not_eligible
    failed = {r["code"]: r for r in check.results if r["outcome"] != "passed"}
    assert list(failed) == [failed_code]
    assert failed[failed_code]["observed"] and failed[failed_code]["reason"]


def test_meter_already_used_in_another_programme_is_refused_as_double_counting(world, registered, make_site):
    first = make_site(registered, 3)
    _check(first, world)
    _route(registered, InclusionRoute.coordinator)
    services.include_sites(registered, actor=world.coordinator, site_ids=[first.id], included_on=TODAY)

    copy = make_site(
        registered,
        4,
        meters=[
            {
                "serial": " mtr-00003 ",
                "accuracy_class": "0.5S",
                "calibrated_on": date(2025, 2, 1),
                "calibration_valid_until": date(2030, 2, 1),
            }
        ],
    )
    check = _check(copy, world)
    [result] = [r for r in check.results if r["code"] == "EC-07"]
    assert result["outcome"] == "failed" and "CPA-9003" in result["reason"]


def test_duplicate_location_needs_review_and_cannot_be_included(world, registered, make_site):
    original = make_site(registered, 5)
    twin = make_site(registered, 6, latitude=original.latitude, longitude=original.longitude)
    check = _check(twin, world)
    [result] = [r for r in check.results if r["code"] == "EC-07"]
    assert result["outcome"] == "needs_review" and "CPA-9005" in result["reason"]
    assert twin.status is SiteStatus.not_eligible


def test_conflict_appearing_after_the_check_is_caught_at_inclusion(world, registered, make_site):
    _route(registered, InclusionRoute.coordinator)
    first, second = make_site(registered, 7), make_site(registered, 8)
    _check(first, world), _check(second, world)
    services.include_sites(registered, actor=world.coordinator, site_ids=[first.id], included_on=TODAY)
    second.meters[0].serial = "MTR-00007"  # a data fix that slipped past a re-check
    with pytest.raises(RuleViolation) as refusal:
        services.include_sites(registered, actor=world.coordinator, site_ids=[second.id], included_on=TODAY)
    assert refusal.value.code == "not_includable" and "CPA-9008" in refusal.value.errors


def test_batch_inclusion_is_all_or_nothing(world, registered, make_site):
    _route(registered, InclusionRoute.coordinator)
    good, bad = make_site(registered, 9), make_site(registered, 10, documents=[])
    _check(good, world), _check(bad, world)
    with pytest.raises(RuleViolation):
        services.include_sites(
            registered, actor=world.coordinator, site_ids=[good.id, bad.id], included_on=TODAY
        )
    assert good.status is SiteStatus.eligible


def test_verifier_confirms_inclusion_when_the_programme_requires_it(world, registered, make_site):
    site = make_site(registered, 11)
    _check(site, world)
    [pending] = services.include_sites(
        registered, actor=world.coordinator, site_ids=[site.id], included_on=TODAY
    )
    assert pending.status is SiteStatus.awaiting_confirmation and pending.included_on is None

    with pytest.raises(NotAllowed):
        services.confirm_inclusion(site, actor=world.coordinator, included_on=TODAY)
    services.confirm_inclusion(site, actor=world.verifier, included_on=TODAY)
    assert site.status is SiteStatus.included and site.inclusion_confirmed_by_id == world.verifier.id


def test_gold_standard_route_includes_directly_after_a_verified_site_of_the_same_technology(
    world, registered, make_site
):
    _route(registered, InclusionRoute.verifier_until_first_verified)
    first, second, third = make_site(registered, 12), make_site(registered, 13), make_site(registered, 17)
    _check(first, world), _check(second, world), _check(third, world)
    services.include_sites(registered, actor=world.coordinator, site_ids=[first.id], included_on=TODAY)
    assert first.status is SiteStatus.awaiting_confirmation
    services.confirm_inclusion(first, actor=world.verifier, included_on=TODAY)
    # A confirmed inclusion is not yet a passed verification.
    services.include_sites(registered, actor=world.coordinator, site_ids=[third.id], included_on=TODAY)
    assert third.status is SiteStatus.awaiting_confirmation
    first.last_verified_on = TODAY  # as a positive verification statement does (verification tests)
    services.include_sites(registered, actor=world.coordinator, site_ids=[second.id], included_on=TODAY)
    assert second.status is SiteStatus.included
    assert (second.replication_order, second.support_rate) == (2, Decimal("0.40"))


def test_crediting_cannot_start_before_inclusion(world, registered, make_site):
    _route(registered, InclusionRoute.coordinator)
    site = make_site(registered, 14)
    _check(site, world)
    with pytest.raises(Exception, match="before inclusion"):
        services.include_sites(
            registered,
            actor=world.coordinator,
            site_ids=[site.id],
            included_on=TODAY,
            crediting_start=TODAY - timedelta(days=1),
        )


def test_erroneous_inclusion_holds_the_programme_and_exclusion_is_forever(world, registered, make_site):
    _route(registered, InclusionRoute.coordinator)
    site = make_site(registered, 15)
    _check(site, world)
    services.include_sites(registered, actor=world.coordinator, site_ids=[site.id], included_on=TODAY)

    services.put_under_review(site, actor=world.registry_administrator, reason="Meter shared with a mill")
    assert registered.inclusion_hold and registered.issuance_hold
    newcomer = make_site(registered, 16)
    _check(newcomer, world)
    with pytest.raises(RuleViolation) as refusal:
        services.include_sites(registered, actor=world.coordinator, site_ids=[newcomer.id], included_on=TODAY)
    assert refusal.value.code == "inclusion_hold"

    services.exclude_site(
        site, actor=world.registry_administrator, reason="Confirmed", credits_to_replace=120
    )
    assert site.status is SiteStatus.excluded and site.credits_to_replace == 120
    with pytest.raises(RuleViolation):
        services.withdraw_site(site, actor=world.coordinator, reason="try")

    # Its meter can never be included again, in any programme.
    reuse = make_site(
        world.other_programme,
        17,
        actor=world.outsider,
        meters=[{"serial": "MTR-00015", "accuracy_class": "0.5S"}],
    )
    conflicts = services.find_conflicts(reuse)
    assert [c.kind.value for c in conflicts] == ["permanent_exclusion"]


def test_cleared_review_lifts_the_holds(world, registered, make_site):
    _route(registered, InclusionRoute.coordinator)
    site = make_site(registered, 18)
    _check(site, world)
    services.include_sites(registered, actor=world.coordinator, site_ids=[site.id], included_on=TODAY)
    services.put_under_review(site, actor=world.registry_administrator, reason="Check")
    services.clear_review(site, actor=world.registry_administrator, today=TODAY)
    assert site.status in (SiteStatus.included, SiteStatus.crediting)
    assert not registered.inclusion_hold and not registered.issuance_hold


def test_withdrawn_site_frees_its_serials(world, registered, make_site):
    _route(registered, InclusionRoute.coordinator)
    site = make_site(registered, 19)
    _check(site, world)
    services.include_sites(registered, actor=world.coordinator, site_ids=[site.id], included_on=TODAY)
    services.withdraw_site(site, actor=world.coordinator, reason="Factory closed")
    successor = make_site(
        registered,
        20,
        meters=[
            {
                "serial": "MTR-00019",
                "accuracy_class": "0.5S",
                "calibrated_on": date(2025, 2, 1),
                "calibration_valid_until": date(2030, 2, 1),
            }
        ],
    )
    assert services.find_conflicts(successor) == []


def test_site_operator_sees_only_their_site(world, registered, make_site, db):
    make_site(registered, 21)
    visible = db.session.scalars(services.list_sites(world.site_operator)).all()
    assert [s.id for s in visible] == [m.site_id for m in world.site_operator.memberships]
    assert len(db.session.scalars(services.list_sites(world.viewer, programme=registered)).all()) == 2
    assert db.session.scalars(services.list_sites(world.outsider, programme=registered)).all() == []


def test_included_site_facts_are_frozen(world, registered, make_site):
    _route(registered, InclusionRoute.coordinator)
    site = make_site(registered, 22)
    _check(site, world)
    services.include_sites(registered, actor=world.coordinator, site_ids=[site.id], included_on=TODAY)
    with pytest.raises(RuleViolation):
        services.update_site(site, actor=world.coordinator, capacity_kw=900)


def test_changed_facts_send_an_eligible_site_back_to_draft(world, registered, make_site):
    site = make_site(registered, 23)
    _check(site, world)
    services.update_site(site, actor=world.coordinator, capacity_kw=900)
    assert site.status is SiteStatus.draft


def test_renewable_crediting_period_renews_at_most_twice_and_never_past_the_programme(
    world, registered, make_site
):
    version = registered.current_version
    version.inclusion_route, version.crediting_period_type = (
        InclusionRoute.coordinator,
        CreditingPeriodType.renewable,
    )
    version.crediting_period_years, version.max_renewals = 7, 2
    site = make_site(registered, 24)
    _check(site, world)
    services.include_sites(
        registered, actor=world.coordinator, site_ids=[site.id], included_on=date(2026, 11, 2)
    )
    assert (site.crediting_end, site.renewals_left) == (date(2033, 11, 1), 2)
    services.advance_crediting(today=date(2026, 11, 2))

    services.renew_crediting_period(site, actor=world.coordinator, renewed_on=date(2033, 10, 1))
    assert (site.crediting_start, site.crediting_end, site.renewals_left) == (
        date(2033, 11, 2),
        date(2040, 11, 1),
        1,
    )
    services.renew_crediting_period(site, actor=world.coordinator, renewed_on=date(2040, 10, 1))
    assert (site.crediting_end, site.renewals_left) == (date(2047, 11, 1), 0)
    with pytest.raises(RuleViolation) as refusal:
        services.renew_crediting_period(site, actor=world.coordinator, renewed_on=date(2047, 10, 1))
    assert refusal.value.code == "no_renewal_left"
    with pytest.raises(NotAllowed):
        services.renew_crediting_period(site, actor=world.verifier, renewed_on=date(2047, 10, 1))


def test_fixed_crediting_period_has_no_renewal(world, registered, make_site):
    _route(registered, InclusionRoute.coordinator)  # the JCM default: fixed 10 years
    site = make_site(registered, 25)
    _check(site, world)
    services.include_sites(registered, actor=world.coordinator, site_ids=[site.id], included_on=TODAY)
    services.advance_crediting(today=TODAY)
    assert site.renewals_left == 0
    with pytest.raises(RuleViolation):
        services.renew_crediting_period(site, actor=world.coordinator, renewed_on=TODAY)
