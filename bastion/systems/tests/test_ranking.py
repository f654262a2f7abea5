"""The criticality review's arithmetic (systems/ranking.py), on small examples worked by hand.

Dimensions, unless a test says otherwise: financial, operational, legal_regulatory,
reputational, safety, all weight 1. Tiers: ≥ 4 tier 1, ≥ 3 tier 2, ≥ 2 tier 3, else tier 4.
"""

import math

import pytest

from bastion.systems.ranking import (
    Aggregation,
    BudgetTolerance,
    Dimension,
    RatingInput,
    ReviewConfig,
    SystemInput,
    compute_results,
    tier_for,
)

KEYS = ("financial", "operational", "legal_regulatory", "reputational", "safety")


def system(id, name, *deps, rto=None, spend=None):
    return SystemInput(id=id, name=name, dependencies=tuple(deps), rto_hours=rto, security_spend=spend)


def rate(leader, system_id, *impacts, downtime=None, **named):
    """rate(10, 1, 5, 5, 4, 4, 2) gives the five dimensions in order; or by name."""
    values = dict(zip(KEYS, impacts, strict=False)) | named
    return RatingInput(leader, system_id, values, tolerable_downtime_hours=downtime)


def all_(leader, system_id, value, **kw):
    return rate(leader, system_id, *([value] * 5), **kw)


def summary(results):
    return [(r.name, r.score, r.rank, r.raters, r.tier) for r in results.ranking]


def test_weighted_score_per_leader_and_a_leader_who_skipped_a_system():
    systems = [system(1, "ERP"), system(2, "Wiki")]
    ratings = [
        rate(10, 1, 5, 5, 4, 4, 2),  # (5+5+4+4+2)/5 = 4.0
        rate(11, 1, financial=4, operational=3),  # blanks don't count: (4+3)/2 = 3.5
        # leader 12 skipped ERP altogether
        all_(10, 2, 1),  # 1.0
        rate(11, 2, financial=None),  # opened Wiki, rated nothing: skipped, not a rater
        rate(12, 2, operational=2),  # 2.0
    ]

    results = compute_results(systems, ratings)

    # ERP: mean(4.0, 3.5) = 3.75 → tier 2; Wiki: mean(1.0, 2.0) = 1.5 → tier 4
    assert summary(results) == [("ERP", 3.75, 1, 2, 2), ("Wiki", 1.5, 2, 2, 4)]
    erp = results.by_id[1]
    assert [(s.leader_id, s.score) for s in erp.leader_scores] == [(10, 4.0), (11, 3.5)]
    assert erp.spread == 0.5
    assert erp.stdev == 0.25  # deviations ±0.25 from 3.75
    assert [s.leader_id for s in results.by_id[2].leader_scores] == [10, 12]
    assert results.unrated == ()


def test_ties_share_a_rank_and_are_ordered_by_raters_then_name():
    systems = [system(1, "Billing"), system(2, "Alpha"), system(3, "Crm"), system(4, "Docs")]
    ratings = [
        all_(10, 1, 4), all_(11, 1, 4),  # Billing 4.0, two raters
        all_(10, 2, 4),  # Alpha 4.0, one rater
        rate(11, 3, financial=5, operational=3),  # Crm (5+3)/2 = 4.0, one rater
        all_(10, 4, 3),  # Docs 3.0
    ]

    results = compute_results(systems, ratings)

    # Three-way tie at 4.0: Billing first (2 raters), then Alpha, Crm by name; all rank 1.
    # Docs is fourth system, so rank 4 (standard competition ranking 1, 1, 1, 4).
    assert summary(results) == [
        ("Billing", 4.0, 1, 2, 1),
        ("Alpha", 4.0, 1, 1, 1),
        ("Crm", 4.0, 1, 1, 1),
        ("Docs", 3.0, 4, 1, 2),
    ]


def test_scores_equal_up_to_float_noise_are_a_tie():
    # Weights 0.1/0.2: 0.1*4 + 0.2*4 = 1.2000000000000002, / 0.30000000000000004 ≈ 4 - 4e-16.
    config = ReviewConfig(dimensions=(Dimension("financial", 0.1), Dimension("operational", 0.2)))
    systems = [system(1, "A"), system(2, "B")]
    ratings = [rate(10, 1, financial=4, operational=4), rate(10, 2, financial=4)]

    results = compute_results(systems, ratings, config)

    assert summary(results) == [("A", 4.0, 1, 1, 1), ("B", 4.0, 1, 1, 1)]


def test_high_water_mark_versus_mean_and_the_conversations_to_have():
    systems = [system(1, "Payroll")]
    ratings = [all_(1, 1, 5), all_(2, 1, 2), all_(3, 1, 2)]

    mean = compute_results(systems, ratings).by_id[1]
    high = compute_results(systems, ratings, ReviewConfig(aggregation=Aggregation.HIGH_WATER)).by_id[1]

    # Mean (5+2+2)/3 = 3.0 → tier 2; high-water max = 5.0 → tier 1.
    assert (mean.score, mean.tier) == (3.0, 2)
    assert (high.score, high.tier) == (5.0, 1)
    # Disagreement is the same either way: spread 5-2 = 3; stdev sqrt((4+1+1)/3) = sqrt(2).
    for result in (mean, high):
        assert result.spread == 3.0
        assert math.isclose(result.stdev, math.sqrt(2), abs_tol=1e-9)
    # Leader 1: 5 − mean(2, 2) = +3.0. Leaders 2 and 3: 2 − mean(5, 2) = −1.5 (exactly the gap).
    assert [(c.leader_id, c.leader_score, c.others_mean, c.gap) for c in mean.conversations] == [
        (1, 5.0, 2.0, 3.0),
        (2, 2.0, 3.5, -1.5),
        (3, 2.0, 3.5, -1.5),
    ]


def test_one_rater_means_no_disagreement_and_conversations_listed_largest_first():
    systems = [system(1, "Solo"), system(2, "Mail"), system(3, "Crm")]
    ratings = [
        all_(1, 1, 5),  # one rater: spread 0, stdev 0, nobody to disagree with
        all_(1, 2, 5), all_(2, 2, 3),  # Mail: gaps +2 and −2
        all_(1, 3, 1), all_(2, 3, 4), all_(3, 3, 4),  # Crm: leader 1 is 1 − 4 = −3 from the others
    ]

    results = compute_results(systems, ratings)

    solo = results.by_id[1]
    assert (solo.spread, solo.stdev, solo.conversations) == (0.0, 0.0, ())
    # Crm: leaders 2 and 3 are 4 − mean(1, 4) = +1.5 from the others, also conversations.
    assert [(c.system_name, c.leader_id, c.gap) for c in results.conversations] == [
        ("Crm", 1, -3.0),
        ("Mail", 1, 2.0),
        ("Mail", 2, -2.0),
        ("Crm", 2, 1.5),
        ("Crm", 3, 1.5),
    ]


def test_weights_change_the_order():
    systems = [system(1, "Shop"), system(2, "Plant")]
    ratings = [rate(10, 1, financial=5, safety=1), rate(10, 2, financial=1, safety=5)]
    equal = ReviewConfig(dimensions=(Dimension("financial"), Dimension("safety")))
    safety_first = ReviewConfig(dimensions=(Dimension("financial", 1), Dimension("safety", 3)))
    money_first = ReviewConfig(dimensions=(Dimension("financial", 3), Dimension("safety", 1)))

    # Equal weights: both (5+1)/2 = 3.0, a tie, by name.
    assert summary(compute_results(systems, ratings, equal)) == [
        ("Plant", 3.0, 1, 1, 2), ("Shop", 3.0, 1, 1, 2)
    ]
    # Safety ×3: Plant (1 + 15)/4 = 4.0, Shop (5 + 3)/4 = 2.0.
    assert summary(compute_results(systems, ratings, safety_first)) == [
        ("Plant", 4.0, 1, 1, 1), ("Shop", 2.0, 2, 1, 3)
    ]
    # Financial ×3: Shop (15 + 1)/4 = 4.0, Plant (3 + 5)/4 = 2.0.
    assert summary(compute_results(systems, ratings, money_first)) == [
        ("Shop", 4.0, 1, 1, 1), ("Plant", 2.0, 2, 1, 3)
    ]


def test_editable_thresholds():
    assert [tier_for(s, (4.5, 2.5)) for s in (5.0, 4.5, 4.4, 2.5, 1.0)] == [1, 1, 2, 2, 3]
    assert tier_for(None, (4.0,)) is None
    with pytest.raises(ValueError, match="descending"):
        compute_results([], [], ReviewConfig(tier_thresholds=(2.0, 3.0)))


def test_dependency_chain_raises_every_system_below_with_the_path():
    systems = [
        system(1, "ERP", 2),  # ERP → Payroll → Database → Backup
        system(2, "Payroll", 3),
        system(3, "Database", 4),
        system(4, "Backup"),
        system(5, "Reporting", 3),  # tier 2, also needs Database
        system(6, "Intranet", 7),  # tier 3 → Cms
        system(7, "Cms"),
    ]
    ratings = [
        all_(1, 1, 5),  # ERP 5.0 → tier 1
        all_(1, 2, 2),  # Payroll 2.0 → tier 3
        all_(1, 3, 3),  # Database 3.0 → tier 2
        all_(1, 4, 1),  # Backup 1.0 → tier 4
        all_(1, 5, 3),  # Reporting 3.0 → tier 2
        all_(1, 6, 2),  # Intranet 2.0 → tier 3
        all_(1, 7, 1),  # Cms 1.0 → tier 4
    ]

    results = compute_results(systems, ratings)
    tiers = {r.name: (r.tier, r.effective_tier) for r in results.systems}
    reasons = {r.name: r.raised.reason for r in results.systems if r.raised}

    assert tiers == {
        "ERP": (1, 1),
        "Payroll": (3, 1),
        "Database": (2, 1),  # tier 1 from ERP beats tier 2 from Reporting
        "Backup": (4, 1),
        "Reporting": (2, 2),
        "Intranet": (3, 3),
        "Cms": (4, 3),
    }
    assert reasons == {
        "Payroll": "Raised to tier 1 because ERP (tier 1) depends on it",
        "Database": "Raised to tier 1 because ERP (tier 1) depends on it through Payroll",
        "Backup": "Raised to tier 1 because ERP (tier 1) depends on it through Payroll → Database",
        "Cms": "Raised to tier 3 because Intranet (tier 3) depends on it",
    }
    backup = results.by_id[4].raised
    assert (backup.tier, backup.because_of, backup.via) == (1, 1, 3)
    assert results.raise_path(4) == (1, 2, 3, 4)
    assert results.raise_path(2) == (1, 2)
    assert results.raise_path(1) == ()  # ERP keeps its own tier
    # Raising changes the tier, not the score or the rank.
    assert [r.name for r in results.ranking][:1] == ["ERP"]
    assert results.by_id[4].rank == 6  # Backup and Cms tie at 1.0, last: ranks 6, 6


def test_dependency_cycle_ends_at_the_best_tier_without_looping():
    systems = [
        system(1, "Auth", 2),  # Auth → Billing → Cache → Auth: a cycle
        system(2, "Billing", 3),
        system(3, "Cache", 1),
        system(4, "Dashboard", 3),  # Dashboard (tier 1) → Cache
        system(5, "X", 6),  # X ↔ Y, a two-system cycle on its own
        system(6, "Y", 5),
        system(7, "Loop", 7),  # depends on itself
    ]
    ratings = [
        all_(1, 1, 3),  # Auth 3.0 → tier 2
        all_(1, 2, 1),  # Billing 1.0 → tier 4
        all_(1, 3, 2),  # Cache 2.0 → tier 3
        all_(1, 4, 4),  # Dashboard 4.0 → tier 1
        all_(1, 5, 2),  # X tier 3
        all_(1, 6, 3),  # Y tier 2
        all_(1, 7, 2),  # Loop tier 3
    ]

    results = compute_results(systems, ratings)
    effective = {r.name: r.effective_tier for r in results.systems}
    reasons = {r.name: r.raised.reason for r in results.systems if r.raised}

    # Dashboard (1) → Cache → Auth → Billing: the whole cycle ends at tier 1.
    # X ↔ Y: the cycle's best own tier is Y's 2.
    assert effective == {
        "Auth": 1, "Billing": 1, "Cache": 1, "Dashboard": 1, "X": 2, "Y": 2, "Loop": 3,
    }
    assert reasons == {
        "Cache": "Raised to tier 1 because Dashboard (tier 1) depends on it",
        "Auth": "Raised to tier 1 because Dashboard (tier 1) depends on it through Cache",
        "Billing": "Raised to tier 1 because Dashboard (tier 1) depends on it through Cache → Auth",
        "X": "Raised to tier 2 because Y (tier 2) depends on it",
    }


def test_a_long_chain_is_named_by_its_ends_and_does_not_hit_recursion_limits():
    # S0 → S1 → … → S2999; only S0 is rated (tier 1).
    n = 3000
    systems = [system(i, f"S{i}", *([i + 1] if i + 1 < n else [])) for i in range(n)]

    results = compute_results(systems, [all_(1, 0, 5)])

    assert {r.effective_tier for r in results.systems} == {1}
    assert results.by_id[5].raised.reason == (
        "Raised to tier 1 because S0 (tier 1) depends on it through S1 → S2 → S3 → S4"
    )
    assert results.by_id[n - 1].raised.reason == (
        "Raised to tier 1 because S0 (tier 1) depends on it through S1 → … → S2998 (2998 systems)"
    )
    assert results.raise_path(n - 1) == tuple(range(n))


def test_unrated_systems_have_no_score_but_can_be_raised():
    systems = [system(1, "ERP", 2), system(2, "Ldap"), system(3, "Old fax"), system(4, "Archive")]
    ratings = [all_(1, 1, 5), all_(2, 1, 4)]  # ERP 4.5 → tier 1; nobody rated the others

    results = compute_results(systems, ratings)

    assert summary(results) == [("ERP", 4.5, 1, 2, 1)]
    assert [(r.name, r.score, r.rank, r.raters, r.tier, r.effective_tier) for r in results.unrated] == [
        ("Archive", None, None, 0, None, None),
        ("Ldap", None, None, 0, None, 1),
        ("Old fax", None, None, 0, None, None),
    ]
    assert results.by_id[2].raised.reason == "Raised to tier 1 because ERP (tier 1) depends on it"


def test_rto_longer_than_the_strictest_tolerable_downtime_is_flagged():
    systems = [
        system(1, "ERP", rto=24),
        system(2, "Wiki", rto=72),
        system(3, "Crm"),  # no documented RTO: nothing to compare
        system(4, "Mail", rto=8),
    ]
    ratings = [
        all_(1, 1, 5, downtime=8), all_(2, 1, 4, downtime=48),  # strictest: 8 h < RTO 24 h
        all_(1, 2, 2, downtime=96),  # 96 h ≥ RTO 72 h: fine
        all_(1, 3, 3, downtime=1),
        RatingInput(2, 4, {}, tolerable_downtime_hours=4),  # a downtime without impacts still counts
    ]

    results = compute_results(systems, ratings)

    gaps = [(r.name, r.rto_hours, r.tolerable_downtime_hours) for r in results.rto_gaps]
    assert gaps == [("ERP", 24, 8), ("Mail", 8, 4)]
    assert results.by_id[4].score is None  # Mail is unrated, but its gap is still shown
    assert not results.by_id[2].rto_gap and not results.by_id[3].rto_gap


def test_budget_over_and_under_investment():
    systems = [
        system(1, "Crown", spend=10_000),
        system(2, "Middle", spend=30_000),
        system(3, "Small", spend=40_000),
        system(4, "Tiny", spend=20_000),
        system(5, "Nobody rated", spend=5_000),
    ]
    ratings = [all_(1, 1, 5), all_(1, 2, 3), all_(1, 3, 1), all_(1, 4, 1)]
    config = ReviewConfig(total_budget=210_000)

    budget = compute_results(systems, ratings, config).budget

    # Scores 5 + 3 + 1 + 1 = 10 → warranted 50%, 30%, 10%, 10%.
    # Spend on rated systems 100,000 → actual 10%, 30%, 40%, 20%.
    shares = {line.name: (line.warranted_share, line.actual_share, round(line.difference, 9)) for line in budget.lines}
    assert shares == {
        "Crown": (0.5, 0.1, -0.4),
        "Middle": (0.3, 0.3, 0.0),
        "Small": (0.1, 0.4, 0.3),
        "Tiny": (0.1, 0.2, 0.1),
    }
    # Ratio 1.5: Small 40% ≥ 15% and Tiny 20% ≥ 15% are over, largest gap first;
    # Crown 10% × 1.5 = 15% ≤ 50% is under. Middle is on target.
    assert [line.name for line in budget.over_invested] == ["Small", "Tiny"]
    assert [line.name for line in budget.under_invested] == ["Crown"]
    assert (budget.rated_spend, budget.unrated_spend, budget.total_spend) == (100_000, 5_000, 105_000)
    assert budget.budget_used == 0.5  # 105,000 of 210,000

    # A 15-point floor keeps Tiny (+10 points) off the list.
    floor = ReviewConfig(budget_tolerance=BudgetTolerance(ratio=1.5, points=0.15))
    budget = compute_results(systems, ratings, floor).budget
    assert [line.name for line in budget.over_invested] == ["Small"]
    assert [line.name for line in budget.under_invested] == ["Crown"]
    assert budget.budget_used is None  # no total budget given


def test_zero_spend_does_not_divide_by_zero():
    ratings = [all_(1, 1, 5), all_(1, 2, 1)]

    # Nobody recorded any spend: shares are 0 and nothing is listed.
    nothing = compute_results([system(1, "A"), system(2, "B", spend=0)], ratings, ReviewConfig(total_budget=0))
    assert [(line.warranted_share, line.actual_share) for line in nothing.budget.lines] == [
        (5 / 6, 0.0), (1 / 6, 0.0)
    ]
    assert (nothing.budget.over_invested, nothing.budget.under_invested) == ((), ())
    assert nothing.budget.budget_used is None

    # One system with spend, the crown jewel with none: it is the most under-invested.
    some = compute_results([system(1, "A"), system(2, "B", spend=1_000)], ratings).budget
    assert [line.name for line in some.under_invested] == ["A"]
    assert [line.name for line in some.over_invested] == ["B"]

    # No ratings at all: no lines, no error.
    empty = compute_results([system(1, "A", spend=500)], [])
    assert empty.budget.lines == () and empty.budget.unrated_spend == 500


@pytest.mark.parametrize(
    ("systems", "ratings", "message"),
    [
        ([system(1, "A")], [rate(1, 1, 6)], "1 to 5"),
        ([system(1, "A")], [rate(1, 1, 0)], "1 to 5"),
        ([system(1, "A")], [rate(1, 1, colour=3)], "Unknown impact dimension"),
        ([system(1, "A")], [rate(1, 2, 3)], "not in the review"),
        ([system(1, "A")], [rate(1, 1, 3), rate(1, 1, 4)], "twice"),
        ([system(1, "A", 9)], [], "depends on system 9"),
    ],
)
def test_bad_input_is_refused_not_guessed(systems, ratings, message):
    with pytest.raises(ValueError, match=message):
        compute_results(systems, ratings)
