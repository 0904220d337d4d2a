"""What the settings pages say after a save, in the same words on every page."""

from __future__ import annotations

from flask_babel import gettext as _


def saved() -> str:
    """What a settings page says after a save it does not describe further."""
    return _("Saved.")


def saved_message(changes: dict | bool, done: str | None = None) -> str:
    """``done`` (or how many settings changed) after a save; "Nothing changed." if none did.

    ``changes``: the {setting: [old, new]} a save returns, or whether it changed anything.
    """
    if not changes:
        return _("Nothing changed.")
    if done is not None:
        return done
    return _("Saved %(num)d change(s).", num=len(changes))
