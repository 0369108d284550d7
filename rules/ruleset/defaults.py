"""A starter rule set: a sensible written collection policy to begin editing from."""

from __future__ import annotations

import copy
from typing import Any

REMINDER_BODY = """Dear {{ customer.name }},

{% if invoices %}Our records show the following {{ "invoice is" if invoices|length == 1 else "invoices are" }} awaiting payment:
{% for invoice in invoices %}
- Invoice {{ invoice.number }}: {{ invoice.balance|money }} {{ invoice.currency }}, due {{ invoice.due_date }}{% if invoice.days_overdue > 0 %} ({{ invoice.days_overdue }} days overdue){% endif %}{% if invoice.discount %}; pay {{ invoice.discount.pay_amount|money }} by {{ invoice.discount.pay_by }} to save {{ invoice.discount.percent }}%{% endif %}{% if invoice.link %} - {{ invoice.link }}{% endif %}
{% endfor %}{% endif %}
{% for offer in offers %}
We can settle invoice {{ offer.number }} for {{ offer.pay_amount|money }} {{ offer.currency }} ({{ offer.percent }}% off) if paid by {{ offer.valid_until }}.
{% endfor %}{% for instalment in instalments %}
Instalment {{ instalment.number }} of your payment plan, {{ instalment.amount|money }} {{ instalment.currency }}, is due on {{ instalment.due_on }}.
{% endfor %}{% for c in credit %}
We hold {{ c.amount|money }} {{ c.currency }} of credit in your favour (unapplied credit notes or payments). {% if c.left_to_pay %}Applied to the above, it leaves {{ c.left_to_pay|money }} {{ c.currency }} to pay.{% else %}It covers the above in full: reply and we will apply it.{% endif %}
{% endfor %}
If you have already paid, thank you, and please ignore this message.

{{ organization.name }}
"""  # noqa: E501

STARTER: dict[str, Any] = {
    "name": "Standard collections",
    "default_policy": "standard",
    "segments": [],
    "policies": [
        {
            "key": "standard",
            "name": "Standard",
            "catch_up": "each_step",
            "steps": [
                {
                    "key": "upcoming",
                    "name": "Due soon",
                    "offset_days": -3,
                    "actions": [{"type": "reminder", "template": "friendly"}],
                },
                {
                    "key": "due",
                    "name": "Due today",
                    "offset_days": 0,
                    "actions": [{"type": "reminder", "template": "friendly"}],
                },
                {
                    "key": "overdue-7",
                    "name": "A week overdue",
                    "offset_days": 7,
                    "actions": [{"type": "reminder", "template": "firm"}],
                },
                {
                    "key": "overdue-30",
                    "name": "A month overdue",
                    "offset_days": 30,
                    "actions": [
                        {"type": "reminder", "template": "firm"},
                        {"type": "note", "text": "Reached the final-reminder step on {{ as_of }}."},
                    ],
                    "repeat": {"every_days": 14, "limit": 3},
                },
            ],
        }
    ],
    "templates": {
        "friendly": {
            "subject": "{{ organization.name }}: invoices awaiting payment",
            "body": REMINDER_BODY,
        },
        "firm": {
            "subject": "Overdue: please pay {{ organization.name }}",
            "body": REMINDER_BODY,
        },
    },
    "discounts": {"early_payment": None, "settlement_offers": []},
    "credit_hold": None,
    "payment_plans": {"remind_days_before": [3, 0], "template": "friendly", "grace_days": 0},
    "unapplied_credit": {"pause_when_covered": True},
    "invoice_delivery": {"enabled": False, "after_days": 0},
    "limits": {
        "caps": [{"messages": 1, "days": 3}, {"messages": 2, "days": 7}],
        "quiet_hours": {"start": "20:00", "end": "08:00"},
        "business_days": ["mon", "tue", "wed", "thu", "fri"],
        "timezone_from": "customer",
    },
}


def starter() -> dict[str, Any]:
    return copy.deepcopy(STARTER)
