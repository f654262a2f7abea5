"""The suggested severity of an incident: one rule, in one place, plain Python.

The plan lists its severity levels most severe first (content.py). The suggestion reads the
affected systems' effective tiers (from the latest closed criticality review) and the kinds of
regulated data involved:

1. any affected system of tier 1, or special-category or health data  → the most severe level;
2. any affected system of tier 2, or any other regulated data (personal, card, financial
   reporting, credentials)                                           → the second level;
3. any affected system of tier 4 or lower only, with no regulated data → the least severe level;
4. otherwise (tier 3, or nothing known yet about systems or data)    → the third level.

A plan with fewer levels clamps to its least severe one. The incident commander may choose
another level, with a reason (Incident.severity_reason).
"""

GRAVE_DATA = frozenset({"special_category", "health"})


def suggest_severity(levels: list[str], system_tier: int | None, data_involved: list[str]) -> str:
    """The level the rule above suggests, from ``levels`` (the plan's keys, most severe first)."""
    if not levels:
        raise ValueError("The plan has no severity levels.")

    def level(index: int) -> str:
        return levels[min(index, len(levels) - 1)]

    data = set(data_involved)
    if system_tier == 1 or data & GRAVE_DATA:
        return level(0)
    if system_tier == 2 or data:
        return level(1)
    if system_tier is not None and system_tier >= 4:
        return levels[-1]
    return level(2)
