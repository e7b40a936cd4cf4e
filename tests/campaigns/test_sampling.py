import random
from collections import Counter
from fractions import Fraction

import pytest

from campaigns.sampling import allocation, probe_size, stratified_sample

POPULATION_MIX = {
    "gmail": 1237,
    "yahoo": 511,
    "microsoft": 403,
    "yandex": 149,
    "mailru": 97,
    "other": 203,
}


def population(mix=POPULATION_MIX):
    """(subscriber_id, provider) pairs with interleaved, non-contiguous ids."""
    pairs = []
    next_id = 1000
    for provider, count in mix.items():
        for _ in range(count):
            pairs.append((next_id, provider))
            next_id += 7
    random.Random(42).shuffle(pairs)
    return pairs


@pytest.mark.parametrize(
    ("recipients", "expected"),
    [
        (0, 0),
        (1, 1),
        (9, 1),
        (10, 1),
        (11, 2),
        (2_500, 250),
        (2_501, 251),
        (9_990, 999),
        (10_000, 1_000),
        (10_001, 1_000),
        (20_000, 1_000),
    ],
)
def test_probe_size_is_ten_percent_rounded_up_and_capped(recipients, expected):
    assert probe_size(recipients, share=0.10, cap=1000) == expected


def test_probe_size_does_not_suffer_float_error():
    # 100 * 0.07 is 7.000000000000001 in floats, which would round up to 8.
    assert 100 * 0.07 > 7
    assert probe_size(100, share=0.07, cap=1000) == 7
    assert probe_size(101, share=0.07, cap=1000) == 8


def test_probe_size_follows_the_share_and_cap_given():
    assert probe_size(2_500, share=0.2, cap=1000) == 500
    assert probe_size(2_500, share=0.10, cap=100) == 100
    assert probe_size(3, share=1.0, cap=1000) == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"recipients": -1, "share": 0.1, "cap": 1000},
        {"recipients": 10, "share": 0.0, "cap": 1000},
        {"recipients": 10, "share": 1.5, "cap": 1000},
        {"recipients": 10, "share": 0.1, "cap": 0},
    ],
)
def test_probe_size_refuses_nonsense(kwargs):
    recipients = kwargs.pop("recipients")
    with pytest.raises(ValueError):
        probe_size(recipients, **kwargs)


def test_allocation_uses_largest_remainders_with_ties_by_name():
    # Quotas 2.5, 1.5, 1: one seat left, the .5 tie goes to "gmail", which sorts first.
    assert allocation({"yahoo": 3, "gmail": 5, "other": 2}, 5) == {
        "yahoo": 1,
        "gmail": 3,
        "other": 1,
    }


def test_allocation_gives_left_over_seats_to_the_largest_remainders():
    # Quotas 6.3, 2.1, 1.6: floors 6, 2, 1 leave one seat, for "c" (0.6).
    assert allocation({"a": 63, "b": 21, "c": 16}, 10) == {"a": 6, "b": 2, "c": 2}


def test_allocation_takes_everything_when_size_covers_the_total():
    assert allocation({"gmail": 3, "yahoo": 2}, 5) == {"gmail": 3, "yahoo": 2}
    assert allocation({"gmail": 3, "yahoo": 2}, 50) == {"gmail": 3, "yahoo": 2}


def test_allocation_of_nothing_and_of_empty_strata():
    assert allocation({"gmail": 3, "yahoo": 0}, 0) == {"gmail": 0, "yahoo": 0}
    assert allocation({"gmail": 3, "yahoo": 0, "other": 1}, 2) == {
        "gmail": 2,
        "yahoo": 0,
        "other": 0,
    }


def test_allocation_sums_to_size_and_stays_within_one_of_each_quota():
    total = sum(POPULATION_MIX.values())
    for size in (1, 7, 250, 261, 1000, total - 1):
        shares = allocation(POPULATION_MIX, size)
        assert sum(shares.values()) == size
        for provider, count in POPULATION_MIX.items():
            assert abs(shares[provider] - Fraction(count * size, total)) < 1
            assert 0 <= shares[provider] <= count


def test_the_sample_has_the_populations_provider_mix():
    pairs = population()
    size = probe_size(len(pairs), share=0.10, cap=1000)

    chosen = stratified_sample(pairs, size=size, seed=7)

    assert size == 260
    assert len(chosen) == size
    provider_of = dict(pairs)
    mix = Counter(provider_of[subscriber_id] for subscriber_id in chosen)
    for provider, count in POPULATION_MIX.items():
        assert abs(mix[provider] - Fraction(count * size, len(pairs))) < 1
    assert mix == Counter(allocation(POPULATION_MIX, size))


def test_the_sample_is_sorted_distinct_ids_from_the_candidates():
    pairs = population()

    chosen = stratified_sample(pairs, size=100, seed=1)

    assert chosen == sorted(set(chosen))
    assert set(chosen) <= {subscriber_id for subscriber_id, _ in pairs}


def test_the_same_seed_gives_the_same_sample():
    pairs = population()

    assert stratified_sample(pairs, size=260, seed=7) == stratified_sample(pairs, size=260, seed=7)


def test_another_seed_gives_another_sample():
    pairs = population()

    assert stratified_sample(pairs, size=260, seed=7) != stratified_sample(pairs, size=260, seed=8)


def test_input_order_does_not_matter():
    pairs = population()
    shuffled = list(pairs)
    random.Random(3).shuffle(shuffled)

    assert shuffled != pairs
    assert stratified_sample(shuffled, size=260, seed=7) == stratified_sample(
        pairs, size=260, seed=7
    )
    assert stratified_sample(sorted(pairs), size=260, seed=7) == stratified_sample(
        pairs, size=260, seed=7
    )


def test_the_sample_is_spread_over_the_stratum_not_its_first_ids():
    pairs = [(subscriber_id, "gmail") for subscriber_id in range(1, 1001)]

    chosen = stratified_sample(pairs, size=100, seed=7)

    assert chosen != list(range(1, 101))
    assert max(chosen) > 500


@pytest.mark.parametrize("size", [5, 6, 100])
def test_a_size_covering_every_candidate_returns_them_all(size):
    pairs = [(9, "gmail"), (3, "yahoo"), (5, "other"), (1, "gmail"), (7, "other")]

    assert stratified_sample(pairs, size=size, seed=7) == [1, 3, 5, 7, 9]


def test_size_zero_and_no_candidates_give_nothing():
    assert stratified_sample([(1, "gmail"), (2, "yahoo")], size=0, seed=7) == []
    assert stratified_sample([], size=10, seed=7) == []


def test_repeated_ids_and_negative_sizes_are_refused():
    with pytest.raises(ValueError):
        stratified_sample([(1, "gmail"), (1, "yahoo")], size=1, seed=7)
    with pytest.raises(ValueError):
        stratified_sample([(1, "gmail")], size=-1, seed=7)
    with pytest.raises(ValueError):
        allocation({"gmail": 1}, -1)
