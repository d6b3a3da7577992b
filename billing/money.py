"""Money: Decimal only, and the one rounding rule of the whole product.

Every amount that is stored, charged or shown is rounded to the cent with ROUND_HALF_UP (the rule
people learn at school, and the one the original export's numeric(16, 2) columns imply). Code that
computes a charge from rates keeps full precision until the end and calls `to_money` once.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_DIGITS = 16
DECIMAL_PLACES = 2


def to_money(value) -> Decimal:
    """Round a number (Decimal, int or numeric string; never float) to the cent."""
    if isinstance(value, float):
        raise TypeError("Money is never a float; pass a Decimal or a string.")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not an amount of money.") from exc
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount of money.")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal, currency: str) -> str:
    symbols = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$"}
    amount = to_money(amount)
    sign = "-" if amount < 0 else ""
    symbol = symbols.get(currency)
    if symbol:
        return f"{sign}{symbol}{abs(amount):,.2f}"
    return f"{sign}{abs(amount):,.2f} {currency}"
