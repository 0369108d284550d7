"""The facts the evaluator reads: plain values, loaded by rules.load (or built by a test, or
reconstructed for a past day by rules.analysis.backtest). Nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

OPEN = "open"


@dataclass(slots=True)
class InvoiceFact:
    external_id: str
    customer_id: str
    number: str | None
    issue_date: date | None
    due_date: date | None
    currency: str
    total: Decimal
    balance: Decimal
    status: str = OPEN
    deleted: bool = False
    discount_percent: Decimal | None = None
    discount_days: int | None = None
    link: str | None = None
    last_paid_on: date | None = None  # latest payment applied to it
    email: str | None = None  # the invoice's own address (QuickBooks BillEmail)
    sent_to_customer: bool | None = None

    @property
    def is_open(self) -> bool:
        return self.status == OPEN and not self.deleted and self.balance > 0

    @property
    def anchor(self) -> date | None:
        """The date dunning is keyed to: the due date, else the issue date."""
        return self.due_date or self.issue_date


def days_past_anchor(invoices: Iterable[InvoiceFact], as_of: date) -> dict[str, int]:
    """Days from each dated invoice's anchor to `as_of` (negative before it), by external id;
    an invoice with neither date is left out (nothing can be keyed to it)."""
    return {
        i.external_id: (as_of - anchor).days for i in invoices if (anchor := i.anchor) is not None
    }


@dataclass(slots=True)
class CustomerFact:
    external_id: str
    name: str = ""
    email: str | None = None
    currency: str | None = None
    active: bool = True
    deleted: bool = False
    merged_into: str | None = None
    timezone: str | None = None
    tags: frozenset[str] = frozenset()
    do_not_contact: bool = False
    on_hold: bool = False  # effective: the profile, or the latest live hold action
    hold_by_rule: bool = False  # the hold came from a rule's action, so a rule may lift it
    hold_changed_at: datetime | None = None  # a person last set or lifted the hold
    billed_12m: Decimal | None = None
    avg_days_late: Decimal | None = None
    invoices: list[InvoiceFact] = field(default_factory=list)
    # Unapplied credit by currency: credit notes' (and Xero overpayments') remaining credit and
    # payments' unapplied amounts.
    credit: dict[str, Decimal] = field(default_factory=dict)
    # Invoices the business has not sent to the customer yet (loaded when invoice delivery is
    # on): open ones, and Xero's SUBMITTED ones (mirrored as drafts).
    unsent: list[InvoiceFact] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DisputeFact:
    id: int
    invoice_id: str
    reason: str
    opened_on: date
    closed_on: date | None = None

    def active_on(self, day: date) -> bool:
        return self.opened_on <= day and (self.closed_on is None or day < self.closed_on)


@dataclass(frozen=True, slots=True)
class PromiseFact:
    """A promise to pay the invoices it names (stored when it was made: the customer's open
    invoices then, unless some were named). Promises recorded before the invoices were stored
    name none; they cover the invoices issued by the day the promise was made."""

    id: int
    customer_id: str
    invoice_ids: frozenset[str]
    promised_on: date
    until: date
    balance_at_promise: Decimal
    amount: Decimal | None = None
    cancelled_on: date | None = None

    def covers(self, inv: InvoiceFact) -> bool:
        """The invoices the promise names; a promise naming none covers every invoice issued by the
        promised date."""
        if self.invoice_ids:
            return inv.external_id in self.invoice_ids
        return inv.issue_date is None or inv.issue_date <= self.promised_on


@dataclass(frozen=True, slots=True)
class Instalment:
    number: int
    due_on: date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PlanFact:
    id: int
    customer_id: str
    invoice_ids: frozenset[str]
    instalments: tuple[Instalment, ...]
    start_balance: Decimal
    created_on: date
    currency: str = ""
    cancelled_on: date | None = None


class Firing(NamedTuple):
    """A step firing as the evaluator sees it (a tuple: a daily run reads many)."""

    rule: str
    step: str
    period: str
    fired_on: date
    amount: Decimal | None = None


@dataclass(slots=True)
class History:
    """What earlier evaluations already did, as far as the evaluator needs to know."""

    firings: dict[str, list[Firing]] = field(default_factory=dict)  # by target
    messages: dict[str, list[datetime]] = field(default_factory=dict)  # sent, by customer
    planned_reminders: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    planned_holds: dict[str, tuple[int, str]] = field(default_factory=dict)  # id, kind

    def fired(self, target: str) -> list[Firing]:
        return self.firings.get(target, [])


@dataclass(slots=True)
class OrgFacts:
    organization_id: int
    name: str
    timezone: str
    customers: dict[str, CustomerFact]
    disputes: dict[str, list[DisputeFact]] = field(default_factory=dict)  # by invoice
    promises: dict[str, list[PromiseFact]] = field(default_factory=dict)  # by customer
    plans: dict[str, list[PlanFact]] = field(default_factory=dict)  # by customer
    history: History = field(default_factory=History)
    synced_at: datetime | None = None
    rules_since: date | None = None  # local date the rule set first became active
    currency: str | None = None  # the organization's home currency
    feature_since: dict[str, date] = field(default_factory=dict)  # rules.ruleset.features

    def since_for(self, feature: str) -> date | None:
        """From when `feature` decides anything: the later of the rules' and its own start."""
        own = self.feature_since.get(feature)
        if own is None or self.rules_since is None:
            return own or self.rules_since
        return max(own, self.rules_since)
