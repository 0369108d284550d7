"""The webhook inbox, fed through Redis so the acknowledgement never waits on the database.

`POST /webhooks/<provider>` (connector.webhooks) verifies the signature and appends the raw
body to a Redis Stream (stream.py); a drain job (drain.py, jobs.py) parses the deliveries,
records their events in the inbox (inbox.py), asks for one coalesced sync per organization,
and only then acknowledges the entries.
"""
