"""Data that rating reads besides the rate lines: destinations (countries and regions with their
E.164 prefixes by number type), the country lists (Audio Conferencing Zone A, the countries a
Domestic and International Calling Plan includes) and the rate cards imported as CSV.

Support staff change them in Django admin; the files in usage/data/ are where they come from
(`manage.py load_destinations`), and what rating falls back to while a list has no row.
"""

import pycountry
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from .choices import CountryListKey, NumberType


def country_codes(text: str) -> list[str]:
    """The ISO 3166 codes of a list as typed: separated by spaces, commas or new lines, any case."""
    return [code for code in text.replace(",", " ").upper().split() if code]


def country_problems(codes) -> list[str]:
    """What is wrong with a list of country codes: unknown codes, and codes given twice."""
    known = _known_countries()
    problems = []
    unknown = sorted({code for code in codes if code not in known})
    if unknown:
        problems.append(f"Not ISO 3166 country codes: {', '.join(unknown)}.")
    seen, twice = set(), set()
    for code in codes:
        (twice if code in seen else seen).add(code)
    if twice:
        problems.append(f"Listed more than once: {', '.join(sorted(twice))}.")
    return problems


_KNOWN = set()


def _known_countries():
    if not _KNOWN:  # pycountry reads its table on first use: once, when a list is first checked
        _KNOWN.update(country.alpha_2 for country in pycountry.countries)
    return _KNOWN


class Destination(models.Model):
    """A country or region that can be called, with its E.164 country calling code."""

    country = models.CharField(max_length=2, unique=True, help_text="ISO 3166 alpha-2 code.")
    name = models.CharField(max_length=100)
    calling_code = models.CharField(max_length=4, help_text="E.164 country calling code, digits only (1, 44, 358).")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(country__regex=r"^[A-Z]{2}$"), name="usage_destination_iso_code"),
            models.CheckConstraint(condition=Q(calling_code__regex=r"^[1-9][0-9]{0,3}$"), name="usage_destination_calling_code"),
        ]

    def __str__(self):
        return f"{self.name} ({self.country}, +{self.calling_code})"

    def clean(self):
        self.country = self.country.upper()
        problems = country_problems([self.country])
        if problems:
            raise ValidationError({"country": problems})


class DestinationPrefix(models.Model):
    """An E.164 prefix of a destination and the type of numbers it starts (longest prefix wins).

    Within one number type a prefix is listed once; a longer prefix of another country splits a
    shared country code (+1 US, +1416 Canada; +7 Russia, +77 Kazakhstan)."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="prefixes")
    number_type = models.CharField(max_length=12, choices=NumberType.choices)
    prefix = models.CharField(max_length=15, help_text="E.164 digits without '+', e.g. 44, 447 or 1800.")
    description = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["prefix", "number_type"]
        verbose_name_plural = "destination prefixes"
        constraints = [
            models.UniqueConstraint(fields=["number_type", "prefix"], name="usage_destination_prefix_unique"),
            models.CheckConstraint(condition=Q(prefix__regex=r"^[0-9]{1,15}$"), name="usage_destination_prefix_digits"),
        ]

    def __str__(self):
        return f"+{self.prefix} {self.get_number_type_display()}"

    def clean(self):
        """A prefix starts with its country's calling code and does not overlap another of the same
        country and number type (it would say nothing the shorter one does not)."""
        if not self.prefix or self.destination_id is None:
            return
        code = self.destination.calling_code
        if not self.prefix.startswith(code):
            raise ValidationError({"prefix": f"+{self.prefix} does not start with {self.destination.country}'s calling code +{code}."})
        others = DestinationPrefix.objects.filter(destination=self.destination, number_type=self.number_type).exclude(pk=self.pk)
        for other in others.values_list("prefix", flat=True):
            if other.startswith(self.prefix) or self.prefix.startswith(other):
                raise ValidationError({"prefix": f"+{self.prefix} overlaps +{other}, another {self.get_number_type_display().lower()} "
                                                 f"prefix of {self.destination.country}."})


class CountryList(models.Model):
    """A list of countries rating reads, with where it comes from and of what date."""

    key = models.CharField(max_length=24, choices=CountryListKey.choices, unique=True)
    countries = models.TextField(help_text="ISO 3166 alpha-2 codes separated by spaces, each once (e.g. \"AT BE GB US\").")
    source = models.CharField(max_length=500, help_text="Where the list comes from: the page or document and its title.")
    source_date = models.DateField(help_text="The date of the source the list was checked against.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["key"]

    def __str__(self):
        return f"{self.get_key_display()} ({len(self.country_set)} countries)"

    @property
    def country_set(self) -> frozenset:
        return frozenset(country_codes(self.countries))

    def clean(self):
        codes = country_codes(self.countries)
        problems = country_problems(codes)
        if not codes:
            problems.append("The list is empty.")
        if problems:
            raise ValidationError({"countries": problems})
        self.countries = " ".join(sorted(codes))


class RateCard(models.Model):
    """A rate card imported as CSV: previewed, then applied (its lines become rate lines from its date)."""

    class Status(models.TextChoices):
        PREVIEWED = "previewed", "Previewed, not applied"
        APPLIED = "applied", "Applied"
        DISCARDED = "discarded", "Discarded"

    currency = models.CharField(max_length=3)
    effective_from = models.DateField()
    filename = models.CharField(max_length=255, blank=True)
    text = models.TextField(help_text="The CSV as it was uploaded.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PREVIEWED)
    lines = models.PositiveIntegerField(default=0)
    new_lines = models.PositiveIntegerField(default=0)
    changed_lines = models.PositiveIntegerField(default=0)
    removed_lines = models.PositiveIntegerField(default=0)
    unchanged_lines = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"Rate card {self.currency} from {self.effective_from} ({self.get_status_display()})"
