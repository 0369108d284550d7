"""Connect a QuickBooks company with Intuit's OAuth client and read it with python-quickbooks,
as an integrator's program would. Runs in the python-quickbooks virtualenv through redirect.py:

    python redirect.py read_quickbooks.py <settings.json>

settings.json: {"client_id", "client_secret", "redirect_uri"}. The program prints one JSON line
{"authorize": <url>} and waits for one line on stdin: the callback's query as a JSON object (the
person's browser approving the consent page). Then it exchanges the code, refreshes the token,
reads the company, revokes the token and prints what it read as one JSON line.
"""

import json
import sys
from collections import defaultdict
from decimal import Decimal

from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from quickbooks import QuickBooks
from quickbooks.objects.company_info import CompanyInfo
from quickbooks.objects.creditmemo import CreditMemo
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.payment import Payment

PAGE = 1000
EVERY_CUSTOMER = "Active IN (true, false)"


def connect(settings: dict) -> AuthClient:
    auth = AuthClient(
        settings["client_id"], settings["client_secret"], settings["redirect_uri"], "production"
    )
    url = auth.get_authorization_url([Scopes.ACCOUNTING], state_token="contract-test")
    print(json.dumps({"authorize": url}), flush=True)
    callback = json.loads(sys.stdin.readline())
    if callback.get("state") != "contract-test":
        raise SystemExit(f"the callback's state is wrong: {callback}")
    auth.get_bearer_token(callback["code"], realm_id=callback["realmId"])
    auth.refresh()
    return auth


def every(entity: type, qb: QuickBooks, where: str = "") -> list:
    rows, start = [], 1
    while True:
        page = entity.where(where, start_position=start, max_results=PAGE, qb=qb)
        rows.extend(page)
        if len(page) < PAGE:
            return rows
        start += PAGE


def cents(totals: dict[str, Decimal]) -> dict[str, str]:
    return {code: str(total.quantize(Decimal("0.01"))) for code, total in sorted(totals.items())}


def read(auth: AuthClient) -> dict:
    qb = QuickBooks(
        auth_client=auth,
        refresh_token=auth.refresh_token,
        company_id=auth.realm_id,
        minorversion=75,
        use_decimal=True,
    )
    invoices = every(Invoice, qb)
    open_balance = defaultdict(Decimal)
    for invoice in invoices:
        if invoice.Balance > 0:
            open_balance[invoice.CurrencyRef.value] += invoice.Balance
    return {
        "company": CompanyInfo.get(auth.realm_id, qb=qb).CompanyName,
        "invoices": len({invoice.Id for invoice in invoices}),
        "invoices_counted": Invoice.count(qb=qb),
        "open_balance": cents(open_balance),
        "customers": len(every(Customer, qb, EVERY_CUSTOMER)),
        "customers_counted": Customer.count(EVERY_CUSTOMER, qb=qb),
        "payments": len(every(Payment, qb)),
        "credit_memos": len(every(CreditMemo, qb)),
    }


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as file:
        settings = json.load(file)
    auth = connect(settings)
    reading = read(auth)
    reading["revoked"] = auth.revoke()
    print(json.dumps(reading), flush=True)


if __name__ == "__main__":
    main()
