"""Payment writes, split by topic:

- checkout.py  paying for a held session (waiver, credits, card) and settling it in the
               booking's confirm transaction; the booking-event listener
- webhooks.py  verified, idempotent provider events (Stripe and simulated)
- refunds.py   the cancellation policy applied, refunds sent through the provider
- credits.py   the credit ledger (balance never negative)
- payouts.py   the payout ledger (plan §2.4 routing)
- payout_runs.py  payout runs: unpaid net earnings transferred to each payee
"""
