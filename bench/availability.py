"""How long one provider's free slots for the next 31 days take, by bookings-table size.

For each size, a fresh SQLite file database is migrated and filled with that
many bookings of the measured provider: about five years of past bookings
(overlaps allowed, a tenth cancelled) and the same three months of future
bookings at every size (four confirmed and one cancelled per working day,
the confirmed ones never overlapping). The other provider gets a tenth as
many bookings of its own. So the window asked for looks the same at every
size and only the table around it grows.

Each repetition opens a fresh ORM session and times ``free_slots`` alone;
the connection pool, SQLite's page cache and SQLAlchemy's statement cache
stay warm, as in a running server. Run: ``.venv/bin/python bench/availability.py``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time as timer
from datetime import UTC, date, datetime, time, timedelta
from itertools import count, islice
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.orm import Session

from portal.booking.availability import free_slots
from portal.booking.models import CANCELLED, CONFIRMED, Booking
from portal.businesses.models import Business
from portal.catalog.models import Provider, Service, WorkingHours
from portal.clients.models import Client
from portal.db import make_engine
from portal.migrate import upgrade

SIZES = (1_000, 100_000, 1_000_000)
REPETITIONS = 30
WARMUP = 3
#: A Tuesday, 06:00 in Berlin: before opening, the day after a working day.
NOW = datetime(2026, 3, 3, 5, 0, tzinfo=UTC)
TIMEZONE = ZoneInfo("Europe/Berlin")
WINDOW_DAYS = 31
PAST_DAYS = 5 * 365
FUTURE_DAYS = 90
WORKDAYS = range(6)  # Monday to Saturday
OPENS, CLOSES = time(9), time(18)
DURATION = timedelta(minutes=30)
BUFFER = timedelta(minutes=10)
STEP_MINUTES = 15
CLIENTS = 500
CHUNK = 50_000
TARGET_MS_1M = 20.0
TARGET_RATIO = 1.5


def local_instant(day: date, minutes: int) -> datetime:
    """Minutes after midnight on ``day`` in Berlin, as a UTC instant."""
    wall = time(minutes // 60, minutes % 60)
    return datetime.combine(day, wall, tzinfo=TIMEZONE).astimezone(UTC)


def working_days(first: date, last: date) -> list[date]:
    count = (last - first).days + 1
    days = (first + timedelta(days=n) for n in range(count))
    return [day for day in days if day.weekday() in WORKDAYS]


def grid(first_minute: int, last_minute: int) -> list[int]:
    """Slot starts (minutes after midnight) on the step grid."""
    return list(range(first_minute, last_minute + 1, STEP_MINUTES))


OPEN_MINUTE = OPENS.hour * 60
LAST_START = CLOSES.hour * 60 - int(DURATION.total_seconds() // 60)


def future_bookings(rng: random.Random) -> list[tuple[datetime, str]]:
    """Four confirmed, never overlapping, and one cancelled booking per working day."""
    today = NOW.astimezone(TIMEZONE).date()
    block = (CLOSES.hour - OPENS.hour) * 60 // 4
    occupancy = int((DURATION + BUFFER).total_seconds() // 60)
    offsets = grid(0, block - occupancy)
    rows = []
    for day in working_days(today, today + timedelta(days=FUTURE_DAYS)):
        for n in range(4):
            start = OPEN_MINUTE + n * block + rng.choice(offsets)
            rows.append((local_instant(day, start), CONFIRMED))
        rows.append((local_instant(day, rng.choice(grid(OPEN_MINUTE, LAST_START))), CANCELLED))
    return rows


def past_bookings(rng: random.Random, count: int) -> list[tuple[datetime, str]]:
    """``count`` bookings on random working days of the last five years, a tenth cancelled.

    The database refuses two overlapping active bookings of one provider, so a
    booking that would overlap an earlier one of the same day is cancelled too
    (most of them: a provider fits a few dozen bookings a day, not hundreds).
    """
    today = NOW.astimezone(TIMEZONE).date()
    days = working_days(today - timedelta(days=PAST_DAYS), today - timedelta(days=1))
    starts = grid(OPEN_MINUTE, LAST_START)
    occupancy = int((DURATION + BUFFER).total_seconds() // 60)
    held: dict[date, list[int]] = {}
    rows = []
    for _ in range(count):
        day, start = rng.choice(days), rng.choice(starts)
        status = CANCELLED if rng.random() < 0.1 else CONFIRMED
        if status == CONFIRMED:
            taken = held.setdefault(day, [])
            if any(abs(start - other) < occupancy for other in taken):
                status = CANCELLED
            else:
                taken.append(start)
        rows.append((local_instant(day, start), status))
    return rows


def schedule(seed: int, size: int) -> list[tuple[datetime, str]]:
    """``size`` bookings of one provider: the fixed future plus past ones, in time order."""
    future = future_bookings(random.Random(seed))[:size]
    past = past_bookings(random.Random(seed + 1), size - len(future))
    return sorted(past + future)


def booking_rows(ids, provider_id, client_ids, bookings, serial):
    for start, status in bookings:
        end = start + DURATION
        cancelled = status == CANCELLED
        yield {
            "business_id": ids["business"],
            "client_id": client_ids[next(serial) % len(client_ids)],
            "service_id": ids["service"],
            "provider_id": provider_id,
            "start_at": start,
            "end_at": end,
            "occupied_until": end + BUFFER,
            "status": status,
            "price_cents": 3000,
            "manage_token_hash": f"{next(serial):064x}",
            "policy_version_id": None,
            "created_at": start - timedelta(days=14),
            "cancelled_at": start - timedelta(days=2) if cancelled else None,
            "cancelled_by": "client" if cancelled else None,
        }


def create_catalog(session: Session) -> dict[str, int]:
    business = Business(
        slug="bench",
        name="Bench Salon",
        timezone=TIMEZONE.key,
        min_notice_minutes=120,
        max_days_ahead=60,
        slot_step_minutes=STEP_MINUTES,
    )
    session.add(business)
    session.flush()
    service = Service(
        business_id=business.id,
        name="Haircut",
        duration_minutes=int(DURATION.total_seconds() // 60),
        buffer_minutes=int(BUFFER.total_seconds() // 60),
        price_cents=3000,
    )
    providers = []
    for name in ("Alex", "Sam"):
        provider = Provider(business_id=business.id, name=name, services=[service])
        provider.working_hours = [
            WorkingHours(weekday=weekday, starts=OPENS, ends=CLOSES) for weekday in WORKDAYS
        ]
        providers.append(provider)
    session.add_all([service, *providers])
    session.flush()
    clients = [
        Client(business_id=business.id, name=f"Client {n}", email=f"client{n}@example.com")
        for n in range(CLIENTS)
    ]
    session.add_all(clients)
    session.commit()
    return {
        "business": business.id,
        "service": service.id,
        "measured": providers[0].id,
        "other": providers[1].id,
        "clients": [client.id for client in clients],
    }


def load(engine, size: int) -> dict[str, int]:
    """Create the catalog and insert the bookings in chunks with executemany."""
    with Session(engine) as session:
        ids = create_catalog(session)
    serial = count()
    batches = [
        (ids["measured"], schedule(1, size)),
        (ids["other"], schedule(101, max(size // 10, 1))),
    ]
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA cache_size=-262144")
        for provider_id, bookings in batches:
            rows = booking_rows(ids, provider_id, ids["clients"], bookings, serial)
            while chunk := list(islice(rows, CHUNK)):
                connection.execute(insert(Booking), chunk)
    return ids


def measure(engine, ids: dict[str, int], repetitions: int) -> tuple[list[float], int]:
    """Milliseconds per ``free_slots`` call over the 31-day window, and the slot count."""
    first_day = NOW.astimezone(TIMEZONE).date()
    last_day = first_day + timedelta(days=WINDOW_DAYS - 1)
    timings = []
    slot_count = 0
    for repetition in range(WARMUP + repetitions):
        with Session(engine) as session:
            business = session.get(Business, ids["business"])
            service = session.get(Service, ids["service"])
            provider = session.get(Provider, ids["measured"])
            started = timer.perf_counter()
            slots = free_slots(session, business, service, [provider], first_day, last_day, NOW)
            elapsed = timer.perf_counter() - started
        if repetition >= WARMUP:
            timings.append(elapsed * 1000)
        slot_count = sum(len(day) for day in slots.values())
    return timings, slot_count


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run_size(folder: Path, size: int, repetitions: int) -> float:
    url = f"sqlite:///{folder / f'bench-{size}.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        started = timer.perf_counter()
        ids = load(engine, size)
        load_seconds = timer.perf_counter() - started
        timings, slot_count = measure(engine, ids, repetitions)
    finally:
        engine.dispose()
    median = statistics.median(timings)
    print(
        f"size={size} median_ms={median:.2f} p90_ms={percentile(timings, 0.9):.2f} "
        f"slots={slot_count} load_s={load_seconds:.1f}",
        flush=True,
    )
    return median


def parse_sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(SIZES),
        help="comma-separated booking counts, e.g. 1000,100_000 (default: %(default)s)",
    )
    parser.add_argument("--repetitions", type=int, default=REPETITIONS)
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 when a target is missed"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="portal-bench-") as folder:
        medians = {size: run_size(Path(folder), size, args.repetitions) for size in args.sizes}

    smallest, largest = min(medians), max(medians)
    ratio = medians[largest] / medians[smallest]
    met = True
    if 1_000 in medians and 1_000_000 in medians:
        met = medians[1_000_000] < TARGET_MS_1M and ratio <= TARGET_RATIO
        print(
            f"targets: median_1M<{TARGET_MS_1M:g}ms and ratio<={TARGET_RATIO:g}: "
            f"{'met' if met else 'MISSED'}",
            file=sys.stderr,
        )
        print(f"availability_ms_1M={medians[1_000_000]:.2f} ratio_1M_to_1k={ratio:.2f}")
    else:
        print(f"availability_ms_{largest}={medians[largest]:.2f} ratio_to_{smallest}={ratio:.2f}")
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
