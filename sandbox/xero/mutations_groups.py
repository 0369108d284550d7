"""Contact groups, which Dunwell uses to mark a credit hold. Callers hold `store.lock`."""

from __future__ import annotations

import uuid
from typing import Any

from sandbox.xero.models import ContactGroup
from sandbox.xero.models import Ledger
from sandbox.xero.store import Invalid
from sandbox.xero.store import NotFound
from sandbox.xero.store import Store


def get_group(ledger: Ledger, group_id: str) -> ContactGroup:
    group = ledger.groups.get(group_id)
    if group is None:
        raise NotFound(f"no contact group {group_id}")
    return group


def create_groups(store: Store, ledger: Ledger, specs: list[Any]) -> list[ContactGroup]:
    given = [spec.get("Name") if isinstance(spec, dict) else None for spec in specs]
    names = [n for n in given if isinstance(n, str) and n.strip()]
    if not names or len(names) != len(given):
        raise Invalid("Each ContactGroup needs a Name", {"ContactGroups": specs})
    taken = {g.name.lower() for g in ledger.groups.values() if g.status == "ACTIVE"}
    for name in names:
        if name.strip().lower() in taken or len(name) > 50:
            raise Invalid(
                f"The contact group name {name!r} must be unique and at most 50 characters",
                {"Name": name},
            )
        taken.add(name.strip().lower())
    groups = [ContactGroup(id=str(uuid.uuid4()), name=name.strip()) for name in names]
    for group in groups:
        ledger.groups[group.id] = group
    store.version += 1  # contact pages list their groups
    return groups


def update_group(store: Store, ledger: Ledger, group_id: str, spec: dict[str, Any]) -> ContactGroup:
    """Renames a group, or deletes it with `Status: DELETED` (its members leave it)."""
    group = get_group(ledger, group_id)
    if "Name" in spec:
        if not isinstance(spec["Name"], str) or not spec["Name"].strip():
            raise Invalid("Name must not be empty", spec)
        group.name = spec["Name"].strip()
        store.version += 1  # contact pages name their groups
    if spec.get("Status") == "DELETED" and group.status == "ACTIVE":
        clear_group(store, ledger, group_id)
        group.status = "DELETED"
    elif "Status" in spec and spec["Status"] not in ("ACTIVE", "DELETED"):
        raise Invalid("Status must be ACTIVE or DELETED", spec)
    return group


def add_members(
    store: Store, ledger: Ledger, group_id: str, contact_ids: list[str]
) -> ContactGroup:
    group = get_group(ledger, group_id)
    if group.status != "ACTIVE":
        raise Invalid("Contacts can only be added to an ACTIVE contact group")
    unknown = [cid for cid in contact_ids if cid not in ledger.contacts]
    if unknown or not contact_ids:
        raise Invalid(f"Unknown or missing ContactID(s): {', '.join(unknown) or 'none given'}")
    for contact_id in contact_ids:
        if contact_id in group.contact_ids:
            continue
        contact = ledger.contacts[contact_id]
        group.contact_ids.append(contact_id)
        contact.group_ids.append(group.id)
        store.touch(ledger, contact)
        store.changed(ledger, "CONTACT", "UPDATE", contact_id)
    return group


def remove_member(store: Store, ledger: Ledger, group_id: str, contact_id: str) -> None:
    group = get_group(ledger, group_id)
    if contact_id not in ledger.contacts:
        raise NotFound(f"no contact {contact_id}")
    if contact_id in group.contact_ids:
        group.contact_ids.remove(contact_id)
        contact = ledger.contacts[contact_id]
        contact.group_ids.remove(group.id)
        store.touch(ledger, contact)
        store.changed(ledger, "CONTACT", "UPDATE", contact_id)


def clear_group(store: Store, ledger: Ledger, group_id: str) -> None:
    for contact_id in list(get_group(ledger, group_id).contact_ids):
        remove_member(store, ledger, group_id, contact_id)
