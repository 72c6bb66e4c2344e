"""The catalogue, the e-mail retry schedule and the text helpers."""

from datetime import timedelta

import pytest

from poa_manager.notifications import catalogue


def test_categories_have_unique_keys_that_fit_the_column():
    keys = [category.key for category in catalogue.CATEGORIES]
    assert len(keys) == len(set(keys)) == len(catalogue.BY_KEY)
    assert all(
        len(key) <= 40 and category.label and category.recipients
        for key, category in catalogue.BY_KEY.items()
    )


@pytest.mark.parametrize(("attempts", "minutes"), [(1, 1), (2, 2), (3, 4), (7, 64)])
def test_retry_delay_doubles_from_one_minute(attempts, minutes):
    assert catalogue.retry_delay(attempts) == timedelta(minutes=minutes)


def test_the_eighth_failure_is_final_after_about_two_hours():
    assert not catalogue.is_final_failure(7) and catalogue.is_final_failure(8)
    waited = sum((catalogue.retry_delay(n) for n in range(1, 8)), timedelta())
    assert waited == timedelta(minutes=127)
    with pytest.raises(ValueError):
        catalogue.retry_delay(0)


def test_listing_names_the_first_items_and_counts_the_rest():
    assert catalogue.listing(["a", "b"]) == "- a\n- b"
    assert catalogue.listing([str(n) for n in range(5)], limit=3) == "- 0\n- 1\n- 2\n- … and 2 more"


def test_clip_and_plural():
    assert catalogue.clip("abcdef", 4) == "abc…" and catalogue.clip("abc", 4) == "abc"
    assert catalogue.plural(1, "site") == "1 site" and catalogue.plural(10000, "site") == "10,000 sites"
