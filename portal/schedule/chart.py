"""The dashboard's weekly bar chart, laid out here and drawn as inline SVG by a template.

Only geometry and words are computed: colours come from CSS classes in
``static/portal.css`` (the CSP allows no inline styles), and the template
adds a ``<title>``, a ``<desc>`` and a table with the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from babel.dates import format_date
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

from portal.schedule.service import WeekCount
from portal.web.formatting import short_date
from portal.web.lazy_text import lazy_text as _l

WIDTH = 720
HEIGHT = 260
LEFT = 40
RIGHT = 8
TOP = 12
BOTTOM = 34
#: Share of a week's width its bars fill; the rest separates the weeks.
GROUP_FILL = 0.78
#: A week's Monday under its bars ("02 Mar") and in the table ("02 Mar 2026").
WEEK_PATTERNS = {"en": "dd MMM", "de": "d. MMM"}
WEEK_YEAR_PATTERNS = {"en": "dd MMM y", "de": "d. MMM y"}


@dataclass(frozen=True)
class Series:
    key: str
    name: str
    css_class: str


SERIES = (
    Series("made", _l("Bookings made"), "bar-made"),
    Series("cancelled", _l("Cancellations"), "bar-cancelled"),
    Series("late_refused", _l("Refused late cancellations"), "bar-refused"),
)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css_class: str
    label: str


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class Label:
    x: float
    text: str


@dataclass(frozen=True)
class Row:
    """One week in the table under the chart: its Monday and a number per series."""

    label: str
    values: tuple[int, ...]


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[Label]
    series: tuple[Series, ...]
    description: str
    rows: list[Row]


def _step(largest: int) -> int:
    """A round tick step (1, 2, 5, 10, 20, ...) giving at most four steps up to ``largest``."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor * 4 >= largest:
                return step * factor
        step *= 10


def _language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else "en"


def day_label(day: date, patterns: dict[str, str]) -> str:
    """``day`` in the page's language by one of the ``patterns`` (language -> Babel pattern)."""
    language = _language()
    return format_date(day, patterns.get(language, patterns["en"]), locale=language)


def _week(week: WeekCount) -> str:
    return day_label(week.start, WEEK_PATTERNS)


def _bar_label(week: WeekCount, series: Series, value: int) -> str:
    if series.key == "made":
        return ngettext(
            "Week of %(week)s: %(num)d bookings made",
            "Week of %(week)s: %(num)d bookings made",
            value,
            week=_week(week),
        )
    if series.key == "cancelled":
        return ngettext(
            "Week of %(week)s: %(num)d cancellations",
            "Week of %(week)s: %(num)d cancellations",
            value,
            week=_week(week),
        )
    return ngettext(
        "Week of %(week)s: %(num)d refused late cancellations",
        "Week of %(week)s: %(num)d refused late cancellations",
        value,
        week=_week(week),
    )


def describe(weeks: Sequence[WeekCount]) -> str:
    """The chart in one or two sentences, for screen readers."""
    if not weeks:
        return _("No weeks to show.")
    made = sum(w.made for w in weeks)
    cancelled = sum(w.cancelled for w in weeks)
    refused = sum(w.late_refused for w in weeks)
    text = _(
        "Per week from the week of %(first)s to the week of %(last)s: "
        "%(made)s made, %(cancelled)s and %(refused)s in all.",
        first=short_date(weeks[0].start),
        last=short_date(weeks[-1].start),
        made=ngettext("%(num)d booking", "%(num)d bookings", made),
        cancelled=ngettext("%(num)d cancellation", "%(num)d cancellations", cancelled),
        refused=ngettext(
            "%(num)d refused late cancellation", "%(num)d refused late cancellations", refused
        ),
    )
    if made:
        busiest = max(weeks, key=lambda w: w.made)
        text += " " + _(
            "Most bookings were made in the week of %(week)s (%(num)d).",
            week=_week(busiest),
            num=busiest.made,
        )
    return text


def weekly_chart(weeks: Sequence[WeekCount]) -> BarChart:
    """Three bars per week, on one integer scale that starts at zero."""
    largest = max((getattr(w, s.key) for w in weeks for s in SERIES), default=0)
    step = _step(largest)
    top_value = max(step, -(-largest // step) * step)
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_height
    group = plot_width / max(len(weeks), 1)
    bar_width = group * GROUP_FILL / len(SERIES)
    bars, labels = [], []
    for index, week in enumerate(weeks):
        group_left = LEFT + index * group + group * (1 - GROUP_FILL) / 2
        for position, series in enumerate(SERIES):
            value = getattr(week, series.key)
            height = plot_height * value / top_value
            bars.append(
                Bar(
                    x=round(group_left + position * bar_width, 1),
                    y=round(baseline - height, 1),
                    width=round(bar_width, 1),
                    height=round(height, 1),
                    css_class=series.css_class,
                    label=_bar_label(week, series, value),
                )
            )
        labels.append(Label(x=round(LEFT + (index + 0.5) * group, 1), text=_week(week)))
    ticks = [
        Tick(y=round(baseline - plot_height * value / top_value, 1), value=value)
        for value in range(0, top_value + 1, step)
    ]
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        bottom=baseline,
        bars=bars,
        ticks=ticks,
        labels=labels,
        series=SERIES,
        description=describe(weeks),
        rows=[
            Row(
                label=day_label(week.start, WEEK_YEAR_PATTERNS),
                values=tuple(getattr(week, series.key) for series in SERIES),
            )
            for week in weeks
        ],
    )
