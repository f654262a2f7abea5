"""Counting related rows inside a list query."""

from django.db.models import Count, IntegerField, QuerySet, Subquery
from django.db.models.functions import Coalesce


def count_of(queryset: QuerySet, field: str) -> Coalesce:
    """A correlated COUNT of ``queryset`` (filtered on an OuterRef) grouped by ``field``, as an
    annotation: several counts side by side do not multiply one another through joins."""
    counted = queryset.order_by().values(field).annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)
