"""Build the seeded companies for a sandbox: sizes, realms, history and one customer merge."""

from __future__ import annotations

import random
from datetime import date
from datetime import datetime
from datetime import timedelta

from sandbox.quickbooks import ops
from sandbox.quickbooks.data import REALMS
from sandbox.quickbooks.data import SIZES
from sandbox.quickbooks.data import RealmSpec
from sandbox.quickbooks.data import finish_customers
from sandbox.quickbooks.data import local_instant
from sandbox.quickbooks.data import new_company
from sandbox.quickbooks.data import seed_company_info
from sandbox.quickbooks.data import seed_customers
from sandbox.quickbooks.data import seed_terms
from sandbox.quickbooks.history import History
from sandbox.quickbooks.history import rates_on
from sandbox.quickbooks.store import Company
from sandbox.quickbooks.store import Tx


def build_companies(seed: int, size: str, today: date, horizon: datetime) -> list[Company]:
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}")
    customers, invoices = SIZES[size]
    return [_build(spec, seed, customers, invoices, today, horizon) for spec in REALMS]


def _build(
    spec: RealmSpec, seed: int, customers: int, invoices: int, today: date, horizon: datetime
) -> Company:
    rnd = random.Random(f"{seed}:{spec.realm_id}")
    co = new_company(spec)
    start = datetime.combine(today - timedelta(days=1000), datetime.min.time(), co.tz)
    seed_terms(co, start)
    seed_company_info(co, spec, start)
    plans = seed_customers(co, spec, rnd, max(8, int(customers * spec.scale)), today, horizon)
    history = History(co, rnd, today, horizon)
    history.schedule(history.plan(plans, max(60, int(invoices * spec.scale))))
    history.run()
    history.on_account(plans, max(1, int(invoices * spec.scale) // 150))
    finish_customers(co, plans, rnd, today, horizon)
    _merge_one(co, rnd, today, horizon)
    co.rates = rates_on(co, today)
    for customer_id in list(co.entities["Customer"]):
        co.refresh_balance(customer_id)
    return co


def _merge_one(co: Company, rnd: random.Random, today: date, horizon: datetime) -> None:
    """One customer merged into another a few days ago (a Deleted entry in CDC)."""
    when = local_instant(co.tz, today - timedelta(days=rnd.randint(2, 6)), rnd, horizon)
    stamp = when.timestamp()
    active = [c for c in co.entities["Customer"].values() if c["Active"]]
    quiet = [
        c
        for c in active
        if co.updated["Customer"][c["Id"]] < stamp
        and co.customer_transactions(c["Id"])
        and all(co.updated[k][t["Id"]] < stamp for k, t in co.customer_transactions(c["Id"]))
    ]
    for source in quiet:
        targets = [
            c
            for c in active
            if c["Id"] != source["Id"]
            and c["CurrencyRef"] == source["CurrencyRef"]
            and co.updated["Customer"][c["Id"]] < stamp
        ]
        if targets:
            ops.merge_customers(Tx(co, when), source["Id"], rnd.choice(targets)["Id"])
            return
