"""URL converters that check a value once, for every route.

``<int:...>`` matches only ids a database integer can hold: a larger number
matches no rule at all, so every method answers 404 (a converter that matched
and then refused would make werkzeug answer 405 where the route has another
method), before any view or query sees it. Registered before the blueprints,
so every rule uses it.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

#: The largest id every supported database holds (PostgreSQL's ``integer``).
MAX_ID = 2**31 - 1


def numbers_up_to(highest: int) -> str:
    """A regular expression for the decimal numbers 0..``highest`` (ASCII digits only).

    For 2147483647: up to 9 digits, or 10 digits that are, digit by digit from
    the left, a smaller digit after an equal prefix, or the number itself.
    """
    digits = str(highest)
    choices = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for position, digit in enumerate(digits):
        if digit != "0":
            rest = len(digits) - position - 1
            tail = f"[0-9]{{{rest}}}" if rest else ""
            choices.append(f"{digits[:position]}[0-{int(digit) - 1}]{tail}")
    choices.append(digits)
    return "(?:" + "|".join(choices) + ")"


class IdConverter(IntegerConverter):
    """An id from 0 to ``MAX_ID``: anything longer or larger matches no route (404)."""

    regex = numbers_up_to(MAX_ID)

    def __init__(self, url_map, fixed_digits=0, min=0, max=None, signed=False) -> None:  # noqa: A002
        highest = MAX_ID if max is None else sorted((max, MAX_ID))[0]
        super().__init__(url_map, fixed_digits, min, highest, signed=False)


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter
