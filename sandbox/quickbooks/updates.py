"""Create and update bodies as the QuickBooks API accepts them (sparse and full updates).

A sparse update (`"sparse": true`) changes only the fields sent; a full update clears every
writable field it does not mention. `Line` is always replaced as a whole. A stale SyncToken is
refused with 5010; an unknown field with 2010, like QBO's JSON binder.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import date
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

from sandbox.quickbooks import ops
from sandbox.quickbooks.entities import currency_ref
from sandbox.quickbooks.entities import set_balance
from sandbox.quickbooks.entities import with_totals
from sandbox.quickbooks.store import Company
from sandbox.quickbooks.store import OpError
from sandbox.quickbooks.store import Tx
from sandbox.quickbooks.wire import money

READ_ONLY = {"Id", "SyncToken", "sparse", "domain", "MetaData", "status"}
WRITABLE = {
    "Invoice": {
        "Line",
        "PrivateNote",
        "CustomerMemo",
        "BillEmail",
        "BillEmailCc",
        "BillEmailBcc",
        "DueDate",
        "TxnDate",
        "DocNumber",
        "SalesTermRef",
        "EmailStatus",
        "PrintStatus",
        "CustomField",
        "BillAddr",
        "ShipAddr",
        "AllowOnlineCreditCardPayment",
        "AllowOnlineACHPayment",
    },
    "Customer": {
        "DisplayName",
        "CompanyName",
        "GivenName",
        "FamilyName",
        "MiddleName",
        "Title",
        "Suffix",
        "PrimaryEmailAddr",
        "PrimaryPhone",
        "Mobile",
        "BillAddr",
        "ShipAddr",
        "Notes",
        "Active",
        "SalesTermRef",
        "PreferredDeliveryMethod",
        "Taxable",
        "CustomField",
        "PrintOnCheckName",
        "WebAddr",
    },
}
IGNORED = {
    "Invoice": {
        "TotalAmt",
        "Balance",
        "HomeBalance",
        "HomeTotalAmt",
        "LinkedTxn",
        "InvoiceLink",
        "DeliveryInfo",
        "CurrencyRef",
        "ExchangeRate",
        "TxnTaxDetail",
        "ApplyTaxAfterDiscount",
        "CustomerRef",
        "AllowIPNPayment",
        "AllowOnlinePayment",
    },
    "Customer": {
        "Balance",
        "BalanceWithJobs",
        "CurrencyRef",
        "FullyQualifiedName",
        "Job",
        "BillWithParent",
        "DefaultTaxCodeRef",
    },
}
REQUIRED = {"Invoice": {"Line"}, "Customer": {"DisplayName"}}
LINE_TYPES = {"SalesItemLineDetail", "SubTotalLineDetail", "DiscountLineDetail", "DescriptionOnly"}
INACTIVE_SUFFIX = " (deleted)"
NOTES_MAX = 2000


def invalid(detail: str, code: str = "2010") -> OpError:
    return OpError(code, "Request has invalid or unsupported property", f"Property Name:{detail}")


def check_fields(kind: str, body: dict[str, Any], extra: AbstractSet[str] = frozenset()) -> None:
    known = READ_ONLY | WRITABLE.get(kind, set()) | IGNORED.get(kind, set()) | extra
    for name in body:
        if name not in known:
            raise invalid(
                f'Unrecognized field "{name}" (class com.intuit.schema.finance.v3.{kind}), '
                "not marked as ignorable specified is unsupported or invalid"
            )


def stale_error() -> OpError:
    return OpError(
        "5010",
        "Stale Object Error",
        "Stale Object Error : You and Sandbox User were working on this at the same time. "
        "Sandbox User finished before you did, so your work was not saved.",
    )


def check_token(current: dict[str, Any], body: dict[str, Any]) -> None:
    if "SyncToken" not in body:
        raise OpError(
            "2020",
            "Required param missing, need to supply the required value for the API",
            "Required parameter SyncToken is missing in the request",
        )
    if str(body["SyncToken"]) != current["SyncToken"]:
        raise stale_error()


def amount(value: Any, what: str) -> Decimal:
    try:
        return money(value)
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise invalid(f"{what} must be a number, got {value!r}") from exc


def parse_date(value: Any, what: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise invalid(f"{what} must be a date (YYYY-MM-DD), got {value!r}") from exc


def normalize_lines(lines: Any) -> list[dict[str, Any]]:
    if not isinstance(lines, list) or not lines:
        raise invalid("Line must be a non-empty array")
    out, used = [], set()
    for line in lines:
        if not isinstance(line, dict) or line.get("DetailType") not in LINE_TYPES:
            raise invalid(f"Line DetailType must be one of {sorted(LINE_TYPES)}")
        line = dict(line)
        if line["DetailType"] != "DescriptionOnly":
            line["Amount"] = amount(line.get("Amount", 0), "Line.Amount")
        if line["DetailType"] == "DiscountLineDetail":
            detail = dict(line.get("DiscountLineDetail") or {})
            detail.setdefault("DiscountAccountRef", {"value": "86", "name": "Discounts given"})
            line["DiscountLineDetail"] = detail
        if line.get("Id"):
            used.add(str(line["Id"]))
        out.append(line)
    next_id = max((int(i) for i in used if i.isdigit()), default=0)
    for number, line in enumerate(out, start=1):
        if line["DetailType"] != "SubTotalLineDetail" and not line.get("Id"):
            next_id += 1
            line["Id"] = str(next_id)
        if line["DetailType"] != "SubTotalLineDetail":
            line["LineNum"] = number
    return out


def _assign(kind: str, entity: dict[str, Any], body: dict[str, Any], sparse: bool) -> None:
    for name in WRITABLE[kind]:
        if name in body:
            entity[name] = body[name]
        elif not sparse and name not in REQUIRED[kind]:
            entity.pop(name, None)


def update_invoice(tx: Tx, body: dict[str, Any]) -> dict[str, Any]:
    check_fields("Invoice", body)
    co = tx.company
    invoice = co.editable("Invoice", body.get("Id"))
    check_token(invoice, body)
    sparse = body.get("sparse") in (True, "true")
    if not sparse and "Line" not in body:
        raise invalid("Line is required in a full update", code="2020")
    paid = invoice["TotalAmt"] - invoice["Balance"]
    _assign("Invoice", invoice, body, sparse)
    for field in ("DueDate", "TxnDate"):
        if field in body:
            parse_date(body[field], field)
    if "Line" in body:
        invoice["Line"], total = with_totals(normalize_lines(body["Line"]))
        if total < paid:
            raise ops.business_error(
                f"New total {total} is less than the {paid} already paid or credited"
            )
        invoice["TotalAmt"] = total
        set_balance(co, invoice, total - paid)
    return tx.update("Invoice", invoice)


def update_customer(tx: Tx, body: dict[str, Any]) -> dict[str, Any]:
    check_fields("Customer", body)
    co = tx.company
    customer = co.editable("Customer", body.get("Id"))
    check_token(customer, body)
    sparse = body.get("sparse") in (True, "true")
    _assign("Customer", customer, body, sparse)
    _finish_customer(co, customer)
    return tx.update("Customer", customer)


def _finish_customer(co: Company, customer: dict[str, Any]) -> None:
    name = str(customer.get("DisplayName") or "").strip()
    if not name:
        raise invalid("DisplayName is required", code="2020")
    if len(str(customer.get("Notes") or "")) > NOTES_MAX:
        raise OpError(
            "2050",
            "String length is either shorter or longer than supported by specification",
            f"Notes is longer than {NOTES_MAX} characters",
        )
    active = customer.get("Active", True) not in (False, "false")
    base = name.removesuffix(INACTIVE_SUFFIX)
    clash = any(
        other["Id"] != customer.get("Id")
        and other["DisplayName"].removesuffix(INACTIVE_SUFFIX) == base
        for other in co.entities["Customer"].values()
    )
    if clash:
        raise OpError(
            "6240", "Duplicate Name Exists Error", "The name supplied already exists. : null"
        )
    customer["Active"] = active
    customer["DisplayName"] = base if active else base + INACTIVE_SUFFIX
    customer["FullyQualifiedName"] = customer["DisplayName"]
    customer.setdefault("PrintOnCheckName", base)


def create_customer(tx: Tx, body: dict[str, Any]) -> dict[str, Any]:
    check_fields("Customer", body)
    co = tx.company
    if "DisplayName" not in body and (body.get("GivenName") or body.get("FamilyName")):
        body = {
            **body,
            "DisplayName": f"{body.get('GivenName', '')} {body.get('FamilyName', '')}".strip(),
        }
    currency = (body.get("CurrencyRef") or {}).get("value", co.currency)
    if currency != co.currency and currency not in co.rates:
        raise ops.business_error(f"Currency {currency} is not enabled for this company")
    customer: dict[str, Any] = {
        "Taxable": False,
        "Job": False,
        "BillWithParent": False,
        "Balance": Decimal("0.00"),
        "BalanceWithJobs": Decimal("0.00"),
        "CurrencyRef": currency_ref(currency),
        "PreferredDeliveryMethod": "Email",
        "domain": "QBO",
        "sparse": False,
        "Active": True,
        "SalesTermRef": {"value": "3", "name": "Net 30"},
        "BillAddr": {},
    }
    _assign("Customer", customer, body, sparse=True)
    _finish_customer(co, customer)
    return tx.create("Customer", customer)


def invoice_create_args(body: dict[str, Any]) -> dict[str, Any]:
    """Turn an Invoice create body into keyword arguments for `ops.create_invoice`."""
    check_fields("Invoice", body, extra={"CurrencyRef", "CustomerRef"})
    customer = (body.get("CustomerRef") or {}).get("value")
    if not customer:
        raise invalid("CustomerRef is required", code="2020")
    extra = {
        k: v for k, v in body.items() if k in WRITABLE["Invoice"] - {"Line", "TxnDate", "DueDate"}
    }
    return {
        "customer_id": str(customer),
        "lines": normalize_lines(body.get("Line")),
        "txn_date": parse_date(body["TxnDate"], "TxnDate") if "TxnDate" in body else None,
        "due_date": parse_date(body["DueDate"], "DueDate") if "DueDate" in body else None,
        "currency": (body.get("CurrencyRef") or {}).get("value"),
        "extra": extra,
    }


def payment_create_args(body: dict[str, Any]) -> dict[str, Any]:
    known = {
        "CustomerRef",
        "TotalAmt",
        "Line",
        "TxnDate",
        "PaymentRefNum",
        "PrivateNote",
        "CurrencyRef",
        "PaymentMethodRef",
        "DepositToAccountRef",
        "ExchangeRate",
    }
    check_fields("Payment", body, extra=known)
    customer = (body.get("CustomerRef") or {}).get("value")
    if not customer or "TotalAmt" not in body:
        raise invalid("CustomerRef and TotalAmt are required", code="2020")
    links = []
    for line in body.get("Line") or []:
        for linked in line.get("LinkedTxn") or []:
            links.append(
                (
                    linked.get("TxnType"),
                    str(linked.get("TxnId")),
                    amount(line.get("Amount"), "Amount"),
                )
            )
    extra = {k: body[k] for k in ("PaymentRefNum", "PrivateNote", "PaymentMethodRef") if k in body}
    return {
        "customer_id": str(customer),
        "total": amount(body["TotalAmt"], "TotalAmt"),
        "links": links,
        "txn_date": parse_date(body["TxnDate"], "TxnDate") if "TxnDate" in body else None,
        "extra": extra,
    }


def credit_memo_create_args(body: dict[str, Any]) -> dict[str, Any]:
    known = {
        "CustomerRef",
        "Line",
        "TxnDate",
        "PrivateNote",
        "CustomerMemo",
        "CurrencyRef",
        "DocNumber",
        "BillEmail",
    }
    check_fields("CreditMemo", body, extra=known)
    customer = (body.get("CustomerRef") or {}).get("value")
    if not customer:
        raise invalid("CustomerRef is required", code="2020")
    extra = {k: body[k] for k in ("PrivateNote", "CustomerMemo", "BillEmail") if k in body}
    return {
        "customer_id": str(customer),
        "lines": normalize_lines(body.get("Line")),
        "txn_date": parse_date(body["TxnDate"], "TxnDate") if "TxnDate" in body else None,
        "currency": (body.get("CurrencyRef") or {}).get("value"),
        "extra": extra,
    }
