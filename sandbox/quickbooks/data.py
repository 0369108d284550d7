"""Seeded companies: realms, terms, customers, CompanyInfo and Preferences.

Everything comes from `random.Random` seeded with the sandbox seed and the realm id, and is
anchored on a given `today`, so the same seed and day always give the same data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.quickbooks.entities import currency_ref
from sandbox.quickbooks.store import Company
from sandbox.quickbooks.store import Tx


@dataclass(frozen=True)
class RealmSpec:
    realm_id: str
    name: str
    currency: str
    tz: str
    country: str
    multicurrency: bool
    scale: float
    currencies: dict[str, float]  # customer currency -> share
    region: tuple[str, list[str], str]  # subdivision, cities, postal code pattern


REALMS = (
    RealmSpec(
        "9341453050010001",
        "Larkspur Landscaping",
        "USD",
        "America/Los_Angeles",
        "US",
        False,
        1.0,
        {"USD": 1.0},
        ("CA", ["Bayshore", "Middlefield", "Palo Alto", "Redwood City", "San Mateo"], "94{:03d}"),
    ),
    RealmSpec(
        "9341453050010002",
        "Harbour Print Co",
        "CAD",
        "America/Toronto",
        "CA",
        True,
        0.4,
        {"CAD": 0.65, "USD": 0.2, "GBP": 0.1, "EUR": 0.05},
        ("ON", ["Toronto", "Mississauga", "Hamilton", "Oakville", "Kingston"], "M5V {:03d}"),
    ),
)
SIZES = {"small": (25, 200), "demo": (300, 3000), "large": (3000, 24000)}
BASE_RATES = {"USD": Decimal("1.37"), "GBP": Decimal("1.74"), "EUR": Decimal("1.49")}
TERMS = (
    # Id, Name, DueDays, DiscountPercent, DiscountDays, share of customers
    ("1", "Due on receipt", 0, None, None, 0.10),
    ("2", "Net 15", 15, None, None, 0.15),
    ("3", "Net 30", 30, None, None, 0.42),
    ("4", "Net 60", 60, None, None, 0.13),
    ("5", "2% 10 Net 30", 30, 2, 10, 0.20),
)
FIRST = "Amy Ben Carla Dev Elena Farid Grace Hiro Ines Jon Kofi Lena Maya Nils Omar Priya Quinn Rosa Sam Tara Uma Vic Wen Yusuf Zoe".split()  # noqa: E501
LAST = "Adler Brooks Chen Diaz Evans Fischer Garcia Haddad Ito Jensen Khan Lopez Moreau Novak Okafor Patel Rossi Silva Tanaka Ueda Varga Walsh Young Zhou".split()  # noqa: E501
PREFIX = "Amber Birch Cedar Delta Elm Fern Granite Harbor Iris Juniper Kestrel Linden Maple North Oak Pine Quarry River Summit Tide Union Vale Willow Yarrow Zephyr Aspen Bluff Copper Dune Ember".split()  # noqa: E501
MIDDLE = "Creek Hill Park Bay Ridge Field Stone Point Grove Lake".split()
SUFFIX = [
    "Dental",
    "Bakery",
    "Holdings",
    "Property Mgmt",
    "Cafe",
    "Veterinary",
    "Apartments",
    "Realty",
    "Fitness",
    "Law Group",
    "School",
    "Clinic",
    "Hotel",
    "Brewing",
    "Florists",
    "Church",
    "HOA",
    "Motors",
    "Books",
    "Studio",
]
STREETS = (
    "Main St.|Court St.|Finch St.|Cypress Hill Ave.|Red Rock Rd.|Harbour Rd.|King St. W".split("|")
)


@dataclass
class CustomerPlan:
    entity: dict[str, Any]
    term: tuple[Any, ...]
    since: date
    active_until: date | None
    weight: float


def local_instant(tz: ZoneInfo, day: date, rnd: random.Random, horizon: datetime) -> datetime:
    """A business-hours instant on `day`, never after `horizon`."""
    moment = time(rnd.randint(7, 17), rnd.randint(0, 59), rnd.randint(0, 59))
    instant = datetime.combine(day, moment, tz).astimezone(UTC)
    return min(instant, horizon)


def new_company(spec: RealmSpec) -> Company:
    rates = {code: BASE_RATES.get(code, Decimal("1")) for code in spec.currencies}
    return Company(
        realm_id=spec.realm_id,
        name=spec.name,
        currency=spec.currency,
        tz=ZoneInfo(spec.tz),
        multicurrency=spec.multicurrency,
        country=spec.country,
        rates=rates,
    )


def seed_terms(co: Company, when: datetime) -> None:
    for term_id, name, days, percent, discount_days, _ in TERMS:
        term: dict[str, Any] = {
            "Name": name,
            "Active": True,
            "Type": "STANDARD",
            "DueDays": days,
            "domain": "QBO",
            "sparse": False,
            "Id": term_id,
        }
        if percent is not None:
            term["DiscountPercent"] = percent
            term["DiscountDays"] = discount_days
        Tx(co, when).create("Term", term)
        co.seq["Term"] = int(term_id)


def seed_company_info(co: Company, spec: RealmSpec, when: datetime) -> None:
    subdivision, cities, _ = spec.region
    slug = spec.name.lower().replace(" ", "")
    info = {
        "CompanyName": spec.name,
        "LegalName": f"{spec.name} Ltd.",
        "CompanyAddr": {
            "Id": "1",
            "Line1": "100 Harbour Rd.",
            "City": cities[0],
            "CountrySubDivisionCode": subdivision,
            "Country": spec.country,
        },
        "CustomerCommunicationAddr": {"Id": "1", "Line1": "100 Harbour Rd.", "City": cities[0]},
        "Email": {"Address": f"accounts@{slug}.example"},
        "WebAddr": {"URI": f"https://{slug}.example"},
        "Country": spec.country,
        "FiscalYearStartMonth": "January",
        "SupportedLanguages": "en",
        "NameValue": [
            {"Name": "NeoEnabled", "Value": "true"},
            {"Name": "IndustryType", "Value": "Business services"},
        ],
        "domain": "QBO",
        "sparse": False,
        "Id": "1",
    }
    Tx(co, when).create("CompanyInfo", info)
    prefs = {
        "CurrencyPrefs": {
            "MultiCurrencyEnabled": spec.multicurrency,
            "HomeCurrency": {"value": spec.currency},
        },
        "SalesFormsPrefs": {
            "AllowDiscount": True,
            "DefaultDiscountAccount": "86",
            "DefaultTerms": {"value": "3"},
            "ETransactionEnabledStatus": "NotApplicable",
            "CustomTxnNumbers": False,
        },
        "EmailMessagesPrefs": {
            "InvoiceMessage": {
                "Subject": f"Invoice [Invoice No.] from {spec.name}",
                "Message": "Your invoice is attached. We appreciate your prompt payment.",
            }
        },
        "domain": "QBO",
        "sparse": False,
        "Id": "1",
    }
    Tx(co, when).create("Preferences", prefs)


def _names(rnd: random.Random, taken: set[str]) -> tuple[str, str, str]:
    """(DisplayName, GivenName, FamilyName); some customers are people, most are businesses."""
    given, family = rnd.choice(FIRST), rnd.choice(LAST)
    if rnd.random() < 0.15:
        name = f"{given} {family}"
    else:
        name = f"{rnd.choice(PREFIX)} {rnd.choice(MIDDLE)} {rnd.choice(SUFFIX)}"
    base, n = name, 1
    while name in taken:
        n += 1
        name = f"{base} {n}"
    taken.add(name)
    return name, given, family


def _customer_entity(
    co: Company, spec: RealmSpec, rnd: random.Random, names: tuple[str, str, str], term: tuple
) -> dict[str, Any]:
    subdivision, cities, postal = spec.region
    name, given, family = names
    codes = list(spec.currencies)
    # The first customers take each currency in turn, so even a small company has them all.
    if co.seq.get("addr", 0) < len(codes):
        currency = codes[co.seq.get("addr", 0)]
    else:
        currency = rnd.choices(codes, weights=list(spec.currencies.values()))[0]
    co.seq["addr"] = co.seq.get("addr", 0) + 1
    address = {
        "Id": str(co.seq["addr"]),
        "Line1": f"{rnd.randint(10, 9999)} {rnd.choice(STREETS)}",
        "City": rnd.choice(cities),
        "CountrySubDivisionCode": subdivision,
        "PostalCode": postal.format(rnd.randint(1, 999)),
    }
    entity: dict[str, Any] = {
        "Taxable": False,
        "BillAddr": address,
        "ShipAddr": dict(address),
        "Job": False,
        "BillWithParent": False,
        "Balance": Decimal("0.00"),
        "BalanceWithJobs": Decimal("0.00"),
        "CurrencyRef": currency_ref(currency),
        "PreferredDeliveryMethod": "Email",
        "domain": "QBO",
        "sparse": False,
        "GivenName": given,
        "FamilyName": family,
        "FullyQualifiedName": name,
        "CompanyName": name,
        "DisplayName": name,
        "PrintOnCheckName": name,
        "Active": True,
        "PrimaryPhone": {
            "FreeFormNumber": f"(555) {rnd.randint(100, 999)}-{rnd.randint(0, 9999):04d}"
        },
        "SalesTermRef": {"value": term[0], "name": term[1]},
    }
    if rnd.random() > 0.05:
        domain = "".join(ch for ch in name.lower() if ch.isalnum())
        entity["PrimaryEmailAddr"] = {
            "Address": f"{given.lower()}.{family.lower()}@{domain}.example"
        }
    return entity


def seed_customers(
    co: Company, spec: RealmSpec, rnd: random.Random, count: int, today: date, horizon: datetime
) -> list[CustomerPlan]:
    start = today - timedelta(days=545)
    taken: set[str] = set()
    plans = []
    for _ in range(count):
        term = rnd.choices(TERMS, weights=[t[5] for t in TERMS])[0]
        entity = _customer_entity(co, spec, rnd, _names(rnd, taken), term)
        if rnd.random() < 0.7:
            since = start - timedelta(days=rnd.randint(1, 400))
        else:
            since = start + timedelta(days=rnd.randint(0, 520))
        weight = min(rnd.paretovariate(1.4), 25.0)
        plans.append(CustomerPlan(entity, term, since, None, weight))
    # About 7% churned (at least two): they keep their invoices and go inactive later.
    veterans = [p for p in plans if p.since < start]
    for plan in rnd.sample(veterans, min(len(veterans), max(2, round(count * 0.07)))):
        plan.active_until = plan.since + timedelta(
            days=rnd.randint(60, (today - plan.since).days - 30)
        )
    plans.sort(key=lambda p: p.since)
    for plan in plans:
        Tx(co, local_instant(co.tz, plan.since, rnd, horizon)).create("Customer", plan.entity)
    return plans


def finish_customers(
    co: Company, plans: list[CustomerPlan], rnd: random.Random, today: date, horizon: datetime
) -> None:
    """Deactivate churned customers ("(deleted)" suffix, as QBO shows) and touch a few recently."""
    for plan in plans:
        customer = co.get("Customer", plan.entity["Id"])
        if customer is None:
            continue
        if plan.active_until is not None:
            when = local_instant(
                co.tz, min(plan.active_until, today - timedelta(days=1)), rnd, horizon
            )
            when = min(max(when, _last_activity(co, customer) + timedelta(hours=1)), horizon)
            customer["Active"] = False
            customer["DisplayName"] = f"{customer['DisplayName']} (deleted)"
            customer["FullyQualifiedName"] = customer["DisplayName"]
            Tx(co, when).update("Customer", customer)
        elif rnd.random() < 0.1:
            when = local_instant(co.tz, today - timedelta(days=rnd.randint(1, 60)), rnd, horizon)
            customer["Notes"] = "Prefers email; AP contact updated."
            Tx(co, max(when, _created(co, customer))).update("Customer", customer)


def _created(co: Company, entity: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entity["MetaData"]["CreateTime"]).astimezone(UTC)


def _last_activity(co: Company, customer: dict[str, Any]) -> datetime:
    latest = co.updated["Customer"][customer["Id"]]
    for kind, txn in co.customer_transactions(customer["Id"]):
        latest = max(latest, co.updated[kind][txn["Id"]])
    return datetime.fromtimestamp(latest, UTC)
