"""The dashboard's weekly bar chart, laid out here and drawn as inline SVG by a template.

Only geometry and words are computed: colours come from CSS classes in
``static/portal.css`` (the CSP allows no inline styles), and the template
adds a ``<title>``, a ``<desc>`` and a table with the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portal.schedule.service import WeekCount

WIDTH = 720
HEIGHT = 260
LEFT = 40
RIGHT = 8
TOP = 12
BOTTOM = 34
#: Share of a week's width its bars fill; the rest separates the weeks.
GROUP_FILL = 0.78


@dataclass(frozen=True)
class Series:
    key: str
    name: str
    css_class: str


SERIES = (
    Series("made", "Bookings made", "bar-made"),
    Series("cancelled", "Cancellations", "bar-cancelled"),
    Series("late_refused", "Refused late cancellations", "bar-refused"),
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


def _step(largest: int) -> int:
    """A round tick step (1, 2, 5, 10, 20, ...) giving at most four steps up to ``largest``."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor * 4 >= largest:
                return step * factor
        step *= 10


def _week(week: WeekCount) -> str:
    return f"{week.start:%d %b}"


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def describe(weeks: Sequence[WeekCount]) -> str:
    """The chart in one or two sentences, for screen readers."""
    if not weeks:
        return "No weeks to show."
    made = sum(w.made for w in weeks)
    cancelled = sum(w.cancelled for w in weeks)
    refused = sum(w.late_refused for w in weeks)
    text = (
        f"Per week from the week of {weeks[0].start:%d %B %Y} to the week of "
        f"{weeks[-1].start:%d %B %Y}: "
        f"{_plural(made, 'booking', 'bookings')} made, "
        f"{_plural(cancelled, 'cancellation', 'cancellations')} and "
        f"{_plural(refused, 'refused late cancellation', 'refused late cancellations')} in all."
    )
    if made:
        busiest = max(weeks, key=lambda w: w.made)
        text += f" Most bookings were made in the week of {_week(busiest)} ({busiest.made})."
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
                    label=f"Week of {_week(week)}: {value} {series.name.lower()}",
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
    )
