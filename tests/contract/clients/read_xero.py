"""Read every connected Xero organisation with Xero's official SDK (xero-python), as an
integrator's program would. Runs in the xero-python virtualenv through redirect.py:

    python redirect.py read_xero.py <settings.json>

settings.json: {"client_id", "client_secret", "token"}, the token set of a finished consent
(xero-python leaves the authorization-code step to the application's web framework). The
program lists the connections, refreshes the token, reads each organisation page by page,
revokes the token and prints what it read as one JSON line.
"""

import json
import sys
import time
from collections import Counter
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from xero_python.accounting import AccountingApi
from xero_python.api_client import ApiClient
from xero_python.api_client.configuration import Configuration
from xero_python.api_client.oauth2 import OAuth2Token
from xero_python.identity import IdentityApi

PAGE = 100


def client_for(settings: dict) -> ApiClient:
    token = OAuth2Token(client_id=settings["client_id"], client_secret=settings["client_secret"])
    client = ApiClient(Configuration(oauth2_token=token), pool_threads=1)
    saved = {}
    client.oauth2_token_getter(lambda: saved.get("token"))
    client.oauth2_token_saver(lambda new: saved.update(token=new))
    first = dict(settings["token"])
    first["scope"] = first["scope"].split()
    first["expires_at"] = time.time() + first["expires_in"]
    client.set_oauth2_token(first)
    return client


def every(fetch: Callable[..., Any], key: str, **options: Any) -> list:
    rows, page = [], 1
    while True:
        batch = getattr(fetch(page=page, page_size=PAGE, **options), key)
        rows.extend(batch)
        if len(batch) < PAGE:
            return rows
        page += 1


def read(api: AccountingApi, tenant: str) -> dict:
    invoices = every(lambda **o: api.get_invoices(tenant, **o), "invoices")
    statuses = defaultdict(Counter)
    due = defaultdict(Decimal)
    for invoice in invoices:
        statuses[invoice.type][invoice.status] += 1
        if invoice.type == "ACCREC" and invoice.status == "AUTHORISED":
            due[invoice.currency_code.value] += Decimal(str(invoice.amount_due))
    contacts = every(lambda **o: api.get_contacts(tenant, **o), "contacts", include_archived=True)
    payments = every(lambda **o: api.get_payments(tenant, **o), "payments")
    return {
        "organisation": api.get_organisations(tenant).organisations[0].name,
        "currencies": [c.code.value for c in api.get_currencies(tenant).currencies],
        "invoices": {kind: dict(counts) for kind, counts in statuses.items()},
        "open_amount_due": {
            code: str(total.quantize(Decimal("0.01"))) for code, total in sorted(due.items())
        },
        "contacts": len(contacts),
        "payments": len(payments),
        "batch_payments": len({p.batch_payment_id for p in payments if p.batch_payment_id}),
        "credit_notes": len(every(lambda **o: api.get_credit_notes(tenant, **o), "credit_notes")),
        "overpayments": len(every(lambda **o: api.get_overpayments(tenant, **o), "overpayments")),
        "prepayments": len(every(lambda **o: api.get_prepayments(tenant, **o), "prepayments")),
    }


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as file:
        settings = json.load(file)
    client = client_for(settings)
    connections = IdentityApi(client).get_connections()
    client.refresh_oauth2_token()
    api = AccountingApi(client)
    tenants = {str(c.tenant_id): read(api, str(c.tenant_id)) for c in connections}
    revoked = client.revoke_oauth2_token()
    print(json.dumps({"tenants": tenants, "revoked": bool(revoked)}), flush=True)


if __name__ == "__main__":
    main()
