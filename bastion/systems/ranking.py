"""The criticality review's arithmetic: leaders' ratings in, ranking, tiers and budget out.

Plain Python on dataclasses, no database: the review loads its rows once, calls
:func:`compute_results`, and stores what comes back. Everything here is deterministic for a
given input (ties and orderings are broken by name, then id).

The rules, in the order they apply:

1. **Leader score** for a system: ``sum(w_d * r_d) / sum(w_d)`` over the dimensions that
   leader rated (impact 1–5). Dimensions left blank don't count against the system; a leader
   who rated no dimension of a system (or only zero-weight ones) skipped it and is not one of
   its raters.
2. **System score**: the mean of its raters' scores, or their maximum ("high-water mark": the
   system is as critical as the leader who needs it most says).
3. **Disagreement**: the spread (max − min) and the population standard deviation of the
   raters' scores (the raters are all the leaders asked, not a sample); 0 with one rater. A
   leader whose score is ``conversation_gap`` or more away from the mean of the *other* raters
   is a conversation to have.
4. **Ranking**: by score, highest first; equal scores (to 1e-9) keep the same rank number,
   standard competition style (1, 2, 2, 4), and are listed with more raters first, then by
   name. Systems nobody rated have no score and no rank.
5. **Tier**: ``tier_thresholds`` are lower bounds, best first: with ``(4, 3, 2)`` a score ≥ 4
   is tier 1, ≥ 3 tier 2, ≥ 2 tier 3, anything lower tier 4.
6. **Effective tier**: a system that a tier-N system depends on, directly or through other
   systems, is at least tier N. The reason names the system that raised it and the path.
   Cycles are safe: each system is settled once, best tier first, so a cycle ends at the best
   tier of its members and of everything that depends on them.
7. **Tolerable downtime** is the shortest any leader gave (the strictest), counting a leader who
   gave a downtime but no impact. **RTO gap**: the documented RTO is longer than that.
8. **Budget**: see :func:`align_budget`.
"""

from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from math import sqrt
from typing import NamedTuple

DEFAULT_DIMENSIONS = ("financial", "operational", "legal_regulatory", "reputational", "safety")
DEFAULT_TIER_THRESHOLDS = (4.0, 3.0, 2.0)
# Scores equal to this precision are a tie (floating sums of the same ratings can differ
# in the last bit depending on the order they were added).
_PRECISION = 9
_EPSILON = 10**-_PRECISION


class Aggregation(StrEnum):
    MEAN = "mean"
    HIGH_WATER = "high_water"


@dataclass(frozen=True, slots=True)
class Dimension:
    key: str
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class SystemInput:
    """A system in the review's scope, as the register has it."""

    id: int
    name: str
    dependencies: tuple[int, ...] = ()
    rto_hours: float | None = None
    security_spend: float | None = None


@dataclass(frozen=True, slots=True)
class RatingInput:
    """One leader's answer for one system: impact 1–5 per dimension, tolerable downtime."""

    leader_id: int
    system_id: int
    impacts: Mapping[str, int | None]
    tolerable_downtime_hours: float | None = None


@dataclass(frozen=True, slots=True)
class BudgetTolerance:
    """When a gap between actual and warranted share is worth listing.

    A system is over-invested when its actual share is at least ``ratio`` times its warranted
    share, under-invested when at most ``1 / ratio`` times, and in both cases only if the
    difference is at least ``points`` (a fraction: 0.01 = one percentage point). A ratio
    suits any number of systems (at 5,000 systems every share is tiny); ``points`` keeps
    trivial amounts out of the lists.
    """

    ratio: float = 1.5
    points: float = 0.0


@dataclass(frozen=True, slots=True)
class ReviewConfig:
    dimensions: tuple[Dimension, ...] = tuple(Dimension(key) for key in DEFAULT_DIMENSIONS)
    aggregation: Aggregation = Aggregation.MEAN
    tier_thresholds: tuple[float, ...] = DEFAULT_TIER_THRESHOLDS
    conversation_gap: float = 1.5
    total_budget: float | None = None
    budget_tolerance: BudgetTolerance = field(default_factory=BudgetTolerance)


class LeaderScore(NamedTuple):
    # A named tuple, not a dataclass: there are as many as ratings, and tuples build fastest.
    leader_id: int
    score: float


@dataclass(frozen=True, slots=True)
class Conversation:
    """A leader far from the others on a system: ``gap`` = their score − the others' mean."""

    system_id: int
    system_name: str
    leader_id: int
    leader_score: float
    others_mean: float
    gap: float


@dataclass(frozen=True, slots=True)
class TierRaise:
    """Why a system's effective tier is better than its own.

    ``because_of`` is the system whose tier it inherits; ``via`` the system one step up the
    path, which depends on this one directly (``via == because_of`` for a direct dependency).
    The whole path is :meth:`ReviewResults.raise_path`.
    """

    tier: int
    because_of: int
    via: int
    reason: str


@dataclass(slots=True)
class SystemResult:
    system_id: int
    name: str
    score: float | None = None
    rank: int | None = None
    raters: int = 0
    leader_scores: tuple[LeaderScore, ...] = ()
    spread: float = 0.0
    stdev: float = 0.0
    conversations: tuple[Conversation, ...] = ()
    tolerable_downtime_hours: float | None = None
    rto_hours: float | None = None
    tier: int | None = None
    effective_tier: int | None = None
    raised: TierRaise | None = None

    @property
    def rated(self) -> bool:
        return self.score is not None

    @property
    def rto_gap(self) -> bool:
        """The documented RTO is longer than the leaders can tolerate."""
        return (
            self.rto_hours is not None
            and self.tolerable_downtime_hours is not None
            and self.rto_hours > self.tolerable_downtime_hours
        )


@dataclass(frozen=True, slots=True)
class BudgetLine:
    system_id: int
    name: str
    spend: float
    warranted_share: float
    actual_share: float

    @property
    def difference(self) -> float:
        """Actual − warranted share: positive is over-invested, negative under-invested."""
        return self.actual_share - self.warranted_share


@dataclass(frozen=True, slots=True)
class BudgetAlignment:
    lines: tuple[BudgetLine, ...]
    over_invested: tuple[BudgetLine, ...]
    under_invested: tuple[BudgetLine, ...]
    rated_spend: float
    unrated_spend: float
    total_budget: float | None

    @property
    def total_spend(self) -> float:
        return self.rated_spend + self.unrated_spend

    @property
    def budget_used(self) -> float | None:
        """Spend attributed to systems as a share of the total budget (None without a budget)."""
        if not self.total_budget:
            return None
        return self.total_spend / self.total_budget


@dataclass(frozen=True, slots=True)
class ReviewResults:
    ranking: tuple[SystemResult, ...]  # rated systems, best first
    unrated: tuple[SystemResult, ...]  # by name
    conversations: tuple[Conversation, ...]  # largest gap first, across all systems
    budget: BudgetAlignment
    by_id: Mapping[int, SystemResult]

    @property
    def systems(self) -> tuple[SystemResult, ...]:
        return self.ranking + self.unrated

    @property
    def rto_gaps(self) -> tuple[SystemResult, ...]:
        return tuple(result for result in self.systems if result.rto_gap)

    def raise_path(self, system_id: int) -> tuple[int, ...]:
        """The ids from the system that raised ``system_id`` down to it; () if not raised."""
        raised = self.by_id[system_id].raised
        if raised is None:
            return ()
        path = [system_id]
        while raised is not None and path[-1] != raised.because_of:
            path.append(raised.via)
            raised = self.by_id[raised.via].raised
        return tuple(reversed(path))


def compute_results(
    systems: Iterable[SystemInput],
    ratings: Iterable[RatingInput],
    config: ReviewConfig | None = None,
) -> ReviewResults:
    """Score, rank, tier and budget-check the systems of a review from its leaders' ratings.

    Raises ``ValueError`` on input the forms should have refused: an impact outside 1–5, an
    unknown dimension, a rating of a system not in scope, two ratings by one leader of one
    system, a dependency on a system not in scope, or thresholds not in descending order.
    """
    config = config or ReviewConfig()
    _check_config(config)
    by_id: dict[int, SystemInput] = {}
    for system in systems:
        if system.id in by_id:
            raise ValueError(f"System {system.id} is listed twice")
        by_id[system.id] = system

    weights = {d.key: float(d.weight) for d in config.dimensions}
    per_system: dict[int, list[tuple[int, float]]] = defaultdict(list)  # (leader, score)
    downtime: dict[int, float] = {}
    seen: set[tuple[int, int]] = set()
    for rating in ratings:
        sid = rating.system_id
        if sid not in by_id:
            raise ValueError(f"Rating of system {sid}, which is not in the review")
        pair = (rating.leader_id, sid)
        if pair in seen:
            raise ValueError(f"Leader {rating.leader_id} rated system {sid} twice")
        seen.add(pair)
        total = weight_sum = 0.0
        for key, value in rating.impacts.items():
            if value is None:
                continue
            weight = weights.get(key)
            if weight is None:
                raise ValueError(f"Unknown impact dimension {key!r}")
            if type(value) is not int or not 1 <= value <= 5:  # not bool, not float
                raise ValueError(f"Impact must be 1 to 5, got {value!r} for {key}")
            total += weight * value
            weight_sum += weight
        if weight_sum > 0:
            per_system[sid].append((rating.leader_id, total / weight_sum))
        hours = rating.tolerable_downtime_hours
        if hours is not None and (sid not in downtime or hours < downtime[sid]):
            downtime[sid] = hours

    results: dict[int, SystemResult] = {}
    conversations: list[Conversation] = []
    for sid, system in by_id.items():
        result = SystemResult(
            system_id=sid,
            name=system.name,
            rto_hours=system.rto_hours,
            tolerable_downtime_hours=downtime.get(sid),
        )
        leader_scores = per_system.get(sid)
        if leader_scores:
            _score(result, leader_scores, config)
            result.tier = tier_for(result.score, config.tier_thresholds)
            conversations.extend(result.conversations)
        results[sid] = result

    ranking = sorted(
        (r for r in results.values() if r.score is not None),
        key=lambda r: (-(r.score or 0.0), -r.raters, r.name, r.system_id),
    )
    previous: float | None = None
    for position, result in enumerate(ranking, start=1):
        if result.score != previous:
            result.rank = position
            previous = result.score
        else:
            result.rank = ranking[position - 2].rank
    unrated = sorted((r for r in results.values() if r.score is None), key=lambda r: (r.name, r.system_id))

    propagate_tiers(results, {sid: s.dependencies for sid, s in by_id.items()})
    conversations.sort(key=lambda c: (-abs(c.gap), c.system_name, c.system_id, c.leader_id))
    return ReviewResults(
        ranking=tuple(ranking),
        unrated=tuple(unrated),
        conversations=tuple(conversations),
        budget=align_budget(results, by_id, config),
        by_id=results,
    )


def _check_config(config: ReviewConfig) -> None:
    if not config.dimensions:
        raise ValueError("A review needs at least one impact dimension")
    if any(d.weight < 0 for d in config.dimensions):
        raise ValueError("Dimension weights cannot be negative")
    if len({d.key for d in config.dimensions}) != len(config.dimensions):
        raise ValueError("Impact dimensions must have different keys")
    thresholds = list(config.tier_thresholds)
    if any(a <= b for a, b in zip(thresholds, thresholds[1:], strict=False)):
        raise ValueError("Tier thresholds must be in descending order, tier 1 first")
    Aggregation(config.aggregation)  # ValueError if it is neither "mean" nor "high_water"


def _score(result: SystemResult, leader_scores: list[tuple[int, float]], config: ReviewConfig) -> None:
    leader_scores.sort()
    values = [score for _, score in leader_scores]
    n = len(values)
    total = sum(values)
    mean = total / n
    highest, lowest = max(values), min(values)
    aggregate = highest if Aggregation(config.aggregation) is Aggregation.HIGH_WATER else mean
    result.score = round(aggregate, _PRECISION)
    result.raters = n
    result.leader_scores = tuple(
        [LeaderScore(leader, round(score, _PRECISION)) for leader, score in leader_scores]
    )
    result.spread = round(highest - lowest, _PRECISION)
    result.stdev = round(sqrt(sum((v - mean) ** 2 for v in values) / n), _PRECISION) if n > 1 else 0.0
    if n < 2 or highest - lowest < config.conversation_gap - _EPSILON:
        return  # nobody can be that far from the others
    found = []
    for leader, score in leader_scores:
        others_mean = (total - score) / (n - 1)
        gap = score - others_mean
        if abs(gap) >= config.conversation_gap - _EPSILON:
            found.append(
                Conversation(
                    system_id=result.system_id,
                    system_name=result.name,
                    leader_id=leader,
                    leader_score=round(score, _PRECISION),
                    others_mean=round(others_mean, _PRECISION),
                    gap=round(gap, _PRECISION),
                )
            )
    found.sort(key=lambda c: (-abs(c.gap), c.leader_id))
    result.conversations = tuple(found)


def tier_for(score: float | None, thresholds: Sequence[float]) -> int | None:
    """The tier a score earns: 1 for the first threshold it reaches, len(thresholds)+1 below all."""
    if score is None:
        return None
    for tier, lower_bound in enumerate(thresholds, start=1):
        if score >= lower_bound:
            return tier
    return len(thresholds) + 1


def propagate_tiers(results: Mapping[int, SystemResult], dependencies: Mapping[int, Sequence[int]]) -> None:
    """Set ``effective_tier`` (and ``raised``) on every result, following dependencies.

    Best tier first, a breadth-first walk from the systems of that tier along "depends on"
    edges settles every system it reaches that is not settled yet. Each system is settled
    once, so cycles end the walk instead of looping, and a system gets the best tier of any
    system that depends on it (or its own), by the shortest path among those.
    """
    for sid, deps in dependencies.items():
        for dep in deps:
            if dep not in results:
                raise ValueError(f"System {sid} depends on system {dep}, which is not in the review")
    settled: set[int] = set()
    by_tier: dict[int, list[int]] = defaultdict(list)
    for sid, result in results.items():
        result.effective_tier = None
        result.raised = None
        if result.tier is not None:
            by_tier[result.tier].append(sid)
    for tier in sorted(by_tier):
        sources = sorted(sid for sid in by_tier[tier] if sid not in settled)
        # For each system reached: the one before it on the path, the first step after the
        # source, and how many steps from the source. Enough to name the path in O(1) each,
        # however long the chain.
        parent: dict[int, int] = {}
        first_step: dict[int, int] = {}
        depth = dict.fromkeys(sources, 0)
        queue = deque(sources)
        for sid in sources:
            settled.add(sid)
            results[sid].effective_tier = tier
        while queue:
            current = queue.popleft()
            for dep in sorted(set(dependencies.get(current, ()))):
                if dep in settled:
                    continue
                settled.add(dep)
                queue.append(dep)
                parent[dep] = current
                depth[dep] = depth[current] + 1
                first_step[dep] = dep if depth[dep] == 1 else first_step[current]
                source = parent[first_step[dep]]
                results[dep].effective_tier = tier
                results[dep].raised = TierRaise(
                    tier=tier,
                    because_of=source,
                    via=current,
                    reason=_raise_reason(tier, source, dep, parent, first_step, depth, results),
                )


def _raise_reason(
    tier: int,
    source: int,
    target: int,
    parent: Mapping[int, int],
    first_step: Mapping[int, int],
    depth: Mapping[int, int],
    results: Mapping[int, SystemResult],
) -> str:
    reason = f"Raised to tier {tier} because {results[source].name} (tier {tier}) depends on it"
    between = depth[target] - 1  # systems between the source and the target
    if between == 0:
        return reason
    if between <= 4:
        names = []
        sid = parent[target]
        while sid != source:
            names.append(results[sid].name)
            sid = parent[sid]
        return reason + " through " + " → ".join(reversed(names))
    first, last = results[first_step[target]].name, results[parent[target]].name
    return reason + f" through {first} → … → {last} ({between} systems)"


class Investment(StrEnum):
    OVER = "over"
    UNDER = "under"


def investment(
    warranted_share: float, actual_share: float, tolerance: BudgetTolerance | None = None
) -> Investment | None:
    """Whether a system's actual share of the spend is over or under what it warrants, by
    :class:`BudgetTolerance` (None: about right). Only meaningful when some spend is recorded."""
    tolerance = tolerance or BudgetTolerance()
    if abs(actual_share - warranted_share) < tolerance.points:
        return None
    if actual_share >= warranted_share * tolerance.ratio:
        return Investment.OVER
    if actual_share * tolerance.ratio <= warranted_share:
        return Investment.UNDER
    return None


def align_budget(
    results: Mapping[int, SystemResult], systems: Mapping[int, SystemInput], config: ReviewConfig
) -> BudgetAlignment:
    """Each rated system's warranted share of the security spend against its actual share.

    - **Warranted share** = the system's score / the sum of the scores of all rated systems:
      criticality, not tier, decides the share, so two systems just either side of a tier
      threshold warrant nearly the same.
    - **Actual share** = the system's spend / the spend on all *rated* systems. Both shares
      then sum to 100% over the same systems and can be compared line by line. Spend on
      systems nobody rated is reported separately (``unrated_spend``), and the total budget
      only gives context (``budget_used``): it also pays for things that are not systems.
    - A system without recorded spend counts as spending 0. With no spend at all, every actual
      share is 0 and nothing is listed as over- or under-invested: there is nothing to compare.
    - Over- and under-invested: see :class:`BudgetTolerance`; each list is ordered by the
      size of the gap, largest first.
    """
    rated = sorted((r for r in results.values() if r.score is not None), key=lambda r: (r.name, r.system_id))
    score_total = sum(r.score or 0.0 for r in rated)
    rated_spend = sum(float(systems[r.system_id].security_spend or 0) for r in rated)
    unrated_spend = sum(
        float(s.security_spend or 0) for sid, s in systems.items() if results[sid].score is None
    )
    lines = tuple(
        BudgetLine(
            system_id=r.system_id,
            name=r.name,
            spend=float(systems[r.system_id].security_spend or 0),
            warranted_share=(r.score or 0.0) / score_total if score_total else 0.0,
            actual_share=float(systems[r.system_id].security_spend or 0) / rated_spend if rated_spend else 0.0,
        )
        for r in rated
    )
    over: list[BudgetLine] = []
    under: list[BudgetLine] = []
    tolerance = config.budget_tolerance
    if rated_spend > 0:
        for line in lines:
            verdict = investment(line.warranted_share, line.actual_share, tolerance)
            if verdict is Investment.OVER:
                over.append(line)
            elif verdict is Investment.UNDER:
                under.append(line)
    over.sort(key=lambda line: (-line.difference, line.name))
    under.sort(key=lambda line: (line.difference, line.name))
    return BudgetAlignment(
        lines=lines,
        over_invested=tuple(over),
        under_invested=tuple(under),
        rated_spend=rated_spend,
        unrated_spend=unrated_spend,
        total_budget=config.total_budget,
    )
