"""Destinations and country lists: loaded from the files in usage/data/ (a data migration and
`manage.py load_destinations`); support staff change them afterwards in Django admin."""

from dataclasses import dataclass
from types import SimpleNamespace

from django.db import transaction

from ..data import read_countries, read_country_lists, read_prefixes
from ..models import CountryList, Destination, DestinationPrefix

MODELS = SimpleNamespace(Destination=Destination, DestinationPrefix=DestinationPrefix, CountryList=CountryList)


@dataclass
class LoadResult:
    destinations: int = 0
    prefixes: int = 0
    lists: int = 0

    def __str__(self):
        return f"{self.destinations} destination(s), {self.prefixes} prefix(es) and {self.lists} country list(s) written."


def load_destinations(*, overwrite=False, models=MODELS) -> LoadResult:
    """Write the files' destinations, prefixes and country lists into the database.

    Without `overwrite` only what is missing is added, so a change made in Django admin stays; with
    it the database is made equal to the files (changes made in admin are replaced). `models` lets
    the data migration pass its historical models."""
    result = LoadResult()
    with transaction.atomic():
        existing = {d.country: d for d in models.Destination.objects.all()}
        for row in read_countries():
            found = existing.get(row.country)
            if found is None:
                existing[row.country] = models.Destination.objects.create(
                    country=row.country, name=row.name, calling_code=row.calling_code
                )
                result.destinations += 1
            elif overwrite and (found.name, found.calling_code) != (row.name, row.calling_code):
                found.name, found.calling_code = row.name, row.calling_code
                found.save(update_fields=["name", "calling_code"])
                result.destinations += 1
        if overwrite:
            models.DestinationPrefix.objects.all().delete()
        have = set(models.DestinationPrefix.objects.values_list("number_type", "prefix"))
        new = [
            models.DestinationPrefix(
                destination=existing[p.country], number_type=p.number_type, prefix=p.prefix, description=p.description
            )
            for p in read_prefixes()
            if (p.number_type, p.prefix) not in have
        ]
        models.DestinationPrefix.objects.bulk_create(new)
        result.prefixes = len(new)
        for key, item in read_country_lists().items():
            values = dict(countries=" ".join(sorted(item.countries)), source=item.source, source_date=item.source_date)
            if overwrite:
                models.CountryList.objects.update_or_create(key=key, defaults=values)
                result.lists += 1
            elif not models.CountryList.objects.filter(key=key).exists():
                models.CountryList.objects.create(key=key, **values)
                result.lists += 1
    return result
