"""Mail benchmark: ``portal worker`` delivers 10,000 queued confirmations to a local SMTP server.

Builds a throwaway database (SQLite by default, or ``--database-url`` for an
empty PostgreSQL database) with the demo business and ``--messages`` (10,000)
real bookings of it: future, back to back on one provider, for 1,000
clients. Each booking gets one ``booking.confirmation`` row in the outbox,
queued as a booking request queues it (``portal.mail.outbox.enqueue``, a
sealed payload with a manage link), half of them in German, half in English,
in commits of ``--chunk`` rows (each commit nudges the task queue, as each
booking request does).

Then it starts ``bench/smtp_sink.py`` (aiosmtpd, answering at once) and
``--processes`` (3) ``portal worker`` processes of ``--threads`` (1) thread
each, so neither the SMTP server's CPU nor this script's is in the figure,
and polls the outbox until
every row is sent (polled every 0.1 s). ``seconds`` runs from the worker's
first claim to the last row marked sent (the worker's start-up is left out and
printed apart, with the workers' CPU seconds per message); ``peak_mb`` is the
largest peak resident set (``VmHWM`` of ``/proc/<pid>/status``) of a worker
process.

Why three processes on two cores: a worker spends about a third of each
message waiting for the SMTP server's replies, and Python threads cannot use
that time (a thread woken by a reply waits for the other to give up the
interpreter lock); a third process can. One worker process per core plus one
is also what the README's systemd template unit suggests.

Prints ``mails=<n> seconds=<s> mails_per_s=<..> peak_mb=<..>`` as its last line.
Targets: mails_per_s >= 200, peak_mb < 200, every message received once.

Run: ``.venv/bin/python bench/mail.py [--messages 10000] [--processes 3] [--threads 1]
[--database-url URL]``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

CLIENTS = 1_000
SECRET_KEY = "bench-secret-key"  # noqa: S105 (a throwaway instance)


def base_env(workdir: Path, database_url: str, smtp_url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")},
        "PORTAL_ENV": "development",
        "PORTAL_SECRET_KEY": SECRET_KEY,
        "PORTAL_INSTANCE_PATH": str(workdir / "instance"),
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_SMTP_URL": smtp_url,
        "PYTHONPATH": str(ROOT),
    }


def build(database_url: str, messages: int, chunk: int) -> None:
    """The demo business, ``messages`` bookings and one queued confirmation for each."""
    from flask import url_for
    from sqlalchemy import insert, select
    from sqlalchemy.orm import Session

    from portal import create_app
    from portal.booking.mailing import CONFIRMATION
    from portal.booking.models import Booking
    from portal.catalog.models import Provider, Service
    from portal.clients.models import Client
    from portal.db import make_engine
    from portal.demo import load_demo
    from portal.mail.outbox import enqueue
    from portal.migrate import upgrade
    from portal.web.urls import absolute_url

    upgrade(database_url)
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        business = load_demo(
            session, datetime.now(UTC).date(), owner_password=secrets.token_urlsafe(16)
        ).business
        service = session.scalars(
            select(Service).where(Service.business_id == business.id).order_by(Service.id)
        ).first()
        provider = session.scalars(
            select(Provider).where(Provider.business_id == business.id).order_by(Provider.id)
        ).first()
        ids = business.id, service.id, provider.id, service.duration_minutes
    business_id, service_id, provider_id, minutes = ids
    now = datetime.now(UTC)
    with engine.begin() as connection:
        client_ids = (
            connection.execute(
                insert(Client).returning(Client.id),
                [
                    {
                        "business_id": business_id,
                        "name": f"Client {n}",
                        "email": f"client{n}@example.com",
                        "phone": "+49 30 1234567",
                        "created_at": now,
                    }
                    for n in range(CLIENTS)
                ],
            )
            .scalars()
            .all()
        )
        # Three days ahead: no reminder (24 h before by default) falls due during the run.
        first = (now + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
        tokens = [secrets.token_urlsafe(24) for _ in range(messages)]
        booking_ids = (
            connection.execute(
                insert(Booking).returning(Booking.id),
                [
                    {
                        "business_id": business_id,
                        "client_id": client_ids[n % CLIENTS],
                        "service_id": service_id,
                        "provider_id": provider_id,
                        "start_at": first + timedelta(minutes=minutes * n),
                        # Back to back, never overlapping: the database refuses overlaps.
                        "end_at": first + timedelta(minutes=minutes * (n + 1)),
                        "occupied_until": first + timedelta(minutes=minutes * (n + 1)),
                        "price_cents": 3500,
                        "manage_token_hash": f"{n:064x}",
                        "created_at": now,
                        "ip_address": "203.0.113.1",
                    }
                    for n in range(messages)
                ],
            )
            .scalars()
            .all()
        )
    emails = {n: f"client{n % CLIENTS}@example.com" for n in range(messages)}

    app = create_app()
    work = iter(enumerate(booking_ids))
    with app.test_request_context(base_url=app.config["BASE_URL"]):
        while batch := list(islice(work, chunk)):
            with Session(engine) as session, session.begin():
                for n, booking_id in batch:
                    enqueue(
                        session,
                        kind=CONFIRMATION,
                        recipient=emails[n],
                        payload={
                            "business_id": business_id,
                            "booking_id": booking_id,
                            "link": absolute_url(
                                url_for("booking.manage", slug="demo", token=tokens[n])
                            ),
                        },
                        business_id=business_id,
                        locale="de" if n % 2 else "en",
                    )
            # The commit nudged the task queue, as a booking request does.
    engine.dispose()


def counts(engine) -> dict[str, int]:
    from sqlalchemy import text

    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT status, count(*) FROM outbox_messages GROUP BY status")
        ).all()
    return dict(rows)


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_sink() -> tuple[subprocess.Popen, str]:
    sink = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "smtp_sink.py")], stdout=subprocess.PIPE, text=True
    )
    line = sink.stdout.readline().strip()
    if not line.startswith("port="):
        sys.exit(f"the SMTP sink said {line!r}")
    return sink, f"smtp://127.0.0.1:{line.removeprefix('port=')}?starttls=no"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=500, help="rows per enqueue commit")
    parser.add_argument("--threads", type=int, default=1, help="portal worker --threads")
    parser.add_argument("--processes", type=int, default=3, help="portal worker processes")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for delivery")
    parser.add_argument(
        "--database-url", help="an empty PostgreSQL database (default: a fresh SQLite file)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    from sqlalchemy import create_engine

    workdir = Path(tempfile.mkdtemp(prefix="portal-mail-bench-"))
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    sink, smtp_url = start_sink()
    workers: list[subprocess.Popen] = []
    try:
        # This process builds with the same settings the workers will read.
        os.environ.update(base_env(workdir, database_url, smtp_url))
        started = time.perf_counter()
        build(database_url, args.messages, args.chunk)
        print(
            f"queued {args.messages} messages in {time.perf_counter() - started:.1f} s", flush=True
        )

        log = workdir / "worker.log"
        spawned = time.perf_counter()
        with log.open("w") as output:
            for _ in range(args.processes):
                workers.append(
                    subprocess.Popen(
                        [str(BIN / "portal"), "worker", "--threads", str(args.threads)],
                        cwd=ROOT,
                        env=base_env(workdir, database_url, smtp_url),
                        stdout=output,
                        stderr=subprocess.STDOUT,
                    )
                )
        engine = create_engine(database_url)
        first_claim: float | None = None
        cpu_at_claim = 0.0
        peaks = [0.0] * len(workers)
        deadline = spawned + args.timeout
        while True:
            now = time.perf_counter()
            status = counts(engine)
            if first_claim is None and status.get("pending", 0) < args.messages:
                first_claim = now
                cpu_at_claim = sum(cpu_seconds(worker.pid) for worker in workers)
            peaks = [max(peak, peak_mb(w.pid)) for peak, w in zip(peaks, workers, strict=True)]
            if status.get("pending", 0) + status.get("sending", 0) == 0:
                break
            if any(worker.poll() is not None for worker in workers):
                sys.exit(f"a portal worker exited:\n{log.read_text()[-3000:]}")
            if now > deadline:
                sys.exit(f"not delivered within {args.timeout:g} s: {status}")
            time.sleep(0.1)
        finished = time.perf_counter()
        engine.dispose()
        cpu = sum(cpu_seconds(worker.pid) for worker in workers) - cpu_at_claim
        peaks = [max(peak, peak_mb(w.pid)) for peak, w in zip(peaks, workers, strict=True)]
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
        workers.clear()
        sink.send_signal(signal.SIGTERM)
        received = int(sink.communicate(timeout=30)[0].strip().rsplit("received=", 1)[1])
        sent = status.get("sent", 0)
        seconds = finished - first_claim
        print(
            f"outbox: {status}; the SMTP server received {received};"
            f" worker start-up {first_claim - spawned:.1f} s;"
            f" worker CPU {cpu:.1f} s ({1000 * cpu / max(sent, 1):.1f} ms per message);"
            f" peak MB per worker {', '.join(f'{peak:.0f}' for peak in peaks)}",
            flush=True,
        )
        if received != args.messages or sent != args.messages:
            print("error: not every message was sent exactly once", file=sys.stderr)
        print(
            f"mails={sent} seconds={seconds:.1f} mails_per_s={sent / seconds:.1f}"
            f" peak_mb={max(peaks):.0f}"
        )
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
        if sink.poll() is None:
            sink.kill()
            sink.wait()
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
