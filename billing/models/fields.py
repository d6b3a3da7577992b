from django.db import models

from billing.money import DECIMAL_PLACES, MAX_DIGITS


def money_field(*args, **kwargs):
    return models.DecimalField(*args, max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs)
