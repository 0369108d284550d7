"""Eighteen months of seeded receivables history for one company.

Invoices are planned first (customer, lines, fate, when and how they get paid), a few cases are
forced so every overdue bucket and edge case exists even in the small data set, and then every
planned action is replayed in time order through `Tx`, so Ids, SyncTokens and timestamps come
out as QuickBooks would have produced them.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any
from typing import TypeVar

from sandbox.quickbooks import ops
from sandbox.quickbooks.data import BASE_RATES
from sandbox.quickbooks.data import CustomerPlan
from sandbox.quickbooks.data import local_instant
from sandbox.quickbooks.entities import RATE_STEP
from sandbox.quickbooks.entities import new_credit_memo
from sandbox.quickbooks.entities import new_invoice
from sandbox.quickbooks.entities import new_payment
from sandbox.quickbooks.entities import sales_line
from sandbox.quickbooks.entities import set_balance
from sandbox.quickbooks.entities import set_credit
from sandbox.quickbooks.store import Company
from sandbox.quickbooks.store import Tx
from sandbox.quickbooks.wire import money
from sandbox.quickbooks.wire import stamp

T = TypeVar("T")

HISTORY_DAYS = 540
PRICES = {
    "1": (60, 160),
    "2": (80, 220),
    "3": (150, 900),
    "4": (45, 120),
    "5": (12, 400),
    "6": (25, 600),
    "7": (15, 90),
}
BUCKETS = ((-10_000, 0), (1, 30), (31, 60), (61, 90), (91, 10_000))


@dataclass
class InvoicePlan:
    index: int
    customer: CustomerPlan
    day: date
    created: datetime
    lines: list[dict[str, Any]]
    total: Decimal
    due: date
    fate: str = "normal"  # normal | void | delete
    fate_at: datetime | None = None
    sent_at: datetime | None = None
    credit: Decimal = Decimal("0")
    credit_day: date | None = None
    credit_applied: bool = False
    pieces: list[tuple[date, Decimal]] = field(default_factory=list)
    entity: dict[str, Any] = field(default_factory=dict)  # the invoice, once replayed
    memo: dict[str, Any] = field(default_factory=dict)  # its credit memo, once replayed


def _later(step: Callable[[Tx, T], None], arg: T) -> Callable[[Tx], None]:
    """`step` with `arg` bound now, for the replay to run at its instant."""
    return lambda tx: step(tx, arg)


class History:
    def __init__(self, co: Company, rnd: random.Random, today: date, horizon: datetime) -> None:
        self.co, self.rnd, self.today, self.horizon = co, rnd, today, horizon
        self.last_day = today - timedelta(days=1)
        self.actions: list[tuple[datetime, int, int, Callable[[Tx], None]]] = []

    # ------------------------------------------------------------ planning

    def plan(self, customers: list[CustomerPlan], count: int) -> list[InvoicePlan]:
        cum: list[float] = []
        running = 0.0
        for customer in customers:
            running += customer.weight
            cum.append(running)
        days = sorted(
            self.today - timedelta(days=1 + int(self.rnd.random() * HISTORY_DAYS))
            for _ in range(count)
        )
        plans = [self._invoice(i, self._customer(customers, cum, d), d) for i, d in enumerate(days)]
        for plan in plans:
            self._fate(plan)
        self._force(plans)
        return plans

    def _customer(self, customers: list[CustomerPlan], cum: list[float], day: date) -> CustomerPlan:
        total = cum[-1]
        for _ in range(12):
            plan = customers[bisect.bisect(cum, self.rnd.random() * total)]
            if plan.since < day and (plan.active_until is None or day <= plan.active_until):
                return plan
        eligible = (p for p in customers if p.since < day and p.active_until is None)
        return next(eligible, customers[0])

    def _invoice(self, index: int, customer: CustomerPlan, day: date) -> InvoicePlan:
        lines = []
        for n in range(1, self.rnd.choice((1, 1, 2, 2, 3)) + 1):
            item = self.rnd.choice(list(PRICES))
            low, high = PRICES[item]
            price = Decimal(f"{self.rnd.uniform(low, high):.2f}")
            qty = Decimal(self.rnd.choice((1, 1, 1, 2, 3, 4, 6, 8)))
            lines.append(sales_line(n, item, qty, price, f"{day:%B} work"))
        total = sum((line["Amount"] for line in lines), Decimal("0"))
        created = local_instant(self.co.tz, day, self.rnd, self.horizon)
        due = day + timedelta(days=customer.term[2])
        return InvoicePlan(index, customer, day, created, lines, total, due)

    def _fate(self, plan: InvoicePlan) -> None:
        roll = self.rnd.random()
        if "PrimaryEmailAddr" in plan.customer.entity and self.rnd.random() < 0.85:
            plan.sent_at = min(
                plan.created + timedelta(minutes=self.rnd.randint(2, 120)), self.horizon
            )
        if roll < 0.025:
            plan.fate = "void" if roll < 0.015 else "delete"
            plan.fate_at = self._later(plan.created, self.rnd.randint(0, 10))
            return
        if self.rnd.random() < 0.04:
            self._give_credit(plan, self.rnd.random() < 0.6)
        never = self.rnd.random() < (0.3 if plan.customer.active_until else 0.04)
        if not never:
            self._payments(plan)

    def _later(self, instant: datetime, days: int) -> datetime:
        return min(instant + timedelta(days=days, hours=self.rnd.randint(1, 6)), self.horizon)

    def _give_credit(self, plan: InvoicePlan, applied: bool) -> None:
        day = plan.day + timedelta(days=self.rnd.randint(2, 10))
        if day > self.last_day:
            return
        plan.credit = money(plan.total * Decimal(str(self.rnd.uniform(0.1, 0.4))))
        plan.credit_day = day
        plan.credit_applied = applied

    def _payments(self, plan: InvoicePlan) -> None:
        owed = plan.total - (plan.credit if plan.credit_applied else 0)
        term = plan.customer.term
        amount = owed
        if term[3] and self.rnd.random() < 0.5:
            pay_day = plan.day + timedelta(days=self.rnd.randint(1, term[4]))
            if self.rnd.random() < 0.3:  # short-paid: took the early-payment discount themselves
                amount = money(owed * (100 - Decimal(term[3])) / 100)
        else:
            low, high = self.rnd.choices(
                ((-10, 0), (0, 15), (15, 60), (60, 150)), (25, 40, 25, 10)
            )[0]
            pay_day = plan.due + timedelta(days=self.rnd.randint(low, high))
        pay_day = max(pay_day, plan.day + timedelta(days=1))
        if plan.credit_day:
            pay_day = max(pay_day, plan.credit_day + timedelta(days=2))
        if pay_day > self.last_day or amount <= 0:
            return
        if self.rnd.random() < 0.08:
            first = money(amount * Decimal(str(self.rnd.uniform(0.3, 0.7))))
            plan.pieces = [(pay_day, first)]
            second = pay_day + timedelta(days=self.rnd.randint(15, 60))
            if second <= self.last_day:
                plan.pieces.append((second, amount - first))
        else:
            plan.pieces = [(pay_day, amount)]

    def _force(self, plans: list[InvoicePlan]) -> None:
        """Guarantee the cases tests and demos rely on, whatever the dice said."""
        normal = [p for p in plans if p.fate == "normal" and not p.credit]
        for low, high in BUCKETS:
            in_bucket = [p for p in normal if low <= (self.today - p.due).days <= high]
            if sum(1 for p in in_bucket if not p.pieces) < 2:
                for p in in_bucket[-2:]:
                    p.pieces = []
        recent = [p for p in normal if p.day >= self.today - timedelta(days=20) and not p.pieces]
        for plan, fate in zip(recent[:2], ("void", "delete"), strict=False):
            plan.fate, plan.fate_at, plan.sent_at = fate, self._later(plan.created, 1), None
        open_old = [
            p
            for p in normal
            if p.fate == "normal" and not p.pieces and p.day <= self.today - timedelta(days=40)
        ]
        if not any(p.pieces and sum(a for _, a in p.pieces) < p.total for p in plans):
            if open_old:
                target = open_old.pop()
                target.pieces = [
                    (target.day + timedelta(days=20), money(target.total * Decimal("0.4")))
                ]
        for applied in (True, False):
            if not any(p.credit and p.credit_applied == applied for p in plans) and open_old:
                self._give_credit(open_old.pop(), applied)

    # ------------------------------------------------------------ replay

    def schedule(self, plans: list[InvoicePlan]) -> None:
        for plan in plans:
            self._at(plan.created, 0, plan.index, _later(self._create, plan))
            if plan.sent_at:
                self._at(plan.sent_at, 1, plan.index, _later(self._send, plan))
            if plan.credit_day:
                self._schedule_credit(plan, plan.credit_day)
            if plan.fate != "normal" and plan.fate_at:
                self._at(plan.fate_at, 5, plan.index, _later(self._end, plan))
        self._schedule_payments(plans)

    def _at(self, instant: datetime, order: int, index: int, action: Callable[[Tx], None]) -> None:
        self.actions.append((instant, order, index, action))

    def _schedule_credit(self, plan: InvoicePlan, day: date) -> None:
        made = local_instant(self.co.tz, day, self.rnd, self.horizon)
        self._at(made, 2, plan.index, _later(self._credit, (plan, day)))
        if plan.credit_applied:
            applied = local_instant(self.co.tz, day + timedelta(days=1), self.rnd, self.horizon)
            self._at(max(applied, made), 3, plan.index, _later(self._apply_credit, plan))

    def _schedule_payments(self, plans: list[InvoicePlan]) -> None:
        by_customer: dict[str, list[tuple[date, InvoicePlan, Decimal]]] = {}
        for plan in plans:
            for day, amount in plan.pieces:
                by_customer.setdefault(plan.customer.entity["Id"], []).append((day, plan, amount))
        for pieces in by_customer.values():
            pieces.sort(key=lambda piece: (piece[0], piece[1].index))
            for group in self._group(pieces):
                day = max(piece[0] for piece in group)
                instant = local_instant(self.co.tz, day, self.rnd, self.horizon)
                order_key = group[0][1].index
                self._at(instant, 4, order_key, _later(self._pay, group))

    def _group(self, pieces: list[tuple[date, InvoicePlan, Decimal]]) -> list[list]:
        groups: list[list] = []
        for piece in pieces:
            current = groups[-1] if groups else None
            if (
                current
                and len(current) < 5
                and self.rnd.random() < 0.35
                and (piece[0] - current[0][0]).days <= 14
                and all(piece[1] is not other[1] for other in current)
            ):
                current.append(piece)
            else:
                groups.append([piece])
        return groups

    def run(self) -> None:
        self.actions.sort(key=lambda a: (a[0], a[1], a[2]))
        rates: dict[date, dict[str, Decimal]] = {}
        for instant, _, _, action in self.actions:
            day = instant.date()
            if day not in rates:
                rates[day] = rates_on(self.co, day)
            self.co.rates = rates[day]
            action(Tx(self.co, instant, silent=True))

    # ------------------------------------------------------------ actions

    def _rate(self, customer: dict[str, Any]) -> Decimal | None:
        if not self.co.multicurrency:
            return None
        currency = customer["CurrencyRef"]["value"]
        return Decimal("1") if currency == self.co.currency else self.co.rates[currency]

    def _create(self, tx: Tx, plan: InvoicePlan) -> None:
        customer = plan.customer.entity
        number = self.co.next_doc_number()
        invoice = new_invoice(
            self.co, customer, plan.lines, plan.day, plan.due, self._rate(customer), number
        )
        invoice["Id"] = self.co.next_id("Invoice")
        plan.entity = tx.create("Invoice", invoice)

    def _send(self, tx: Tx, plan: InvoicePlan) -> None:
        invoice = self.co.get("Invoice", plan.entity["Id"])
        if invoice is None or "BillEmail" not in invoice:
            return
        invoice["EmailStatus"] = "EmailSent"
        invoice["DeliveryInfo"] = {
            "DeliveryType": "Email",
            "DeliveryTime": stamp(tx.when, self.co.tz),
        }
        tx.update("Invoice", invoice)

    def _end(self, tx: Tx, plan: InvoicePlan) -> None:
        end = ops.void_invoice if plan.fate == "void" else ops.delete_invoice
        end(tx, plan.entity["Id"])

    def _credit(self, tx: Tx, planned: tuple[InvoicePlan, date]) -> None:
        plan, day = planned
        customer = plan.customer.entity
        line = sales_line(
            1, "1", Decimal("1"), plan.credit, f"Credit against invoice {plan.entity['DocNumber']}"
        )
        memo = new_credit_memo(
            self.co,
            customer,
            [line],
            day,
            self._rate(customer),
            self.co.next_doc_number(),
        )
        plan.memo = tx.create("CreditMemo", memo)

    def _apply_credit(self, tx: Tx, plan: InvoicePlan) -> None:
        links = [
            ("Invoice", plan.entity["Id"], plan.credit),
            ("CreditMemo", plan.memo["Id"], plan.credit),
        ]
        self._record(tx, plan.customer.entity, Decimal("0.00"), links)

    def _pay(self, tx: Tx, group: list[tuple[date, InvoicePlan, Decimal]]) -> None:
        links = [("Invoice", plan.entity["Id"], amount) for _, plan, amount in group]
        total = sum((amount for _, _, amount in group), Decimal("0.00"))
        self._record(tx, group[0][1].customer.entity, total, links)

    def _record(self, tx: Tx, customer: dict, total: Decimal, links: list) -> None:
        """Seeded payments skip ops' validation and copies: the plan is consistent by design."""
        ref = f"{self.rnd.randint(1000, 99999)}"
        payment = new_payment(
            self.co,
            customer,
            total,
            links,
            tx.when.astimezone(self.co.tz).date(),
            self._rate(customer),
            ref,
        )
        tx.create("Payment", payment)
        for kind, txn_id, amount in links:
            target = self.co.entities[kind][txn_id]
            if kind == "Invoice":
                set_balance(self.co, target, target["Balance"] - amount)
                target["LinkedTxn"].append({"TxnId": payment["Id"], "TxnType": "Payment"})
            else:
                set_credit(self.co, target, target["Balance"] - amount)
            tx.update(kind, target)

    def on_account(self, customers: list[CustomerPlan], count: int) -> None:
        """A few payments nobody applied yet (UnappliedAmt > 0)."""
        active = [c for c in customers if c.active_until is None]
        for _ in range(count):
            customer = self.rnd.choice(active).entity
            day = self.today - timedelta(days=self.rnd.randint(2, 40))
            instant = max(
                local_instant(self.co.tz, day, self.rnd, self.horizon),
                datetime.fromisoformat(customer["MetaData"]["CreateTime"]),
            )
            self.co.rates = rates_on(self.co, day)
            self._record(
                Tx(self.co, instant, silent=True), customer, money(self.rnd.uniform(50, 500)), []
            )


def rates_on(co: Company, day: date) -> dict[str, Decimal]:
    """Home-currency units per foreign unit, drifting smoothly with the date."""
    drift = Decimal(str(1 + 0.03 * math.sin(day.toordinal() / 60)))
    rates = {co.currency: Decimal("1")}
    for code in co.rates:
        if code != co.currency:
            rates[code] = (BASE_RATES.get(code, Decimal("1")) * drift).quantize(RATE_STEP)
    return rates
