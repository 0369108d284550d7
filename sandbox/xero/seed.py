"""Builds every organisation's ledger from the seed, then numbers the documents by date."""

from __future__ import annotations

import gc
from datetime import date
from datetime import datetime

from sandbox.xero.catalog import SIZES
from sandbox.xero.data import Builder
from sandbox.xero.data import build_contacts
from sandbox.xero.data import make_orgs
from sandbox.xero.data_credits import build_batches
from sandbox.xero.data_credits import build_credits
from sandbox.xero.data_invoices import build_invoices
from sandbox.xero.models import Ledger
from sandbox.xero.models import Org


def build_ledgers(
    seed: int, size: str, today: date, now: datetime, fleet: int = 0
) -> dict[str, Ledger]:
    """Tenant id -> Ledger for the three seeded organisations and `fleet` tiny ones."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, not {size!r}")
    ledgers = {}
    collecting = gc.isenabled()
    gc.disable()  # the build only allocates; cyclic GC passes over it cost more than they free
    try:
        for org in make_orgs(seed, now, fleet):
            ledgers[org.tenant_id] = _build(org, seed, size, today, now)
    finally:
        if collecting:
            gc.enable()
            gc.collect()  # age the new objects now, not during the first API request
    return ledgers


def _build(org: Org, seed: int, size: str, today: date, now: datetime) -> Ledger:
    builder = Builder(org, seed, size, today, now)
    build_contacts(builder)
    build_invoices(builder)
    build_credits(builder)
    build_batches(builder)
    _number(builder)
    return builder.ledger


def _number(b: Builder) -> None:
    """Numbers documents by date and stores everything in date order (the default list order)."""
    ledger = b.ledger
    ledger.invoices = dict(sorted(ledger.invoices.items(), key=lambda kv: (kv[1].date, kv[0])))
    ledger.payments = dict(sorted(ledger.payments.items(), key=lambda kv: (kv[1].date, kv[0])))
    for kind in ("creditnote", "overpayment", "prepayment"):
        docs = ledger.docs(kind)
        ordered = sorted(docs.items(), key=lambda kv: (kv[1].date, kv[0]))
        docs.clear()
        docs.update(ordered)
    sales = sorted(
        (i for i in ledger.invoices.values() if i.type == "ACCREC"), key=lambda i: (i.date, i.id)
    )
    for position, invoice in enumerate(sales, start=1):
        invoice.number = f"INV-{position:04d}"
    for invoice in ledger.invoices.values():
        if invoice.type == "ACCPAY":
            invoice.number = f"SUP-{b.rng.randrange(10000, 99999)}"
    credits = sorted(
        (d for d in ledger.credit_notes.values() if d.type == "ACCRECCREDIT"),
        key=lambda d: (d.date, d.id),
    )
    for position, doc in enumerate(credits, start=1):
        doc.number = f"CN-{position:04d}"
    ledger.next_invoice_number = len(sales) + 1
    ledger.next_credit_number = len(credits) + 1
