"""QuickBooks Online as a Dunwell Provider, bound to one company (realm).

Reading: `list_changed(entity, None)` is a full listing; a cursor within the last 30 days reads
Change Data Capture for that entity. CDC answers at most 1000 objects, so a full answer means
changes may be missing: live objects are then re-read with a LastUpdatedTime query from the
cursor (complete), merged in time order with the delete stubs CDC did return. Deletes beyond the
cap cannot be recovered from CDC; the periodic full listing (id diff) is the backstop. A cursor
older than 30 days raises ValueError: CDC cannot look back that far, list everything instead.

Terms (for early-payment discounts) are read once per instance, on the first invoice that names
one; the home currency (for objects without CurrencyRef) likewise from Preferences.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import ClassVar

import requests

from providers.base import AnyRecord
from providers.base import ChangedPage
from providers.base import ChangeNotice
from providers.base import Credentials
from providers.base import Entity
from providers.base import Limiter
from providers.base import NoLimiter
from providers.base import NotFound
from providers.base import OAuthSpec
from providers.base import Rejected
from providers.base import Tenant
from providers.base import Unavailable
from providers.base import WriteCommand
from providers.base import WriteResult
from providers.quickbooks import company
from providers.quickbooks import links
from providers.quickbooks import mapping
from providers.quickbooks import typed
from providers.quickbooks import webhooks
from providers.quickbooks import writes
from providers.quickbooks.api import PAGE_SIZE
from providers.quickbooks.api import QuickBooksApi
from providers.quickbooks.listing import CDC_CAP
from providers.quickbooks.listing import NAMES
from providers.quickbooks.listing import PATHS
from providers.quickbooks.listing import cdc_objects
from providers.quickbooks.listing import includes
from providers.quickbooks.listing import invoice_pages
from providers.quickbooks.listing import objects_in
from providers.quickbooks.listing import payment_pages
from providers.quickbooks.listing import query_pages
from providers.quickbooks.listing import term_statement

log = logging.getLogger(__name__)

SCOPES = ("com.intuit.quickbooks.accounting", "openid", "profile", "email")
CHANGE_WINDOW = timedelta(days=30)
_NO_LIMITER = NoLimiter()
_UNSET: Any = object()


class QuickBooks:
    """One QuickBooks Online company. `tenant_id` is its realmId."""

    name: ClassVar[str] = "quickbooks"
    change_window: ClassVar[timedelta | None] = CHANGE_WINDOW
    # Intuit: 403 for a missing or invalid intuit-signature (never 400, which retries the batch).
    bad_signature_status: ClassVar[int] = 403

    def __init__(
        self,
        settings: Any,
        tenant_id: str,
        credentials: Credentials,
        limiter: Limiter = _NO_LIMITER,
        http: requests.Session | None = None,
    ) -> None:
        self.settings = settings
        self.tenant_id = tenant_id
        self.credentials = credentials
        self.http = http or requests.Session()
        self.api = QuickBooksApi(settings.api_base, tenant_id, credentials, limiter, self.http)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._terms: dict[str, mapping.Term] | None = None
        self._home_currency: str | None = _UNSET

    # ------------------------------------------------------------ connecting

    @classmethod
    def oauth(cls, settings: Any) -> OAuthSpec:
        return OAuthSpec.from_settings(settings, SCOPES)

    @classmethod
    def identify(
        cls, settings: Any, credentials: Credentials, callback_args: Mapping[str, str]
    ) -> list[Tenant]:
        """The one company of a QuickBooks grant: realmId from the callback, then CompanyInfo."""
        realm = callback_args.get("realmId")
        if not realm:
            raise Rejected("QuickBooks did not send a realmId with the authorization")
        api = QuickBooksApi(settings.api_base, realm, credentials)
        info = api.read("companyinfo", realm).get("CompanyInfo") or {}
        preferences = api.request("GET", "preferences").get("Preferences") or {}
        return [company.tenant(realm, info, preferences)]

    @staticmethod
    def verify_webhook(headers: Mapping[str, str], body: bytes, key: str) -> bool:
        return webhooks.verify(headers, body, key)

    @staticmethod
    def parse_webhook(body: bytes) -> list[ChangeNotice]:
        return webhooks.parse(body)

    def disconnect(self, *, revoke_grant: bool) -> None:
        """Revoke the grant at Intuit when asked; the caller forgets the tokens either way.

        Only the access token is at hand here; Intuit's revoke endpoint takes either token and
        revoking one ends the whole grant. A 400 means the token was already dead.
        """
        if not revoke_grant:
            return
        token = self.credentials.access_token()
        try:
            response = self.http.post(
                self.settings.revoke_url,
                json={"token": token},
                auth=(self.settings.client_id, self.settings.client_secret),
                headers={"Accept": "application/json"},
                timeout=self.api.retry.timeout,
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise Unavailable(f"Intuit's revoke endpoint did not answer ({exc})") from exc
        if response.status_code >= 500:
            raise Unavailable(f"Intuit's revoke endpoint answered HTTP {response.status_code}")
        if response.status_code == 400:
            log.info("QuickBooks realm %s: token already revoked", self.tenant_id)
        elif response.status_code >= 400:
            raise Rejected(
                f"Intuit refused to revoke the grant (HTTP {response.status_code})",
                status=response.status_code,
            )

    # ------------------------------------------------------------ reading

    def list_changed(self, entity: Entity, since: datetime | None) -> Iterator[list[AnyRecord]]:
        """Pages of records changed at or after `since` (all when None), oldest first.

        Within `change_window` this is CDC, which also reports deletions; beyond it, a
        LastUpdatedTime query, which cannot (the sync engine reconciles by a full listing).
        """
        if since is None:
            return self._full_listing(entity)
        if self._beyond_window(since):
            return self._full_listing(entity, since)
        return self._changes(entity, since)

    def list_changed_many(
        self, entities: Iterable[Entity], since: datetime
    ) -> Iterator[ChangedPage]:
        """Pages of several entities changed at or after `since`, with one CDC call when it
        suffices (Intuit's advice for polling: CDC takes a list of entities). Each entity
        gets at least one page, maybe empty, stamped with the answer's time: every change of
        it before then has been listed."""
        self._check_window(since)
        return self._many_changes(list(dict.fromkeys(entities)), since)

    def get(self, entity: Entity, external_id: str) -> AnyRecord | None:
        try:
            raw, stamp = self.read_raw(entity, external_id)
        except NotFound:
            return None
        return self.to_records(entity, [raw], stamp)[0]

    def read_raw(self, entity: Entity, external_id: str) -> tuple[dict[str, Any], datetime]:
        """The object as QuickBooks returns it, and the answer's time (NotFound if gone)."""
        include = includes((entity,))
        answer = self.api.read(
            PATHS[entity], external_id, **({"include": include} if include else {})
        )
        raw = answer.get(NAMES[entity])
        if not isinstance(raw, dict):
            raise NotFound(f"QuickBooks has no {NAMES[entity]} {external_id}", status=404)
        return raw, self.answer_time(answer)

    def to_records(
        self, entity: Entity, raws: list[dict[str, Any]], stamp: datetime
    ) -> list[AnyRecord]:
        ctx = self._context(entity, raws, stamp)
        return [mapping.to_record(entity, raw, ctx) for raw in raws]

    # ------------------------------------------------------------ writing

    def write(self, command: WriteCommand, *, idempotency_key: str) -> WriteResult:
        return writes.perform(self, command, idempotency_key)

    def cap_waits(self, seconds: float) -> None:
        """No sleep longer than `seconds` before a retry (see RetryPolicy.capped)."""
        self.api.retry = self.api.retry.capped(seconds)

    def invoice_links(self, invoice_ids: Sequence[str]) -> dict[str, str]:
        """InvoiceLink of each invoice that has one (online payment on and a customer email)."""
        return links.invoice_links(self.api, invoice_ids)

    # ------------------------------------------------------------ internals

    def _beyond_window(self, since: datetime) -> bool:
        if since.tzinfo is None:
            raise ValueError("since must be a timezone-aware instant")
        return since < self.clock() - CHANGE_WINDOW

    def _check_window(self, since: datetime) -> None:
        if since.tzinfo is None:
            raise ValueError("since must be a timezone-aware instant")
        if since < self.clock() - CHANGE_WINDOW:
            raise ValueError(
                f"QuickBooks change data capture reaches back {CHANGE_WINDOW.days} days only;"
                f" {since.isoformat()} is older: do a full listing (since=None) instead"
            )

    def _full_listing(
        self, entity: Entity, since: datetime | None = None
    ) -> Iterator[list[AnyRecord]]:
        if entity is Entity.INVOICE:
            yield from self._invoice_listing(since)
            return
        if entity is Entity.PAYMENT:
            yield from self._payment_listing(since)
            return
        for rows in query_pages(self.api, entity, since):
            yield self.to_records(entity, rows, self.clock())

    def _invoice_listing(self, since: datetime | None) -> Iterator[list[AnyRecord]]:
        """Invoice pages through the typed decoder (see `typed`); a page it cannot take whole
        is mapped from raw objects as every other listing is."""
        for rows in invoice_pages(self.api, since):
            if isinstance(rows[0], typed.QboInvoice):
                yield self._typed_records(rows, self.clock())
            else:
                yield self.to_records(Entity.INVOICE, rows, self.clock())

    def _typed_records(self, rows: list[typed.QboInvoice], stamp: datetime) -> list[AnyRecord]:
        ctx = self._context_for(typed.needs_terms(rows), typed.needs_home_currency(rows), stamp)
        return [typed.invoice(row, ctx) for row in rows]

    def _payment_listing(self, since: datetime | None) -> Iterator[list[AnyRecord]]:
        """Payment pages through the typed decoder, as `_invoice_listing`."""
        for rows in payment_pages(self.api, since):
            if isinstance(rows[0], typed.QboPayment):
                needs = typed.payments_need_home_currency(rows)
                ctx = self._context_for(False, needs, self.clock())
                yield [typed.payment(row, ctx) for row in rows]
            else:
                yield self.to_records(Entity.PAYMENT, rows, self.clock())

    def _changes(self, entity: Entity, since: datetime) -> Iterator[list[AnyRecord]]:
        answer = self.api.cdc([NAMES[entity]], since, includes((entity,)))
        rows = cdc_objects(answer).get(NAMES[entity], [])
        if len(rows) >= CDC_CAP:
            log.info("QuickBooks CDC cap hit for %s; re-reading by query", NAMES[entity])
            yield from self._capped(entity, since, rows, self.answer_time(answer))
            return
        records = mapping.sort_oldest_first(self.to_records(entity, rows, self.answer_time(answer)))
        for start in range(0, len(records), PAGE_SIZE):
            yield records[start : start + PAGE_SIZE]

    def _capped(
        self, entity: Entity, since: datetime, rows: list[dict[str, Any]], stamp: datetime
    ) -> Iterator[list[AnyRecord]]:
        """Query pages from `since`, with CDC's delete stubs merged in by time."""
        stubs = [row for row in rows if mapping.is_deleted_stub(row)]
        deleted = mapping.sort_oldest_first(self.to_records(entity, stubs, stamp))
        for page in self._full_listing(entity, since):
            cutoff = page[-1].updated_at
            due = [record for record in deleted if record.updated_at <= cutoff]
            deleted = deleted[len(due) :]
            yield mapping.sort_oldest_first(page + due) if due else page
        if deleted:
            yield deleted

    def _many_changes(self, entities: list[Entity], since: datetime) -> Iterator[ChangedPage]:
        answer = self.api.cdc([NAMES[e] for e in entities], since, includes(entities))
        found = cdc_objects(answer)
        answered = mapping.parse_instant(answer.get("time"))  # None: no cursor moves by it
        if sum(len(rows) for rows in found.values()) >= CDC_CAP:
            for entity in entities:
                for page in self._changes(entity, since):
                    yield ChangedPage(entity, page, answered)
                yield ChangedPage(entity, [], answered)
            return
        stamp = answered or self.clock()
        for entity in entities:
            rows = found.get(NAMES[entity], [])
            records = self.to_records(entity, rows, stamp) if rows else []
            yield ChangedPage(entity, mapping.sort_oldest_first(records), answered)

    def answer_time(self, answer: Mapping[str, Any]) -> datetime:
        return mapping.parse_instant(answer.get("time")) or self.clock()

    def _context(
        self, entity: Entity, raws: list[dict[str, Any]], stamp: datetime
    ) -> mapping.Context:
        live = [raw for raw in raws if not mapping.is_deleted_stub(raw)]
        with_terms = entity is Entity.INVOICE and any(mapping.ref(r, "SalesTermRef") for r in live)
        without_currency = any(not mapping.ref(raw, "CurrencyRef") for raw in live)
        return self._context_for(with_terms, without_currency, stamp)

    def _context_for(
        self, with_terms: bool, without_currency: bool, stamp: datetime
    ) -> mapping.Context:
        """The mapping context, loading Terms and the home currency the first time needed."""
        if with_terms:
            self._load_terms()
        if without_currency:
            self._load_home_currency()
        home = None if self._home_currency is _UNSET else self._home_currency
        return mapping.Context(home_currency=home, terms=self._terms or {}, fallback_time=stamp)

    def _load_terms(self) -> None:
        if self._terms is None:
            response = self.api.query(term_statement())
            self._terms = mapping.terms_by_id(objects_in(response.get("Term")))

    def _load_home_currency(self) -> None:
        if self._home_currency is _UNSET:
            preferences = self.api.request("GET", "preferences").get("Preferences") or {}
            self._home_currency = company.tenant(self.tenant_id, {}, preferences).currency
