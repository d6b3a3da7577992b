"""Rating: who pays for each call and SMS, and why.

For every record one outcome is decided and stored with a sentence saying why:

- emergency calls are free; inbound calls are free on every plan (minutes are unlimited);
- toll-free inbound minutes are charged to credits at the toll-free rate of the number's country;
- a conference dial-in is included with Audio Conferencing, or charged per minute when the
  organizer has Audio Conferencing pay-per-minute (MCOMEETACPEA);
- a conference dial-out draws the tenant's pool (60 minutes per Audio Conferencing user per month)
  when the destination is in Zone A; beyond the pool, outside Zone A, to a premium-rate number or on
  pay-per-minute it is charged to credits;
- an outbound call draws the pool of the caller's plan: per country per identical plan per calendar
  month (users x minutes), or the user's own minutes for a plan that is not pooled. International
  calls on a domestic-only plan, international calls to a country the Domestic and International
  plan does not include, premium-rate numbers, minutes beyond the pool, and every minute on
  Pay-As-You-Go or without a plan are charged to credits.
  The destination (country and number type) is the dialled number's, by the longest prefix of the
  destinations table; Zone A and the plan's countries are country lists kept as data.
- an outbound SMS draws the plan's SMS pool (US, PR and CA); beyond it, it is charged per segment.

Charges: pools count whole minutes, rounded up per call (a 61-second call is 2 minutes). A rate line
bills at least its minimum, then steps of its increment, in seconds (60/60, the default, is whole
minutes; 1/1 per second). A charge is `billed seconds / 60 x rate + connection fee`, kept at full
precision and rounded once, to the cent, half up, by billing.money.to_money (the one rounding rule
of the product). SMS: `segments x rate`, same rounding.

A charge needs a rate in the organization's currency (otherwise "not priced", FREECALL), a user who
holds the Communications Credits license (MCOPSTNPP) when the record has a user, and an account
that billing's can_charge_credits allows. The import checks the account once and then follows the
balance its own charges leave: the call that takes the balance to zero or below is charged (it was
made), and the ones after it are refused, as the live service would have refused them.

The rooms: plans.py (calling plans by capability), rate_book.py (the rate table in memory),
destinations.py (prefixes by number type and the country lists in memory),
context.py (what rating needs of one organization: people, pools, balance), rules.py (who pays
for a call or an SMS, and why) and authorization.py (may this user call this number now).
"""

from .authorization import Authorization, authorize_call
from .context import Outcome, RatingContext
from .destinations import DestinationBook
from .rate_book import dialable_digits
from .rules import billable_minutes, billed_seconds, call_price, rate_call, rate_sms

__all__ = [
    "Authorization",
    "DestinationBook",
    "Outcome",
    "RatingContext",
    "authorize_call",
    "billable_minutes",
    "billed_seconds",
    "call_price",
    "dialable_digits",
    "rate_call",
    "rate_sms",
]
