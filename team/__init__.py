"""People and what each may do: sign-in identities, roles, memberships, invitations, and
one-time sign-in links (tables in core.accounts; the pages in connector.signin and
connector.team_page)."""
