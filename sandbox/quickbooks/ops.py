"""Business operations on a company: create, pay, credit, void, delete, merge, send.

Each function validates everything first and only then changes the store, so a refused request
leaves no trace. They run inside a `Tx` (under the store lock) and are shared by the API and the
control endpoints.
"""

from __future__ import annotations

from datetime import date
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sandbox.quickbooks.entities import ZERO
from sandbox.quickbooks.entities import customer_ref
from sandbox.quickbooks.entities import exchange_rate
from sandbox.quickbooks.entities import new_credit_memo
from sandbox.quickbooks.entities import new_invoice
from sandbox.quickbooks.entities import new_payment
from sandbox.quickbooks.entities import set_balance
from sandbox.quickbooks.entities import set_credit
from sandbox.quickbooks.store import Company
from sandbox.quickbooks.store import OpError
from sandbox.quickbooks.store import Tx
from sandbox.quickbooks.store import not_found
from sandbox.quickbooks.wire import stamp

VOIDED_NOTE = "Voided"


def business_error(detail: str) -> OpError:
    return OpError(
        "6000", "A business validation error has occurred", f"Business Validation Error: {detail}"
    )


def local_today(tx: Tx) -> date:
    return tx.when.astimezone(tx.company.tz).date()


def active_customer(co: Company, customer_id: Any) -> dict[str, Any]:
    customer = co.get("Customer", str(customer_id))
    if customer is None or not customer["Active"]:
        raise not_found("Customer", str(customer_id))
    return customer


def term_days(co: Company, customer: dict[str, Any]) -> int:
    term = co.get("Term", customer.get("SalesTermRef", {}).get("value", ""))
    return int(term["DueDays"]) if term else 30


def check_currency(customer: dict[str, Any], currency: str | None) -> str:
    own = customer["CurrencyRef"]["value"]
    if currency and currency != own:
        raise business_error(f"Transaction currency {currency} must match the customer's {own}")
    return own


def create_invoice(
    tx: Tx,
    customer_id: Any,
    lines: list[dict[str, Any]],
    txn_date: date | None = None,
    due_date: date | None = None,
    currency: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    co = tx.company
    customer = active_customer(co, customer_id)
    rate = exchange_rate(co, check_currency(customer, currency))
    txn_date = txn_date or local_today(tx)
    due_date = due_date or txn_date + timedelta(days=term_days(co, customer))
    invoice = new_invoice(co, customer, lines, txn_date, due_date, rate, co.next_doc_number())
    if invoice["TotalAmt"] < 0:
        raise business_error("An invoice total cannot be negative")
    invoice.update(extra or {})
    invoice["Id"] = co.next_id("Invoice")
    return tx.create("Invoice", invoice)


def create_credit_memo(
    tx: Tx,
    customer_id: Any,
    lines: list[dict[str, Any]],
    txn_date: date | None = None,
    currency: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    co = tx.company
    customer = active_customer(co, customer_id)
    rate = exchange_rate(co, check_currency(customer, currency))
    memo = new_credit_memo(
        co, customer, lines, txn_date or local_today(tx), rate, co.next_doc_number()
    )
    if memo["TotalAmt"] <= 0:
        raise business_error("A credit memo needs a positive total")
    memo.update(extra or {})
    created = tx.create("CreditMemo", memo)
    tx.note(
        f"CreditMemo {created['Id']}: {created['TotalAmt']} credit for customer {customer['Id']}"
    )
    return created


def _check_links(
    co: Company, customer_id: str, links: list[tuple[str, str, Decimal]]
) -> tuple[Decimal, Decimal]:
    seen: set[tuple[str, str]] = set()
    invoiced = credited = ZERO
    for kind, txn_id, amount in links:
        if kind not in ("Invoice", "CreditMemo"):
            raise business_error(f"A payment line cannot link a {kind}")
        target = co.require(kind, txn_id)
        if target["CustomerRef"]["value"] != customer_id:
            raise business_error(f"{kind} {txn_id} belongs to another customer")
        if (kind, txn_id) in seen:
            raise business_error(f"{kind} {txn_id} is linked twice")
        seen.add((kind, txn_id))
        if amount <= 0 or amount > target["Balance"]:
            raise business_error(
                f"Amount {amount} for {kind} {txn_id} must be positive and at most its "
                f"open balance {target['Balance']}"
            )
        if kind == "Invoice":
            invoiced += amount
        else:
            credited += amount
    return invoiced, credited


def record_payment(
    tx: Tx,
    customer_id: Any,
    total: Decimal,
    links: list[tuple[str, str, Decimal]],
    txn_date: date | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A customer payment; lines linking CreditMemos apply those credits to the invoices."""
    co = tx.company
    customer = co.get("Customer", str(customer_id))
    if customer is None:
        raise not_found("Customer", str(customer_id))
    invoiced, credited = _check_links(co, customer["Id"], links)
    if credited > invoiced:
        raise business_error("Credits applied exceed the invoice amounts they are applied to")
    if total < 0 or total < invoiced - credited:
        raise business_error(
            f"TotalAmt {total} is less than the amount applied {invoiced - credited}"
        )
    rate = exchange_rate(co, customer["CurrencyRef"]["value"])
    payment = new_payment(co, customer, total, links, txn_date or local_today(tx), rate)
    payment.update(extra or {})
    tx.create("Payment", payment)
    for kind, txn_id, amount in links:
        _apply(tx, kind, txn_id, amount, payment["Id"])
        verb = "credit applied from" if kind == "CreditMemo" else "applied to"
        tx.note(f"Payment {payment['Id']}: {amount} {verb} {kind} {txn_id}")
    return payment


def _apply(tx: Tx, kind: str, txn_id: str, amount: Decimal, payment_id: str) -> None:
    target = tx.company.editable(kind, txn_id)
    if kind == "Invoice":
        set_balance(tx.company, target, target["Balance"] - amount)
        target["LinkedTxn"].append({"TxnId": payment_id, "TxnType": "Payment"})
    else:
        set_credit(tx.company, target, target["Balance"] - amount)
    tx.update(kind, target)


def _unlink_invoice(tx: Tx, invoice: dict[str, Any]) -> None:
    """Voiding or deleting a paid invoice leaves its payments' money unapplied, as QBO does."""
    co = tx.company
    for link in invoice.get("LinkedTxn", []):
        if link["TxnType"] != "Payment" or co.get("Payment", link["TxnId"]) is None:
            continue
        payment = co.editable("Payment", link["TxnId"])
        keep = [line for line in payment["Line"] if not _links(line, "Invoice", invoice["Id"])]
        invoiced = sum((line["Amount"] for line in keep if _kind(line) == "Invoice"), ZERO)
        excess = (
            sum((line["Amount"] for line in keep if _kind(line) == "CreditMemo"), ZERO) - invoiced
        )
        for line in reversed(keep):
            if excess <= 0 or _kind(line) != "CreditMemo":
                continue
            give_back = min(excess, line["Amount"])
            memo = co.editable("CreditMemo", line["LinkedTxn"][0]["TxnId"])
            set_credit(co, memo, memo["Balance"] + give_back)
            tx.update("CreditMemo", memo)
            line["Amount"] -= give_back
            excess -= give_back
        payment["Line"] = [line for line in keep if line["Amount"] > 0]
        applied = sum(
            (line["Amount"] for line in payment["Line"] if _kind(line) == "Invoice"), ZERO
        )
        applied -= sum(
            (line["Amount"] for line in payment["Line"] if _kind(line) == "CreditMemo"), ZERO
        )
        payment["UnappliedAmt"] = payment["TotalAmt"] - applied
        tx.update("Payment", payment)


def _kind(line: dict[str, Any]) -> str:
    return line["LinkedTxn"][0]["TxnType"] if line.get("LinkedTxn") else ""


def _links(line: dict[str, Any], kind: str, txn_id: str) -> bool:
    return any(t["TxnType"] == kind and t["TxnId"] == txn_id for t in line.get("LinkedTxn", []))


def is_voided(invoice: dict[str, Any]) -> bool:
    return invoice.get("PrivateNote", "").startswith(VOIDED_NOTE) and invoice["TotalAmt"] == 0


def void_invoice(tx: Tx, invoice_id: str) -> dict[str, Any]:
    """Voided invoices stay, zeroed, with "Voided" in PrivateNote (real QBO behaviour)."""
    invoice = tx.company.editable("Invoice", invoice_id)
    if is_voided(invoice):
        raise business_error(f"Invoice {invoice_id} is already voided")
    _unlink_invoice(tx, invoice)
    for line in invoice["Line"]:
        line["Amount"] = ZERO
        detail = line.get("SalesItemLineDetail")
        if detail:
            detail.pop("UnitPrice", None)
            detail.pop("Qty", None)
    note = invoice.get("PrivateNote", "")
    invoice["PrivateNote"] = f"{VOIDED_NOTE} - {note}" if note else VOIDED_NOTE
    invoice["LinkedTxn"] = []
    set_amounts_zero(tx.company, invoice)
    return tx.update("Invoice", invoice, op="Void")


def set_amounts_zero(co: Company, invoice: dict[str, Any]) -> None:
    invoice["TotalAmt"] = ZERO
    set_balance(co, invoice, ZERO)


def delete_invoice(tx: Tx, invoice_id: str) -> dict[str, Any]:
    invoice = tx.company.require("Invoice", invoice_id)
    _unlink_invoice(tx, invoice)
    return tx.delete("Invoice", invoice_id)


def merge_customers(tx: Tx, from_id: str, into_id: str) -> dict[str, Any]:
    """Move every transaction of `from_id` to `into_id`; `from_id` disappears (CDC: Deleted)."""
    co = tx.company
    if from_id == into_id:
        raise business_error("Cannot merge a customer into itself")
    source = co.require("Customer", from_id)
    target = co.editable("Customer", into_id)
    if source["CurrencyRef"]["value"] != target["CurrencyRef"]["value"]:
        raise business_error("Customers with different currencies cannot be merged")
    for kind, txn in co.customer_transactions(from_id):
        moved = co.editable(kind, txn["Id"])
        moved["CustomerRef"] = customer_ref(target)
        tx.update(kind, moved, op="")
    tx.delete("Customer", from_id, op="")
    merged = tx.update("Customer", target, op="")
    tx.merged(into_id, from_id)
    return merged


def send_invoice(tx: Tx, invoice_id: str, send_to: str | None) -> dict[str, Any]:
    co = tx.company
    invoice = co.editable("Invoice", invoice_id)
    if send_to:
        if "@" not in send_to or "." not in send_to.rsplit("@", 1)[-1]:
            raise OpError("2050", "Invalid Email Address format", f"Invalid email: {send_to}")
        invoice["BillEmail"] = {"Address": send_to}
    address = invoice.get("BillEmail", {}).get("Address")
    if not address:
        raise business_error("An email address is required to send this invoice")
    when = stamp(tx.when, co.tz)
    invoice["EmailStatus"] = "EmailSent"
    invoice["DeliveryInfo"] = {"DeliveryType": "Email", "DeliveryTime": when}
    co.emails.append(
        {
            "invoice_id": invoice_id,
            "doc_number": invoice.get("DocNumber"),
            "to": address,
            "at": when,
        }
    )
    tx.note(f"Invoice {invoice_id} (no. {invoice.get('DocNumber')}) emailed to {address}")
    # Intuit's webhooks name this operation "Emailed" (CloudEvents: qbo.invoice.emailed.v1).
    return tx.update("Invoice", invoice, op="Emailed")
