"""Auto-recharge, billing's room for topping up a balance by itself, one module per job:

- `policy`: what admins set (on/off, amount, trigger, card, monthly cap), validated and audited;
- `arming`: when a round starts (a downward crossing of the trigger, told by the ledger's
  `EntryPosted`; an admin acting) and how a round is asked for (`request_round`);
- `rounds`: the round that charges, once per round, with its outcomes and back-off;
- `guards`: the burst guard, the monthly cap, and pausing;
- `support`: support staff's resume and retry;
- `card_expiry`: the warning before the card on file expires.

Its models are `AutoRechargePolicy` and `AutoRechargeState` (one-to-one with the account) and the
`AutoRechargeChange` audit trail. Work is enqueued only through billing/tasks.py.
"""
