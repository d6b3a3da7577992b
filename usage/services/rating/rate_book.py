"""The rate table of one currency, in memory, and the dialable digits a number is looked up by."""

import re

from ...choices import RateKind
from ...models import Rate

_NON_DIGITS = re.compile(r"[^0-9]")


def dialable_digits(number: str) -> str:
    """The E.164 digits of a number, up to any obscured part; "" for a name shown instead."""
    if number[:1] == "+" and number.isascii() and number[1:].isdigit():
        return number[1:]  # the common form, E.164 as it should be
    text = number.strip()
    if text[:4].lower() == "tel:":
        text = text[4:]
    if not text or not (text[0] == "+" or text[0].isdigit()):
        return ""
    return _NON_DIGITS.sub("", text.split("*", 1)[0])


class RateBook:
    """The rate table of one currency, in memory: longest-prefix match and lookups by country."""

    def __init__(self, rates):
        self.outbound = {}
        self.by_country = {}
        self.toll_free = {}
        self.sms = {}
        for rate in rates:
            if rate.kind == RateKind.OUTBOUND:
                self.outbound.setdefault(rate.prefix, []).append(rate)
                if rate.country:
                    self.by_country.setdefault(rate.country, []).append(rate)
            elif rate.kind == RateKind.TOLL_FREE_INBOUND:
                self.toll_free.setdefault(rate.country, []).append(rate)
            elif rate.kind == RateKind.SMS:
                self.sms.setdefault(rate.country, []).append(rate)
        self.longest = max((len(p) for p in self.outbound), default=0)
        self._cache = {}
        for lines in (*self.outbound.values(), *self.toll_free.values(), *self.sms.values()):
            lines.sort(key=lambda r: r.effective_from, reverse=True)
        for lines in self.by_country.values():
            # A number shown as a name is priced at the country's base (shortest prefix) line.
            lines.sort(key=lambda r: (len(r.prefix), -r.effective_from.toordinal()))

    @classmethod
    def load(cls, currency):
        return cls(Rate.objects.filter(currency=currency))

    @staticmethod
    def _effective(lines, day):
        for rate in lines:
            if rate.effective_from <= day and (rate.effective_to is None or day < rate.effective_to):
                return rate
        return None

    def outbound_rate(self, digits: str, day, country: str = ""):
        # Remembered per (leading digits, day, country): a file holds few distinct answers.
        key = (digits[: self.longest], day, country)
        cache = self._cache
        if key in cache:
            return cache[key]
        if len(cache) > 200_000:
            cache.clear()
        rate = cache[key] = self._outbound_rate(key[0], day, country)
        return rate

    def _outbound_rate(self, digits: str, day, country: str = ""):
        outbound = self.outbound
        for length in range(min(len(digits), self.longest), 0, -1):
            lines = outbound.get(digits[:length])
            if lines:
                rate = self._effective(lines, day)
                if rate is not None:
                    return rate
        if country:
            return self._effective(self.by_country.get(country, ()), day)
        return None

    def toll_free_rate(self, country, day):
        return self._effective(self.toll_free.get(country, ()), day)

    def sms_rate(self, country, day):
        return self._effective(self.sms.get(country, ()), day)
