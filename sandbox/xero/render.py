"""Ledger objects -> Xero JSON: invoices, line items, contacts, the organisation, its currencies.

Field names and order follow the payloads in Xero's OpenAPI examples. Amounts are JSON numbers,
except on the few invoices seeded with `string_amounts`, which carry them as strings the way
some real payloads do. Dates follow `dates`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sandbox.xero import dates
from sandbox.xero.models import ZERO
from sandbox.xero.models import Contact
from sandbox.xero.models import Invoice
from sandbox.xero.models import Ledger
from sandbox.xero.models import Line
from sandbox.xero.models import Org

Json = dict[str, Any]


def amount(value: Decimal, as_string: bool = False) -> float | str:
    return f"{value:.2f}" if as_string else float(value)


def local_day(org: Org, day: date) -> str:
    """Payment, allocation and fully-paid dates: NZ organisations send local midnight +1300."""
    if org.local_offsets:
        return dates.net_date(day, dates.nz_offset_minutes(day))
    return dates.net_date(day)


def updated(obj: Any) -> Json:
    return {
        "UpdatedDateUTC": dates.net_instant(obj.updated),
        "UpdatedDateUTCString": dates.utc_string(obj.updated),
    }


def contact_ref(contact: Contact) -> Json:
    return {
        "ContactID": contact.id,
        "Name": contact.name,
        "Addresses": [],
        "Phones": [],
        "ContactGroups": [],
        "ContactPersons": [],
        "HasValidationErrors": False,
    }


def render_invoice(
    ledger: Ledger, inv: Invoice, *, lines: bool, full_contact: bool = False, summary: bool = False
) -> Json:
    contact = ledger.contacts[inv.contact_id]
    text = inv.string_amounts
    out: Json = {"Type": inv.type, "InvoiceID": inv.id, "InvoiceNumber": inv.number}
    if inv.type == "ACCREC":
        out["Reference"] = inv.reference
    if not summary:
        out["Payments"] = [_payment_ref(ledger, pid, text) for pid in inv.payment_ids]
        out["CreditNotes"] = _credit_refs(ledger, inv, "creditnote", text)
        out["Prepayments"] = _credit_refs(ledger, inv, "prepayment", text)
        out["Overpayments"] = _credit_refs(ledger, inv, "overpayment", text)
    out.update(
        {
            "AmountDue": amount(inv.amount_due, text),
            "AmountPaid": amount(inv.amount_paid, text),
            "AmountCredited": amount(inv.amount_credited, text),
            "SentToContact": inv.sent_to_contact,
            "CurrencyRate": float(inv.currency_rate),
            "IsDiscounted": any(line.discount_rate for line in inv.lines),
            "HasAttachments": inv.has_attachments,
            "HasErrors": False,
            "Contact": render_contact(ledger, contact) if full_contact else contact_ref(contact),
            "DateString": dates.date_string(inv.date),
            "Date": dates.net_date(inv.date),
            "DueDateString": dates.date_string(inv.due_date),
            "DueDate": dates.net_date(inv.due_date),
        }
    )
    if inv.expected_payment_date:
        out["ExpectedPaymentDate"] = dates.net_date(inv.expected_payment_date)
    out.update({"Status": inv.status, "LineAmountTypes": inv.line_amount_types})
    out["LineItems"] = [render_line(line, text) for line in inv.lines] if lines else []
    out.update(
        {
            "SubTotal": amount(inv.sub_total, text),
            "TotalTax": amount(inv.total_tax, text),
            "Total": amount(inv.total, text),
        }
    )
    discount = _discount(inv)
    if discount:
        out["TotalDiscount"] = amount(discount, text)
    out.update(updated(inv))
    out["CurrencyCode"] = inv.currency
    if inv.fully_paid_on and inv.status == "PAID":
        out["FullyPaidOnDate"] = local_day(ledger.org, inv.fully_paid_on)
    return out


def _discount(inv: Invoice) -> Decimal:
    total = ZERO
    for line in inv.lines:
        if line.discount_rate:
            total += line.quantity * line.unit_amount - line.line_amount
    return total


def render_line(line: Line, as_string: bool = False) -> Json:
    out: Json = {"LineItemID": line.id}
    if line.item_code:
        out["ItemCode"] = line.item_code
    out.update(
        {
            "Description": line.description,
            "Quantity": f"{line.quantity:.4f}" if as_string else float(line.quantity),
            "UnitAmount": amount(line.unit_amount, as_string),
            "TaxType": line.tax_type,
            "TaxAmount": amount(line.tax_amount, as_string),
            "LineAmount": amount(line.line_amount, as_string),
            "AccountCode": line.account_code,
            "Tracking": [],
        }
    )
    if line.discount_rate:
        out["DiscountRate"] = float(line.discount_rate)
    return out


def _payment_ref(ledger: Ledger, payment_id: str, text: bool) -> Json:
    payment = ledger.payments[payment_id]
    return {
        "PaymentID": payment.id,
        "Date": local_day(ledger.org, payment.date),
        "Amount": amount(payment.amount, text),
        "Reference": payment.reference,
        "CurrencyRate": float(payment.currency_rate),
        "HasAccount": False,
        "HasValidationErrors": False,
    }


def _credit_refs(ledger: Ledger, inv: Invoice, kind: str, text: bool) -> list[Json]:
    refs = []
    key = {
        "creditnote": "CreditNoteID",
        "overpayment": "OverpaymentID",
        "prepayment": "PrepaymentID",
    }[kind]
    for link in inv.credits:
        if link.kind != kind:
            continue
        doc = ledger.docs(kind)[link.doc_id]
        ref: Json = {key: doc.id, "ID": doc.id}
        if kind == "creditnote":
            ref["CreditNoteNumber"] = doc.number
        ref.update(
            {
                "AppliedAmount": amount(link.amount, text),
                "DateString": dates.date_string(link.on),
                "Date": local_day(ledger.org, link.on),
                "LineItems": [],
                "Total": amount(doc.total, text),
                "HasErrors": False,
            }
        )
        refs.append(ref)
    return refs


def render_contact(ledger: Ledger, contact: Contact, balances_on: date | None = None) -> Json:
    """`balances_on`: include `Balances`, judging overdue against that day."""
    out: Json = {"ContactID": contact.id}
    if contact.number:
        out["ContactNumber"] = contact.number
    if contact.account_number:
        out["AccountNumber"] = contact.account_number
    out.update(
        {
            "ContactStatus": contact.status,
            "Name": contact.name,
            "FirstName": contact.first_name,
            "LastName": contact.last_name,
            "EmailAddress": contact.email,
            "BankAccountDetails": "",
            "Addresses": _addresses(contact),
            "Phones": _phones(contact),
            "UpdatedDateUTC": dates.net_instant(dates.saved(contact.updated)),
            "ContactGroups": [_group_ref(ledger, gid) for gid in contact.group_ids],
            "IsSupplier": contact.is_supplier,
            "IsCustomer": contact.is_customer,
        }
    )
    if contact.currency:
        out["DefaultCurrency"] = contact.currency
    out["PaymentTerms"] = {"Sales": {"Day": contact.terms_days, "Type": "DAYSAFTERBILLDATE"}}
    if balances_on:
        out.update(_balances(ledger, contact, balances_on))
    out["ContactPersons"] = [
        {
            "FirstName": p.first_name,
            "LastName": p.last_name,
            "EmailAddress": p.email,
            "IncludeInEmails": p.include_in_emails,
        }
        for p in contact.persons
    ]
    out.update({"HasAttachments": False, "HasValidationErrors": False})
    return out


def _addresses(contact: Contact) -> list[Json]:
    street = {"AddressType": "STREET", "City": "", "Region": "", "PostalCode": "", "Country": ""}
    pobox = {
        "AddressType": "POBOX",
        "AddressLine1": "",
        "AddressLine2": "",
        "AddressLine3": "",
        "AddressLine4": "",
        "City": contact.city,
        "Region": contact.region,
        "PostalCode": contact.postal_code,
        "Country": contact.country,
    }
    return [street, pobox]


def _phones(contact: Contact) -> list[Json]:
    blank = {"PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""}
    default = {"PhoneType": "DEFAULT", **blank, "PhoneNumber": contact.phone}
    return [
        {"PhoneType": "DDI", **blank},
        default,
        {"PhoneType": "FAX", **blank},
        {"PhoneType": "MOBILE", **blank},
    ]


def _group_ref(ledger: Ledger, group_id: str) -> Json:
    group = ledger.groups[group_id]
    return {
        "ContactGroupID": group.id,
        "Name": group.name,
        "Status": group.status,
        "Contacts": [],
        "HasValidationErrors": False,
    }


def _balances(ledger: Ledger, contact: Contact, today: date) -> Json:
    sums = {"ACCREC": [ZERO, ZERO], "ACCPAY": [ZERO, ZERO]}
    for invoice_id in ledger.invoices_by_contact.get(contact.id, ()):
        inv = ledger.invoices[invoice_id]
        if inv.status == "AUTHORISED":
            sums[inv.type][0] += inv.amount_due
            if inv.due_date < today:
                sums[inv.type][1] += inv.amount_due
    if not any(value for pair in sums.values() for value in pair):
        return {}
    names = {"ACCREC": "AccountsReceivable", "ACCPAY": "AccountsPayable"}
    return {
        "Balances": {
            names[kind]: {"Outstanding": float(pair[0]), "Overdue": float(pair[1])}
            for kind, pair in sums.items()
        }
    }


def render_org(org: Org) -> Json:
    return {
        "APIKey": "",
        "Name": org.name,
        "LegalName": org.legal_name,
        "PaysTax": True,
        "Version": org.version,
        "OrganisationType": "COMPANY",
        "BaseCurrency": org.base_currency,
        "CountryCode": org.country_code,
        "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE",
        "FinancialYearEndDay": 31,
        "FinancialYearEndMonth": 3,
        "SalesTaxBasis": "INVOICE",
        "SalesTaxPeriod": "TWOMONTHS",
        "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Exclusive",
        "CreatedDateUTC": dates.net_instant(org.created),
        "OrganisationEntityType": "COMPANY",
        "Timezone": org.timezone,
        "ShortCode": org.short_code,
        "OrganisationID": org.tenant_id,
        "Edition": "BUSINESS",
        "Class": "PREMIUM",
        "LineOfBusiness": org.trade.title(),
        "Addresses": [],
        "Phones": [],
        "ExternalLinks": [],
        "PaymentTerms": {"Sales": {"Day": 20, "Type": "OFFOLLOWINGMONTH"}},
    }


CURRENCY_NAMES = {
    "AUD": "Australian Dollar",
    "CAD": "Canadian Dollar",
    "EUR": "Euro",
    "GBP": "British Pound",
    "NZD": "New Zealand Dollar",
    "USD": "United States Dollar",
}


def render_currencies(org: Org) -> list[Json]:
    """GET /Currencies: the base currency and every other one the organisation trades in."""
    codes = [org.base_currency, *(code for code, _ in org.other_currencies)]
    return [{"Code": code, "Description": CURRENCY_NAMES.get(code, code)} for code in codes]
