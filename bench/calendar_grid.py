"""How long the staff calendar's week grid takes: 2 providers, 60 bookings each in the week.

A fresh SQLite file database is migrated and filled with one business, two
providers working 08:00-20:00 Monday to Saturday, 500 clients, and for each
provider ten bookings a day Monday to Saturday of the current week (45 minutes
and a 15-minute buffer each; some cancelled, pending, no-shows and arrived),
plus a year of older bookings around them so the table is not tiny.

The owner signs in once with Flask's test client; then each repetition is one
whole ``GET /staff/bookings?view=week&provider=all`` (session check, queries,
layout, template) as a browser would ask for it. The first ``WARMUP`` requests
are not counted (template compilation, statement cache). Target: median under
50 ms. ``week_grid_cpu_ms_median`` is the CPU time of the request alone, which
other work on a busy machine disturbs much less than the wall time. Run: ``.venv/bin/python bench/calendar_grid.py`` (``--check`` exits 1 when
the target is missed).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import sys
import tempfile
import time as timer
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.orm import Session

REPETITIONS = 50
WARMUP = 5
TARGET_MS = 50.0
TIMEZONE = ZoneInfo("Europe/Berlin")
PER_DAY = 10
WORKDAYS = range(6)  # Monday to Saturday
OPENS, CLOSES = time(8), time(20)
DURATION = timedelta(minutes=45)
BUFFER = timedelta(minutes=15)
CLIENTS = 500
PAST_DAYS = 365
OWNER_EMAIL = "owner@bench.example"
OWNER_PASSWORD = "quiet meadow lantern 58"  # noqa: S105 (a throwaway bench account)
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def local_instant(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TIMEZONE).astimezone(UTC)


def this_monday() -> date:
    today = datetime.now(UTC).astimezone(TIMEZONE).date()
    return today - timedelta(days=today.weekday())


def status_of(n: int) -> dict:
    """Every booking's status: mostly confirmed, a few of every other kind."""
    if n % 11 == 3:
        return {"status": "cancelled", "cancelled_by": "client"}
    if n % 13 == 5:
        return {"status": "pending"}
    if n % 17 == 7:
        return {"status": "confirmed", "no_show": True}
    if n % 7 == 2:
        return {"status": "confirmed", "arrived_at": datetime.now(UTC)}
    return {"status": "confirmed"}


def fill(url: str) -> None:
    """The business, its owner, catalog, clients and bookings (week and past year)."""
    from portal.accounts.service import create_staff_user
    from portal.booking.models import Booking
    from portal.businesses.models import Business
    from portal.catalog.models import Provider, Service, WorkingHours
    from portal.clients.models import Client
    from portal.db import make_engine

    engine = make_engine(url)
    with Session(engine) as session:
        business = Business(slug="bench", name="Bench Salon", timezone=TIMEZONE.key, locale="en")
        session.add(business)
        session.flush()
        service = Service(
            business_id=business.id,
            name="Colour and cut",
            duration_minutes=int(DURATION.total_seconds() // 60),
            buffer_minutes=int(BUFFER.total_seconds() // 60),
            price_cents=6000,
        )
        providers = []
        for name in ("Anna Weber", "Ben Kraus"):
            provider = Provider(business_id=business.id, name=name, services=[service])
            provider.working_hours = [
                WorkingHours(weekday=weekday, starts=OPENS, ends=CLOSES) for weekday in WORKDAYS
            ]
            providers.append(provider)
        session.add_all([service, *providers])
        clients = [
            Client(business_id=business.id, name=f"Client {n}", email=f"c{n}@example.com")
            for n in range(CLIENTS)
        ]
        session.add_all(clients)
        session.flush()
        create_staff_user(
            session,
            business,
            email=OWNER_EMAIL,
            password=OWNER_PASSWORD,
            role="owner",
            name="Olga Owner",
        )
        rows = []
        monday = this_monday()
        days = [monday + timedelta(days=n) for n in WORKDAYS]
        past = [monday - timedelta(days=n) for n in range(1, PAST_DAYS)]
        for provider in providers:
            for day in days + [d for d in past if d.weekday() in WORKDAYS]:
                for n in range(PER_DAY):
                    start = local_instant(day, OPENS.hour + n)
                    serial = len(rows)
                    rows.append(
                        {
                            "business_id": business.id,
                            "client_id": clients[serial % CLIENTS].id,
                            "service_id": service.id,
                            "provider_id": provider.id,
                            "start_at": start,
                            "end_at": start + DURATION,
                            "occupied_until": start + DURATION + BUFFER,
                            "price_cents": 6000,
                            "manage_token_hash": secrets.token_hex(32),
                            "created_at": start - timedelta(days=7),
                            "created_by": "client",
                            "no_show": False,
                            **status_of(serial),
                        }
                    )
        session.execute(insert(Booking), rows)
        session.commit()
    engine.dispose()


def measure(url: str, repetitions: int) -> list[float]:
    from portal import create_app

    app = create_app({"DATABASE_URL": url})
    client = app.test_client()
    page = client.get("/staff/login")
    token = CSRF.search(page.text).group(1)
    signed_in = client.post(
        "/staff/login",
        data={"csrf_token": token, "email": OWNER_EMAIL, "password": OWNER_PASSWORD},
    )
    assert signed_in.status_code == 302, signed_in.text
    week = f"/staff/bookings?view=week&provider=all&date={this_monday().isoformat()}"
    timings, cpu_timings = [], []
    blocks = 0
    for repetition in range(WARMUP + repetitions):
        started, cpu_started = timer.perf_counter(), timer.thread_time()
        response = client.get(week)
        elapsed = timer.perf_counter() - started
        cpu = timer.thread_time() - cpu_started
        assert response.status_code == 200, response.status_code
        if repetition >= WARMUP:
            timings.append(elapsed * 1000)
            cpu_timings.append(cpu * 1000)
        blocks = response.text.count('class="cal-block ')
    assert blocks == 2 * PER_DAY * len(WORKDAYS), blocks
    return timings, cpu_timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=REPETITIONS)
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 when the target is missed"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'calendar.db'}"
        os.environ.update(
            {
                "PORTAL_ENV": "testing",
                "PORTAL_INSTANCE_PATH": str(Path(folder) / "instance"),
                "PORTAL_SECRET_KEY": "bench-secret-key-not-for-production",
                "PORTAL_DATABASE_URL": url,
                "PORTAL_SIGNIN_RATE_LIMIT": "1000 per minute",
                "PORTAL_SIGNIN_ACCOUNT_RATE_LIMIT": "1000 per minute",
            }
        )
        from portal.migrate import upgrade

        upgrade(url)
        fill(url)
        timings, cpu_timings = measure(url, args.repetitions)
    median = statistics.median(timings)
    met = median < TARGET_MS
    print(
        f"target: median<{TARGET_MS:g}ms: {'met' if met else 'MISSED'}",
        file=sys.stderr,
    )
    print(
        f"week_grid_ms_median={median:.2f} week_grid_ms_p95={percentile(timings, 0.95):.2f} "
        f"week_grid_cpu_ms_median={statistics.median(cpu_timings):.2f} "
        f"bookings_in_week={2 * PER_DAY * len(WORKDAYS)} repetitions={len(timings)}"
    )
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
