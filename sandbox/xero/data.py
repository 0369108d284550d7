"""Deterministic seed data: three organisations and their contacts (invoices in `data_invoices`).

Everything derives from `random.Random(seed)`: the tenant ids depend on the seed alone, the rest
also on the size. Dates anchor on `today`; no stamp is later than `now`.
"""

from __future__ import annotations

import random
import re
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from decimal import Decimal

from sandbox.xero import catalog
from sandbox.xero.models import CENT
from sandbox.xero.models import Contact
from sandbox.xero.models import ContactGroup
from sandbox.xero.models import Ledger
from sandbox.xero.models import Org
from sandbox.xero.models import Person

HISTORY_DAYS = 548  # 18 months


def new_uuid(rng: random.Random) -> str:
    """A version-4 UUID string from `rng` (formatted by hand: uuid.UUID is slow in bulk)."""
    digits = f"{rng.getrandbits(128):032x}"
    variant = "89ab"[int(digits[16], 16) & 3]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


def make_orgs(seed: int, now: datetime, fleet: int = 0) -> list[Org]:
    """The three organisations, then `fleet` tiny ones (for scale-out benchmarks: each a copy of
    a catalogue row with the smallest ledger); tenant ids depend only on `seed`."""
    root = random.Random(seed)
    ids = [new_uuid(root) for _ in catalog.ORGS]
    banks = [new_uuid(root) for _ in catalog.ORGS]
    orgs = [_org(row, ids[i], banks[i], now) for i, row in enumerate(catalog.ORGS)]
    for n in range(1, fleet + 1):
        row = catalog.ORGS[n % len(catalog.ORGS)]
        name, legal, _short, *rest = row
        tiny = (f"Fleet {n:03d} {name}", f"Fleet {n:03d} {legal}", f"!F{n:04d}", *rest)
        tiny = (*tiny[:10], 0.0, *tiny[11:])  # weight 0: the smallest ledger Builder makes
        orgs.append(_org(tiny, new_uuid(root), new_uuid(root), now))
    return orgs


def _org(row: tuple, tenant_id: str, bank_id: str, now: datetime) -> Org:
    (
        name,
        legal,
        short,
        currency,
        zone,
        country,
        version,
        tax_type,
        _rate,
        others,
        weight,
        trade,
        bank_code,
        bank_name,
        offsets,
    ) = row
    return Org(
        tenant_id=tenant_id,
        name=name,
        legal_name=legal,
        short_code=short,
        base_currency=currency,
        timezone=zone,
        country_code=country,
        version=version,
        tax_type=tax_type,
        tax_rate=catalog.tax_rate(row),
        other_currencies=tuple((code, Decimal(rate)) for code, rate in others),
        weight=weight,
        trade=trade,
        bank_account_id=bank_id,
        bank_code=bank_code,
        bank_name=bank_name,
        local_offsets=offsets,
        created=(now - timedelta(days=HISTORY_DAYS + 400)).replace(microsecond=0),
    )


class Builder:
    """Random helpers bound to one organisation's generator."""

    def __init__(self, org: Org, seed: int, size: str, today: date, now: datetime) -> None:
        self.org = org
        self.rng = random.Random(f"{seed}/{org.short_code}/{size}")
        self.today = today
        self.now = now
        self.ledger = Ledger(org=org)
        contacts, invoices = catalog.SIZES[size]
        self.contact_count = max(10, round(contacts * org.weight))
        self.invoice_count = max(60, round(invoices * org.weight))

    def uuid(self) -> str:
        return new_uuid(self.rng)

    def stamp(self, day: date) -> datetime:
        """A random instant on `day` (UTC), never later than a minute before `now`."""
        start = datetime.combine(day, time(), UTC)
        instant = start + timedelta(milliseconds=self.rng.randrange(86_400_000))
        latest = self.now - timedelta(seconds=60 + self.rng.randrange(3600))
        return min(instant, latest)

    def days_ago(self, days: int) -> date:
        return self.today - timedelta(days=days)

    def between(self, first: date, last: date) -> date:
        if last <= first:
            return first
        return first + timedelta(days=self.rng.randrange((last - first).days + 1))

    def money(self, value: Decimal) -> Decimal:
        return value.quantize(CENT)


def build_contacts(b: Builder) -> None:
    """Customers (some archived, some in a foreign currency), a few suppliers, two groups."""
    names: set[str] = set()
    suppliers = max(2, b.contact_count // 12)
    for index in range(b.contact_count):
        contact = _contact(b, index, names, supplier_only=index >= b.contact_count - suppliers)
        b.ledger.contacts[contact.id] = contact
    _seed_groups(b)


def _contact(b: Builder, index: int, names: set[str], supplier_only: bool) -> Contact:
    rng, org = b.rng, b.org
    first, last = rng.choice(catalog.FIRST_NAMES), rng.choice(catalog.LAST_NAMES)
    name = _unique(names, _supplier_name(rng) if supplier_only else _company_name(rng, org))
    email = f"{_slug(first)}.{_slug(last)}@{_slug(name)[:24]}.example.com"
    # index 1 is always foreign-currency, index 2 always archived; the rest by chance
    foreign = not supplier_only and (index == 1 or (index > 5 and rng.random() < 0.1))
    archived = not supplier_only and (index == 2 or (index > 5 and rng.random() < 0.07))
    city, region, postal = rng.choice(catalog.CITIES[org.country_code])
    created = b.days_ago(HISTORY_DAYS + rng.randrange(200))
    return Contact(
        id=b.uuid(),
        name=name,
        first_name=first,
        last_name=last,
        email="" if index > 5 and not supplier_only and rng.random() < 0.03 else email,
        number=f"CUS-{index + 1:04d}" if rng.random() < 0.6 else "",
        account_number=f"AR{rng.randrange(10000, 99999)}" if rng.random() < 0.4 else "",
        status="ARCHIVED" if archived else "ACTIVE",
        is_supplier=supplier_only or rng.random() < 0.05,
        is_customer=not supplier_only,
        currency=rng.choice(org.other_currencies)[0] if foreign else None,
        terms_days=rng.choice(catalog.TERMS_DAYS),
        phone=f"{rng.randrange(200, 999)}-{rng.randrange(1000, 9999)}",
        city=city,
        region=region,
        postal_code=postal,
        country=catalog.COUNTRY_NAMES[org.country_code],
        persons=_persons(b, name),
        updated=b.stamp(b.between(created, b.today)),
    )


def _persons(b: Builder, company: str) -> list[Person]:
    people = []
    for _ in range(b.rng.choice((0, 0, 1, 2))):
        first, last = b.rng.choice(catalog.FIRST_NAMES), b.rng.choice(catalog.LAST_NAMES)
        email = f"{_slug(first)}@{_slug(company)[:24]}.example.com"
        people.append(Person(first, last, email, include_in_emails=b.rng.random() < 0.6))
    return people


def _company_name(rng: random.Random, org: Org) -> str:
    end = rng.choice(catalog.NAME_ENDS[org.country_code])
    name = f"{rng.choice(catalog.NAME_STARTS)} {rng.choice(catalog.NAME_MIDDLES)}"
    return f"{name} {end}".strip()


def _supplier_name(rng: random.Random) -> str:
    return rng.choice(catalog.SUPPLIER_NAMES)


def _unique(names: set[str], name: str) -> str:
    candidate, suffix = name, 2
    while candidate in names:
        candidate, suffix = f"{name} ({suffix})", suffix + 1
    names.add(candidate)
    return candidate


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower()) or "contact"


def _seed_groups(b: Builder) -> None:
    customers = [c for c in b.ledger.contacts.values() if c.is_customer]
    for name, share in (("VIP customers", 0.05), ("Wholesale", 0.15)):
        group = ContactGroup(id=b.uuid(), name=name)
        for contact in customers[3:]:
            if b.rng.random() < share:
                group.contact_ids.append(contact.id)
                contact.group_ids.append(group.id)
        b.ledger.groups[group.id] = group
