"""Paging large ordered lists without paying for the rows skipped over."""

from django.db.models import QuerySet


class DeferredJoin:
    """A QuerySet seen through Django's Paginator (or an API offset): a page's primary keys
    come from the ordering index alone, then only those rows are loaded. OFFSET 50,000 then
    walks 50,000 index entries instead of 50,000 table rows (with their joins)."""

    def __init__(self, queryset: QuerySet) -> None:
        self.queryset = queryset
        self.ordered = queryset.ordered

    def count(self) -> int:
        return self.queryset.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: slice) -> list:
        if not isinstance(index, slice):
            raise TypeError("DeferredJoin supports slices only")
        ids = list(self.queryset.values_list("pk", flat=True)[index])
        if not ids:
            return []
        rows = {obj.pk: obj for obj in self.queryset.filter(pk__in=ids)}
        return [rows[pk] for pk in ids if pk in rows]
