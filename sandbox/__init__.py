"""A local stand-in for the QuickBooks Online and Xero HTTP APIs.

One Flask app serves both providers under their own prefixes (`/qbo/...`, `/xero/...`) and a
control API under `/_sandbox/...` that the demo, the end-to-end tests and the benchmarks use to
make changes (which fire signed webhooks) and to switch faults on. Shapes follow the providers'
published payloads; nothing here is imported by Dunwell itself.

Sign-in (`sandbox.oidc`): both providers' OpenID Connect (discovery at
`/qbo/.well-known/openid_sandbox_configuration/` and
`/xero/identity/.well-known/openid-configuration`, JWKS, RS256 id_tokens, userinfo). The consent
pages ask which sandbox person signs in; `GET/POST /_sandbox/users` lists and adds people, and
`POST /_sandbox/oidc/faults {"provider", "kind": "expired" | "forged" | "wrong_nonce" |
"wrong_audience", "count"}` spoils the next id_tokens (`DELETE` clears).

The provider side of delivery:

- Every write Dunwell sends (any API call but a read) is recorded, applied to the ledger once
  per idempotency key (QuickBooks `requestid`, Xero `Idempotency-Key`; a repeat is answered from
  memory and logged as a replay) and followed by the webhook the real provider would send.
  `GET /_sandbox/writes?provider=quickbooks|xero&tenant=<id>&since=<seq>` lists them as JSON
  (method, path, key, body, status, replay, `applied`: one line per ledger change, `answer` for
  a refusal); `DELETE /_sandbox/writes` forgets them; `/_sandbox/writes/page` shows them.
- Online payment links: QuickBooks' InvoiceLink (only with `include=invoiceLink`, only for
  invoices payable online with a customer email) and Xero's `Invoices/{id}/OnlineInvoice` (not
  for DRAFT) lead to `/_sandbox/pay/<provider>/<tenant>/<invoice>`, a page that pays the invoice.

Fault switches (`sandbox.faults`), for the outbox's tests over HTTP:

    POST /_sandbox/faults
        {"provider": "quickbooks" | "xero",          required
         "kind": "reject" | "stale" | "rate_limit" | "server_error" | "slow" | "revoke",
         "count": 1,                                 matching requests it answers
         "tenant": "<realm id or Xero tenant id>",  only this organization
         "paths": ["/send", "/History"],            only paths containing one of these
         "methods": ["POST", "PUT"],                only these methods
         "message": "Customer is on hold",          reject: the provider's message text
         "retry_after": 120,                        rate_limit: Retry-After seconds
         "seconds": 2.5}                            slow: the delay
    DELETE /_sandbox/faults[?provider=...&tenant=...]

What each kind answers (QuickBooks; Xero), and what Dunwell's providers raise for it:

- reject: 400 ValidationFault code 6000 whose Detail carries `message`; 400
  ValidationException whose ValidationErrors[].Message is `message`. -> Rejected.
- stale: 400 Stale Object Error code 5010; refused when armed (Xero has no SyncToken).
  -> Conflict.
- rate_limit: 429 XML ThrottleExceeded, with Retry-After only if `retry_after` is given; 429 with
  Retry-After (default 1) and X-Rate-Limit-Problem: minute. -> RateLimited(retry_after), or
  waited out inside the client when short.
- server_error: 503 SystemFault; 503. -> Unavailable once the client's retries run out.
- revoke: 401 on the company's calls and invalid_grant on refresh; provider-wide the same, for
  one tenant 403 (its connection removed, the token still refreshes). -> Reauthorize (or the
  credentials' GrantDead when the refresh is refused).

"reject" and "stale" answer writes only unless `methods` says otherwise; "revoke" lasts until
cleared. Provider-specific knobs (clock, limits, token expiry, payments, invoices) are under
`/_sandbox/quickbooks/...` and `/_sandbox/xero/...`.

The providers' own clients read it unmodified, only their base URLs redirected
(tests/contract): Intuit's OpenID discovery document (`quickbooks.discovery`), client credentials
in the token request's body or a Basic header, queries through `/batch` (`quickbooks.batch`),
queries and CDC over QuickBooks entities the sandbox holds none of (empty); Xero's `/Connections`
spelling, `/Currencies`, `/Organisations`, batch payments with numbers and booleans.
"""

from sandbox.app import SandboxConfig
from sandbox.app import create_app

__all__ = ["SandboxConfig", "create_app"]
