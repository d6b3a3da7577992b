"""Destinations in memory: the country and number type of a dialled number (longest prefix), and
the country lists rating follows (Zone A, the Domestic and International Calling Plan's countries)."""

from ...choices import CountryListKey, NumberType
from ...data import read_country_lists, read_prefixes
from ...models import CountryList, DestinationPrefix


class DestinationBook:
    """Prefixes by number type and the country lists, loaded once per import (two queries)."""

    def __init__(self, prefixes, lists):
        self.prefixes = {}
        for prefix, country, number_type in prefixes:
            # A prefix listed for two number types (NANP mobiles share landline area codes): landline wins.
            if prefix not in self.prefixes or number_type == NumberType.LANDLINE:
                self.prefixes[prefix] = (country, number_type)
        self.longest = max((len(p) for p in self.prefixes), default=0)
        self.zone_a = lists[CountryListKey.ZONE_A]
        self.international_plan = lists[CountryListKey.INTERNATIONAL_PLAN]
        self._cache = {}

    @classmethod
    def load(cls):
        """From the database; a list (or the whole prefix table) that has no rows yet comes from usage/data/."""
        prefixes = list(DestinationPrefix.objects.values_list("prefix", "destination__country", "number_type"))
        if not prefixes:
            prefixes = [(p.prefix, p.country, p.number_type) for p in read_prefixes()]
        files = None
        lists = {}
        stored = {row.key: row.country_set for row in CountryList.objects.all()}
        for key in CountryListKey.values:
            if key in stored:
                lists[key] = stored[key]
            else:
                files = files or read_country_lists()
                lists[key] = frozenset(files[key].countries)
        return cls(prefixes, lists)

    def lookup(self, digits: str):
        """(country, number type) of the longest prefix the digits start with, or None."""
        key = digits[: self.longest]
        cache = self._cache
        if key in cache:
            return cache[key]
        if len(cache) > 200_000:
            cache.clear()
        found = None
        prefixes = self.prefixes
        for length in range(len(key), 0, -1):
            found = prefixes.get(key[:length])
            if found is not None:
                break
        cache[key] = found
        return found
