"""Clients in the staff area: list, search, a client's page, blocking and abuse rules."""
