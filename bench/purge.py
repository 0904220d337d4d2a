"""Purge 1 M ended bookings from SQLite while another process keeps booking over HTTP.

Builds a migrated SQLite file with one business (clean history on, 30 days),
1,000,000 bookings that ended long ago (each with a consent record), starts
gunicorn on 127.0.0.1, starts a booking process that books future slots in a
loop, then runs ``portal purge-history`` in a subprocess. Prints the purge's
wall time, its peak RSS (``os.wait4`` rusage of that child) and the p99 of
the booking POSTs that ran during the purge, and whether any booking failed.

Run: ``.venv/bin/python bench/purge.py`` (not part of the test suite).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from http.cookiejar import CookieJar
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZE = 1_000_000
CHUNK = 50_000
CLIENTS = 1_000
TARGETS = {"purge_s": 60.0, "peak_mb": 200.0, "p99_ms": 1000.0}
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def load(url: str, size: int = SIZE) -> int:
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from portal.booking.models import Booking, BookingConsent
    from portal.businesses.models import Business
    from portal.catalog.models import Provider, Service, WorkingHours
    from portal.clients.models import Client
    from portal.db import make_engine
    from portal.migrate import upgrade
    from portal.policies.service import publish_terms
    from portal.retention.models import RetentionSettings

    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        business = Business(
            slug="bench",
            name="Bench",
            timezone="UTC",
            min_notice_minutes=0,
            max_days_ahead=365,
            slot_step_minutes=30,
            max_future_bookings_per_client=0,
            max_future_bookings_per_address=0,
            terms_enabled=True,
        )
        session.add(business)
        session.flush()
        terms = publish_terms(session, business, "Bench terms.")
        service = Service(
            business_id=business.id, name="Cut", duration_minutes=30, price_cents=1000
        )
        provider = Provider(business_id=business.id, name="P")
        provider.services = [service]
        for weekday in range(7):
            provider.working_hours.append(
                WorkingHours(weekday=weekday, starts=wall(0), ends=wall(23, 30))
            )
        session.add_all([service, provider])
        session.add(
            RetentionSettings(
                business_id=business.id, enabled=True, period_amount=30, period_unit="days"
            )
        )
        session.flush()
        ids = (business.id, service.id, provider.id, terms.id)
    business_id, service_id, provider_id, terms_id = ids
    with engine.begin() as connection:
        connection.execute(
            insert(Client),
            [
                {
                    "business_id": business_id,
                    "name": f"Client {n}",
                    "email": f"c{n}@example.com",
                    "phone": "+49 30 1234567",
                    "blocked": False,
                    "blocked_reason": "",
                    "created_at": datetime(2015, 1, 1, tzinfo=UTC),
                }
                for n in range(CLIENTS)
            ],
        )
    first_start = datetime(2016, 1, 1, tzinfo=UTC)

    def rows():
        for n in range(size):
            start = first_start + timedelta(minutes=5 * n)
            yield {
                "business_id": business_id,
                "client_id": 1 + n % CLIENTS,
                "service_id": service_id,
                "provider_id": provider_id,
                "start_at": start,
                # Back to back, never overlapping: the database refuses overlaps.
                "end_at": start + timedelta(minutes=5),
                "occupied_until": start + timedelta(minutes=5),
                "status": "confirmed",
                "price_cents": 1000,
                "manage_token_hash": f"{n:064x}",
                "created_at": start,
                "created_by": "client",
                "ip_address": "203.0.113.1",
                "cancel_reason": "",
                "no_show": False,
            }

    stream = rows()
    booking_id = 0
    with engine.begin() as connection:
        while chunk := list(islice(stream, CHUNK)):
            connection.execute(insert(Booking), chunk)
            connection.execute(
                insert(BookingConsent),
                [
                    {
                        "booking_id": booking_id + i + 1,
                        "kind": "terms",
                        "terms_version_id": terms_id,
                        "accepted_at": row["created_at"],
                        "ip_address": "203.0.113.1",
                    }
                    for i, row in enumerate(chunk)
                ],
            )
            booking_id += len(chunk)
    engine.dispose()
    return service_id


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def booker(base: str, service_id: int, stop_file: Path, out_file: Path, limit: int) -> None:
    """Book consecutive future slots until ``stop_file`` appears (at most ``limit``)."""
    results = []
    slot = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    for number in range(limit):
        if stop_file.exists():
            break
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        when = slot + timedelta(minutes=30 * number)
        if (when.hour, when.minute) == (23, 30):
            continue  # the provider's day ends at 23:30
        start = when.strftime("%Y-%m-%dT%H:%MZ")
        url = f"{base}/b/bench/services/{service_id}/book?provider=any&start={start}"
        try:
            page = opener.open(url, timeout=30).read().decode()
            data = {
                "csrf_token": CSRF.search(page).group(1),
                "name": "Bench Booker",
                "email": f"booker{number}@example.com",
                "phone": "+49 30 1234567",
                "accept_terms": "y",
            }
            began = time.time()
            with opener.open(url, urllib.parse.urlencode(data).encode(), timeout=30) as reply:
                ok = reply.status == 200 and "/manage/" in reply.url
        except (urllib.error.URLError, AttributeError, TimeoutError) as error:
            began, ok = time.time(), False
            print(f"booking failed: {error}", file=sys.stderr)
        results.append((began, time.time() - began, ok))
    out_file.write_text(json.dumps(results))


def wait_for(url: str, seconds: float = 90) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()  # noqa: S310 (our own http URL)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise SystemExit(f"server did not come up at {url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--booker", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=SIZE)
    args = parser.parse_args()
    if args.booker:
        base, service_id, stop_file, out_file = args.booker
        booker(base, int(service_id), Path(stop_file), Path(out_file), 5_000)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'bench.db'}"
        began = time.time()
        service_id = load(url, args.size)
        print(f"loaded {args.size} ended bookings in {time.time() - began:.1f} s", flush=True)
        env = dict(
            os.environ,
            PORTAL_ENV="development",
            PORTAL_DATABASE_URL=url,
            PORTAL_SECRET_KEY=secrets.token_hex(16),
            PORTAL_INSTANCE_PATH=str(folder / "instance"),
            PORTAL_RATELIMIT_ENABLED="off",
            PORTAL_OUTBOX_PATH=str(folder / "outbox"),
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/gunicorn"),
                "-w",
                "4",
                "--threads",
                "2",
                "-b",
                f"127.0.0.1:{port}",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(f"{base}/healthz")
            stop_file, out_file = folder / "stop", folder / "bookings.json"
            booking = subprocess.Popen(
                [sys.executable, __file__, "--booker", base, str(service_id), stop_file, out_file]
            )
            time.sleep(2)  # let the booker warm up
            purge_began = time.time()
            purge = subprocess.Popen(
                [str(ROOT / ".venv/bin/portal"), "purge-history"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            _, status, usage = os.wait4(purge.pid, 0)
            purge_s = time.time() - purge_began
            purge_output = purge.stdout.read().decode()
            purge.stdout.close()
            time.sleep(1)
            stop_file.touch()
            booking.wait(timeout=120)
            results = json.loads(out_file.read_text())
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(purge_output.strip())
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("the purge failed")
    peak_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    during = sorted(d for start, d, ok in results if purge_began <= start <= purge_began + purge_s)
    failed = sum(1 for _, _, ok in results if not ok)
    p99_ms = during[min(len(during) - 1, int(len(during) * 0.99))] * 1000 if during else 0.0
    print(f"purge: {purge_s:.1f} s, peak RSS {peak_mb:.0f} MB")
    print(
        f"bookings: {len(results)} in all, {len(during)} during the purge, "
        f"p99 during the purge {p99_ms:.0f} ms, {failed} failed"
    )
    met = (
        purge_s < TARGETS["purge_s"]
        and peak_mb < TARGETS["peak_mb"]
        and p99_ms < TARGETS["p99_ms"]
        and not failed
    )
    print("targets " + ("met" if met else "NOT met"))
    print(f"purge_s_1M={purge_s:.1f} peak_mb={peak_mb:.0f} booking_p99_ms={p99_ms:.0f}")


if __name__ == "__main__":
    main()
