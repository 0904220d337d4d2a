"""CSV cells a spreadsheet shows as text and never runs as a formula (CSV injection)."""

from __future__ import annotations

from datetime import datetime

#: A cell starting with one of these is read as a formula by Excel, LibreOffice or
#: Google Sheets: ``=`` and ``@`` always, ``+`` and ``-`` too (``-1+cmd|...`` runs), and
#: a tab or carriage return before any of them. OWASP's list; phone numbers such as
#: "+49 30 1234567" are escaped as well, since a rule that lets some ``+`` through is
#: a rule an attacker can aim at.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """``value`` as a CSV cell: empty for None, ISO 8601 for datetimes, a leading ``'``
    before anything a spreadsheet would run."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
