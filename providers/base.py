"""The Provider interface: records, change notices, write commands and errors.

Everything above `providers/` talks to an accounting system only through what this module
defines. Records are frozen dataclasses with `Decimal` money, calendar `date`s for calendar
dates and timezone-aware `datetime`s for instants. Nothing here imports the rest of Dunwell.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import AbstractContextManager
from contextlib import nullcontext
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from typing import ClassVar
from typing import Protocol


class Entity(StrEnum):
    CUSTOMER = "customer"
    INVOICE = "invoice"
    PAYMENT = "payment"
    CREDIT_NOTE = "credit_note"


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOIDED = "voided"
    DELETED = "deleted"


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Record:
    """Common head of every mirrored record.

    `version` is the provider's own marker (QuickBooks SyncToken, Xero UpdatedDateUTC);
    `updated_at` is the instant of the last change and orders versions: an older one never
    overwrites a newer one.
    """

    external_id: str
    version: str
    updated_at: datetime
    deleted: bool = False


@dataclass(frozen=True)
class CustomerRecord(Record):
    name: str = ""
    email: str | None = None
    currency: str | None = None
    active: bool = True
    merged_into: str | None = None
    balance: Decimal | None = None
    phone: str | None = None
    entity: ClassVar[Entity] = Entity.CUSTOMER


@dataclass(frozen=True)
class InvoiceRecord(Record):
    customer_id: str = ""
    number: str | None = None
    issue_date: date | None = None
    due_date: date | None = None
    currency: str = ""
    total: Decimal = Decimal("0")
    balance: Decimal = Decimal("0")
    status: InvoiceStatus = InvoiceStatus.OPEN
    email: str | None = None
    discount_percent: Decimal | None = None
    discount_days: int | None = None
    link: str | None = None
    sent_to_customer: bool | None = None  # None: unknown, or not something that can be sent
    # Home-currency units per unit of `currency`, the rate the provider booked the invoice at
    # (None: it did not say). QuickBooks gives it this way round; Xero the other (see its mapping).
    home_rate: Decimal | None = None
    entity: ClassVar[Entity] = Entity.INVOICE


@dataclass(frozen=True)
class Allocation:
    """Part of a payment or credit note applied to one invoice."""

    invoice_id: str
    amount: Decimal


@dataclass(frozen=True)
class CreditApplication:
    """Credit from one credit note applied to one invoice by a payment.

    QuickBooks applies a CreditMemo this way: a Payment line linking the CreditMemo beside a line
    linking the invoice. The CreditMemo itself never lists where its credit went.
    """

    credit_note_id: str
    invoice_id: str
    amount: Decimal


@dataclass(frozen=True)
class PaymentRecord(Record):
    """A customer payment. `allocations` is cash only; credit the payment applied alongside is in
    `credits`, so `sum(allocations) + unapplied == amount`."""

    customer_id: str = ""
    paid_on: date | None = None
    currency: str = ""
    amount: Decimal = Decimal("0")
    unapplied: Decimal = Decimal("0")
    allocations: tuple[Allocation, ...] = ()
    credits: tuple[CreditApplication, ...] = ()
    entity: ClassVar[Entity] = Entity.PAYMENT


@dataclass(frozen=True)
class CreditNoteRecord(Record):
    """Credit a customer may use. `status` uses the invoices' states: DRAFT is not usable yet
    (its `remaining` is 0 and it is not used up), OPEN has `remaining` credit, PAID is used up.
    `allocations` are the ones the provider lists on the credit note itself."""

    customer_id: str = ""
    number: str | None = None
    issue_date: date | None = None
    currency: str = ""
    total: Decimal = Decimal("0")
    remaining: Decimal = Decimal("0")
    voided: bool = False
    allocations: tuple[Allocation, ...] = ()
    status: InvoiceStatus = InvoiceStatus.OPEN
    entity: ClassVar[Entity] = Entity.CREDIT_NOTE


AnyRecord = CustomerRecord | InvoiceRecord | PaymentRecord | CreditNoteRecord


@dataclass(frozen=True)
class ChangedPage:
    """A page of one entity's changes from a listing of several at once; `as_of` is the
    provider's time of its answer: every change of `entity` before it has been listed once
    the listing is read to its end (None: the provider did not say)."""

    entity: Entity
    records: list[AnyRecord]
    as_of: datetime | None


@dataclass(frozen=True)
class Tenant:
    """One organization (QuickBooks company or Xero organisation) behind a grant."""

    external_id: str
    name: str
    currency: str | None = None
    timezone: str | None = None
    connection_id: str | None = None


@dataclass(frozen=True)
class ChangeNotice:
    """One entity change announced by a webhook. Payloads carry ids only: re-fetch.

    `rejected` says why an event could not be read (the rest of its delivery still counts);
    such a notice carries whatever of its tenant and id could be read, for the record.
    """

    tenant_external_id: str
    entity: Entity | None
    external_id: str
    operation: str
    occurred_at: datetime | None
    dedupe_key: str
    merged_from: str | None = None
    rejected: str | None = None


# ---------------------------------------------------------------- write commands


@dataclass(frozen=True)
class SendReminder:
    """Email one customer about one or more invoices, through the provider's email.

    Neither provider takes our wording: each invoice goes out in the provider's own invoice email
    (see SendInvoice); `subject` and `body` are kept for the record.
    """

    customer_id: str
    invoice_ids: tuple[str, ...]
    to: str | None
    subject: str
    body: str


@dataclass(frozen=True)
class SendInvoice:
    """Send an invoice the business has not sent yet, by the provider's own invoice email.

    QuickBooks sends to `to` when given, else to the invoice's BillEmail; Xero always sends to the
    contact's addresses and ignores `to`. Where the provider refuses (a Xero DRAFT, VOIDED or
    DELETED invoice) the write raises Rejected with the provider's message.
    """

    invoice_id: str
    to: str | None = None


@dataclass(frozen=True)
class AddNote:
    entity: Entity
    external_id: str
    text: str


@dataclass(frozen=True)
class SetCreditHold:
    customer_id: str
    on_hold: bool
    reason: str = ""


@dataclass(frozen=True)
class SettleDiscount:
    """Write off `amount` of an invoice as an early-payment discount."""

    invoice_id: str
    customer_id: str
    amount: Decimal
    currency: str
    on: date
    memo: str = ""


WriteCommand = SendReminder | SendInvoice | AddNote | SetCreditHold | SettleDiscount


@dataclass(frozen=True)
class WriteResult:
    """What a write left behind: the provider's reference and every record it changed, re-read,
    so upserting them makes the provider's echoing webhook change nothing."""

    reference: str
    records: tuple[AnyRecord, ...] = ()


# ---------------------------------------------------------------- errors


class ProviderError(Exception):
    """Base of every error a provider raises; `message` is fit to show an admin."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class Reauthorize(ProviderError):
    """The grant is dead (revoked, invalid_grant): mark the organization, stop."""


class RateLimited(ProviderError):
    def __init__(self, message: str, *, retry_after: float = 60.0, **kw: Any):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class Conflict(ProviderError):
    """Stale version: re-read and re-evaluate."""


class NotFound(ProviderError):
    pass


class Rejected(ProviderError):
    """The provider refused the request as invalid: fail visibly, do not retry."""


class Unavailable(ProviderError):
    """5xx or timeout: retry with backoff."""


class Unsupported(ProviderError):
    """This provider has no way to carry out that command."""


# ---------------------------------------------------------------- collaborators


class Credentials(Protocol):
    """Where a provider client gets its access token.

    `refreshed(rejected)` is called after a 401 with the token that was rejected; the
    implementation refreshes once, serialized across processes, and returns the new token.
    """

    def access_token(self) -> str: ...

    def refreshed(self, rejected: str) -> str: ...


@dataclass(frozen=True)
class Limit:
    """A provider's published limit for one key (a company, a tenant, or the whole app)."""

    key: str
    per_minute: int | None = None
    per_day: int | None = None
    in_flight: int | None = None


class Limiter(Protocol):
    """Shared by every worker: blocks until a call under `limits` may start."""

    def slot(self, limits: tuple[Limit, ...]) -> AbstractContextManager[None]: ...

    def observe(self, limit: Limit, remaining: int | None, retry_after: float | None) -> None: ...


class NoLimiter:
    def slot(self, limits: tuple[Limit, ...]) -> AbstractContextManager[None]:
        return nullcontext()

    def observe(self, limit: Limit, remaining: int | None, retry_after: float | None) -> None:
        return None


@dataclass(frozen=True)
class OAuthSpec:
    authorize_url: str
    token_url: str
    revoke_url: str
    scopes: tuple[str, ...]
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Any, scopes: tuple[str, ...]) -> OAuthSpec:
        """The endpoints configured for a provider, with the scopes it asks for."""
        return cls(settings.authorize_url, settings.token_url, settings.revoke_url, scopes)


class Provider(Protocol):
    """One accounting system, bound to one organization once constructed."""

    name: ClassVar[str]
    change_window: ClassVar[timedelta | None]
    """How far back `list_changed` can look; an older cursor needs a full listing."""
    bad_signature_status: ClassVar[int]
    """The HTTP status a wrongly signed webhook gets (the providers differ: 403 or 401)."""

    @classmethod
    def oauth(cls, settings: Any) -> OAuthSpec: ...

    @classmethod
    def identify(
        cls, settings: Any, credentials: Credentials, callback_args: Mapping[str, str]
    ) -> list[Tenant]: ...

    @staticmethod
    def verify_webhook(headers: Mapping[str, str], body: bytes, key: str) -> bool: ...

    @staticmethod
    def parse_webhook(body: bytes) -> list[ChangeNotice]: ...

    def list_changed(self, entity: Entity, since: datetime | None) -> Iterator[list[AnyRecord]]:
        """Pages of records changed at or after `since` (everything when None), oldest first."""
        ...

    def get(self, entity: Entity, external_id: str) -> AnyRecord | None: ...

    def write(self, command: WriteCommand, *, idempotency_key: str) -> WriteResult: ...

    def invoice_links(self, invoice_ids: Sequence[str]) -> dict[str, str]:
        """Each invoice's online payment page, by id. Invoices without one (a draft, an unknown
        id, no online payment) are left out; transport errors raise as usual."""
        ...

    def cap_waits(self, seconds: float) -> None:
        """Sleep at most `seconds` before a retry of a rate-limited or failed call; a longer
        wait (a Retry-After beyond it) raises at once. For the outbox's writes, which are
        rescheduled rather than held up in a worker."""
        ...

    def disconnect(self, *, revoke_grant: bool) -> None: ...
