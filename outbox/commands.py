"""What each kind of action writes, as a command kept on the action row.

A command is computed once, when the action is first taken (outbox.perform), and stored as JSON;
a retry after a crash or an outage sends exactly the stored command again with the same
idempotency key, never a re-rendered one. Provider commands are providers.base's WriteCommands;
`SendEmail` is ours (the reminder in the business's own words, over SMTP).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from outbox.models import Action
from providers.base import AddNote
from providers.base import Entity
from providers.base import SendInvoice
from providers.base import SendReminder
from providers.base import SetCreditHold
from providers.base import SettleDiscount
from providers.base import WriteCommand
from rules.engine.decisions import ActionKind
from rules.engine.discounts import EARLY_RULE


@dataclass(frozen=True)
class SendEmail:
    """A reminder sent over the organization's SMTP channel."""

    customer_id: str
    to: str
    subject: str
    text: str
    invoices: tuple[dict[str, Any], ...] = ()  # lines with number, balance, currency, link


Command = WriteCommand | SendEmail

_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (SendEmail, SendReminder, SendInvoice, AddNote, SetCreditHold, SettleDiscount)
}


def command_for(action: Action) -> WriteCommand:
    """The provider write of a non-message action."""
    p = action.payload
    if action.kind == ActionKind.NOTE:
        if p.get("on") == "customer":
            return AddNote(Entity.CUSTOMER, action.customer_external_id, p["text"])
        return AddNote(Entity.INVOICE, p["invoice"], p["text"])
    if action.kind == ActionKind.TASK:
        text = f"Task for {p['assignee']}: {p['text']}"
        return AddNote(Entity.CUSTOMER, action.customer_external_id, text)
    if action.kind in ("credit_hold", "release_hold"):
        return SetCreditHold(action.customer_external_id, bool(p["on_hold"]), p.get("reason", ""))
    if action.kind == ActionKind.SETTLE_DISCOUNT:
        return SettleDiscount(
            invoice_id=p["invoice"],
            customer_id=action.customer_external_id,
            amount=Decimal(p["amount"]),
            currency=p["currency"],
            on=date.fromisoformat(p["on"]),
            memo="Early-payment discount" if action.rule == EARLY_RULE else "Settlement offer",
        )
    if action.kind == ActionKind.SEND_INVOICE:
        return SendInvoice(p["invoice"], p.get("to"))
    raise ValueError(f"no write command for a {action.kind} action")


def command_json(command: Command) -> dict[str, Any]:
    data = {k: _plain(v) for k, v in dataclasses.asdict(command).items()}
    return {"type": type(command).__name__, **data}


def command_from_json(data: dict[str, Any]) -> Command:
    """The command stored by `command_json`, as it was."""
    fields = dict(data)
    cls = _TYPES[fields.pop("type")]
    if cls is AddNote:
        fields["entity"] = Entity(fields["entity"])
    if cls is SendReminder:
        fields["invoice_ids"] = tuple(fields["invoice_ids"])
    if cls is SendEmail:
        fields["invoices"] = tuple(fields["invoices"])
    if cls is SettleDiscount:
        fields["amount"] = Decimal(fields["amount"])
        fields["on"] = date.fromisoformat(fields["on"])
    command: Command = cls(**fields)
    return command


def _plain(value: Any) -> Any:
    if isinstance(value, (Decimal, date)):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value
