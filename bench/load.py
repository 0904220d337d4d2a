"""Load benchmark: Portal under gunicorn against a bare Flask app under the same settings.

Builds a throwaway database with the demo business (SQLite by default, or
``--database-url`` for PostgreSQL), starts gunicorn with 2 workers for Portal
and for ``bench/bare_app.py``, a local SMTP server (``bench/smtp_sink.py``,
its own process) and ``portal worker`` (the outbox's sender), all on one
throwaway instance directory. Portal sends through
``PORTAL_SMTP_URL=smtp://127.0.0.1:<port>?starttls=no``.

Phases, in this order:

1. Pages (skipped with ``--skip-pages``): ``wrk`` drives the services page, a
   slot page and the bare page in rounds that alternate between the targets;
   each figure is the median over the rounds. In the same rounds the slot page
   runs with the demo's own booking window (``slots-demo``) and with a 365-day
   window (``slots-365``; ``businesses.max_days_ahead`` is changed between the
   two runs): ``slots_window_ratio`` = 365-day req/s / demo-window req/s, target
   >= 0.9 (the page computes only the month it shows). Then Python clients send
   ``--bookings`` booking POSTs (``booking``), each a different free slot,
   since every successful booking changes what is free.
2. The full client flow at ``--flow-clients`` (4) clients: one flow is GET the
   booking form (``/b/demo/services/<id>/book?provider=any&start=...``), POST
   the booking (the 303 is not followed) and GET the manage page the 303's
   Location names. Rounds alternate ``wrk -c4`` on the bare page with
   ``--flows`` flows. ``flows_per_s`` is the median over the rounds of
   completed flows / wall time; ``flow_ratio`` = ``flows_per_s`` / the
   median req/s of the bare page at the same 4 connections (``wrk -t2 -c4``)
   in the same run. A flow is three requests, so 1/3 would mean each request
   of the flow is as cheap as the bare page. The worker runs meanwhile and
   takes its share of the CPU: that is the deployment.
3. Booking POSTs while the SMTP server answers at once (``booking-fast``)
   and while it answers each message after ``--smtp-delay`` (2 s;
   ``booking-slow``): ``--mail-bookings`` of each, in ``--smtp-alternations``
   chunks that alternate fast, slow, fast, slow..., so a busy spell of a
   shared machine weighs on both alike; each chunk books its own free slots
   and starts with the outbox drained (an idle worker). Only the POST is
   timed; p50 and p99 are over all the POSTs of one mode. Target:
   ``slow_over_fast`` (slow p99 / fast p99) <= 1.2.

``--portal-root PATH`` serves Portal from another checkout (a ``git
worktree`` of an older commit): its migrations build the database, gunicorn
imports its ``wsgi:app`` (cwd and PYTHONPATH), and its ``portal worker`` runs
if it has one (before issue 13 the request wrote and sent the e-mail itself).
The bare app always comes from this checkout.

Prints req/s, p50 and p99 per target, then as its last line
``services_ratio=<portal/bare> slots_ratio=<..> slots_window_ratio=<..> booking_rps=<..>
booking_p99_fast_ms=<..> booking_p99_slow_ms=<..> slow_over_fast=<..>
flows_per_s=<..> flow_ratio=<..> errors=<n>`` (keys of skipped phases left out).
Targets: services >= 0.5, slots >= 0.3, slots_window_ratio >= 0.9, p99 < 100 ms at 50 connections,
slow_over_fast <= 1.2, flow_ratio at least a third above the commit before issue 13, 0 errors.

Run: ``.venv/bin/python bench/load.py [--rounds 3] [--duration 5] [--connections 50]
[--flows 100] [--mail-bookings 300] [--skip-pages] [--skip-slow] [--portal-root PATH]``.
Before issue 13, from a worktree of the commit before it::

    git worktree add /tmp/base13 cbbe075
    .venv/bin/python bench/load.py --skip-pages --portal-root /tmp/base13 --mail-bookings 30
    git worktree remove --force /tmp/base13

(30 bookings per mode there: each POST waits for the slow server, 2 s and more.)
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

SLOT_LINK = re.compile(r'href="(/b/demo/services/\d+/book\?[^"]+)"')
SERVICE_LINK = re.compile(r'href="/b/demo/services/(\d+)(?:\?[^"]*)?"')
START = re.compile(r"start=([0-9T:Z-]+)")
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
#: The booking form's note that a deadline of the time has passed (a slot within 24 hours).
DEADLINE_NOTICE = re.compile(r'name="deadline_notice" value="([^"]*)"')
#: How far ahead the demo takes bookings here (its own window is shorter): room for ~2,000 slots.
DAYS_AHEAD = 730
#: The long booking window the slot page is measured with besides the demo's own.
LONG_WINDOW_DAYS = 365


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("wrk is missing; install it (apt-get install wrk) and run again.")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "wrk"], check=True, env=env, stdout=subprocess.DEVNULL
    )
    return shutil.which("wrk") or "/usr/bin/wrk"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"gunicorn did not listen on {port}")


def start_gunicorn(
    target: str, env: dict[str, str], workers: int, root: Path = ROOT
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [
            str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
            "--chdir", str(root), "--log-level", "warning", target,
        ],
        # Started in ``root``: gunicorn puts its starting directory first on sys.path.
        cwd=root,
        env={**env, "PYTHONPATH": str(root)},
        stdout=subprocess.DEVNULL,  # the access log (gunicorn.conf.py) would drown the figures
    )  # fmt: skip
    wait_for(port, process)
    return process, f"http://127.0.0.1:{port}"


class SmtpSink:
    """``bench/smtp_sink.py`` in its own process: fast or slow on demand, counting messages."""

    def __init__(self, delay: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "smtp_sink.py"), "--slow-delay", str(delay)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self._expect("port="))
        self.url = f"smtp://127.0.0.1:{self.port}?starttls=no"

    def _expect(self, prefix: str) -> str:
        line = self.process.stdout.readline().strip()
        if not line.startswith(prefix):
            sys.exit(f"the SMTP sink said {line!r}, not {prefix}...")
        return line.removeprefix(prefix)

    def slow(self) -> None:
        self.process.send_signal(signal.SIGUSR1)
        self._expect("mode=slow")

    def fast(self) -> None:
        self.process.send_signal(signal.SIGUSR2)
        self._expect("mode=fast")

    def received(self) -> int:
        self.process.send_signal(signal.SIGHUP)
        return int(self._expect("received="))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.communicate(timeout=30)


def has_worker(root: Path, env: dict[str, str]) -> bool:
    """Whether the checkout at ``root`` has ``portal worker`` (issue 13 and later)."""
    return (
        subprocess.run(
            [str(BIN / "portal"), "worker", "--help"],
            cwd=root,
            env={**env, "PYTHONPATH": str(root)},
            capture_output=True,
        ).returncode
        == 0
    )


def start_worker(root: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(BIN / "portal"), "worker"],
            cwd=root,
            env={**env, "PYTHONPATH": str(root)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    time.sleep(2)
    if process.poll() is not None:
        sys.exit(f"portal worker exited with {process.returncode}:\n{log.read_text()[-2000:]}")
    return process


def prepare_database(url: str | None, workdir: Path, root: Path) -> tuple[str, int]:
    """Migrate a fresh database and load the demo, with ``root``'s code (a subprocess).

    Returns the database URL and the demo's own booking window in days.
    """
    url = url or f"sqlite:///{workdir / 'bench.db'}"
    output = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--prepare-database", url],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return url, int(re.search(r"^demo_days_ahead=(\d+)$", output, re.M).group(1))


def set_booking_window(database_url: str, days: int) -> None:
    """Let the demo take bookings ``days`` ahead (gunicorn reads it on every request)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE businesses SET max_days_ahead = :days WHERE slug = 'demo'"),
                {"days": days},
            )
    finally:
        engine.dispose()


def _prepare_database(url: str) -> None:
    # Run as ``load.py --prepare-database URL`` with the checkout's PYTHONPATH.
    sys.path.insert(0, os.environ.get("PYTHONPATH", str(ROOT)).split(os.pathsep)[0])
    from sqlalchemy.orm import Session

    from portal.db import make_engine
    from portal.demo import load_demo
    from portal.migrate import upgrade

    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        demo = load_demo(
            session, datetime.now(UTC).date(), owner_password=secrets.token_urlsafe(16)
        )
        # Every benchmark booking comes from 127.0.0.1: the abuse limits per
        # address and per e-mail would refuse them after a few, which is not
        # what this measures.
        demo.business.max_future_bookings_per_address = 0
        demo.business.max_future_bookings_per_client = 0
        print(f"demo_days_ahead={demo.business.max_days_ahead}", flush=True)
        demo.business.max_days_ahead = DAYS_AHEAD
    engine.dispose()


def outbox_backlog(database_url: str) -> int | None:
    """Messages not yet sent or failed; None where there is no outbox (before issue 13)."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(database_url)
    try:
        if not inspect(engine).has_table("outbox_messages"):
            return None
        with engine.connect() as connection:
            return connection.scalar(
                text("SELECT count(*) FROM outbox_messages WHERE status IN ('pending', 'sending')")
            )
    finally:
        engine.dispose()


def drain_outbox(database_url: str, timeout: float) -> None:
    """Wait until the worker has sent everything queued (or ``timeout`` seconds passed)."""
    deadline = time.monotonic() + timeout
    while (backlog := outbox_backlog(database_url)) and time.monotonic() < deadline:
        time.sleep(0.2)
    if backlog:
        print(f"note: {backlog} message(s) still queued after {timeout:g} s", file=sys.stderr)


def parse_latency(value: str) -> float:
    """wrk's '1.23ms' / '450.00us' / '1.02s' in milliseconds."""
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per figure, the median over the rounds; errors add up."""
    merged = {key: statistics.median(run[key] for run in runs) for key in ("rps", "p50", "p99")}
    merged["errors"] = sum(run["errors"] for run in runs)
    return merged


def run_wrk(wrk: str, url: str, duration: int, connections: int) -> dict[str, float]:
    output = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = parse_latency(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    p99 = parse_latency(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(match.group(1))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors += sum(int(n) for n in match.groups())
    return {"rps": rps, "p50": p50, "p99": p99, "errors": errors}


def get(base: str, path: str, cookie: str = "") -> tuple[int, str, str]:
    parts = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = connection.getresponse()
    body = response.read().decode()
    set_cookie = response.getheader("Set-Cookie", "")
    connection.close()
    return response.status, body, set_cookie.split(";", 1)[0] if set_cookie else cookie


def post_booking(
    base: str, link: str, cookie: str, token: str, number: int, page: str = ""
) -> tuple[int, str]:
    """POST the booking form of ``link`` (its ``page``); the status and the Location."""
    parts = urllib.parse.urlsplit(base)
    notice = DEADLINE_NOTICE.search(page)
    body = urllib.parse.urlencode(
        {
            **({"deadline_notice": notice.group(1)} if notice else {}),
            "csrf_token": token,
            "name": f"Bench Client {number}",
            "email": f"bench{number}-{secrets.token_hex(4)}@example.com",
            "phone": "+49 30 1234567",
            "accept_terms": "y",
            "accept_policy": "y",
        }
    )
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    connection.request(
        "POST",
        link,
        body=body,
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    response = connection.getresponse()
    response.read()
    location = response.getheader("Location", "")
    connection.close()
    return response.status, location


def free_slot_links(base: str, service_id: int, wanted: int) -> list[str]:
    """Booking links of ``wanted`` distinct free slots, two hours apart, day by day."""
    chosen: list[str] = []
    last: datetime | None = None
    day = date.today()
    for _ in range(DAYS_AHEAD + 2):
        status, page, _ = get(base, f"/b/demo/services/{service_id}?day={day.isoformat()}")
        if status == 400:  # before the booking window (today, late), or past it
            if chosen or day > date.today() + timedelta(days=7):
                break
            day += timedelta(days=1)
            continue
        assert status == 200, status
        # Two hours apart, so no booking overlaps the next one's slot (else a 409 "taken").
        for link in sorted(
            dict.fromkeys(link.replace("&amp;", "&") for link in SLOT_LINK.findall(page))
        ):
            start = datetime.fromisoformat(START.search(link).group(1).replace("Z", "+00:00"))
            if last is None or start - last >= timedelta(hours=2):
                chosen.append(link)
                last = start
        if len(chosen) >= wanted:
            return chosen[:wanted]
        day += timedelta(days=1)
    sys.exit(f"only {len(chosen)} free slots two hours apart; {wanted} wanted (fewer --flows?)")


def summarize(latencies: list[float], elapsed: float, errors: int) -> dict:
    latencies = sorted(latencies)
    done = len(latencies)
    return {
        "rps": done / elapsed if elapsed else 0.0,
        "p50": latencies[done // 2] * 1000 if done else 0.0,
        "p99": latencies[min(done - 1, int(done * 0.99))] * 1000 if done else 0.0,
        "errors": errors,
        "latencies": latencies,
        "elapsed": elapsed,
    }


def pooled(runs: list[dict]) -> dict[str, float]:
    """One figure over the requests of several runs (not a median of their figures)."""
    return summarize(
        [latency for run in runs for latency in run["latencies"]],
        sum(run["elapsed"] for run in runs),
        sum(run["errors"] for run in runs),
    )


def drive_bookings(base: str, links: list[str], clients: int) -> dict[str, float]:
    """``clients`` threads book ``links`` (one each) as fast as they can; the POST is timed."""
    pending = list(links)
    lock = threading.Lock()
    latencies: list[float] = []
    errors = 0

    def worker(number: int) -> None:
        nonlocal errors
        while True:
            with lock:
                if not pending:
                    return
                link = pending.pop()
            status, page, cookie = get(base, link)
            token = CSRF.search(page)
            if status != 200 or token is None:
                with lock:
                    errors += 1
                continue
            started = time.perf_counter()
            status, _location = post_booking(base, link, cookie, token.group(1), number, page)
            with lock:
                latencies.append(time.perf_counter() - started)
                if status != 303:
                    errors += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return summarize(latencies, time.perf_counter() - started, errors)


def drive_flows(base: str, links: list[str], clients: int) -> dict[str, float]:
    """``clients`` threads each run flows (form, booking, manage page) back to back.

    ``rps`` is completed flows per second; p50/p99 are of a whole flow.
    """
    pending = list(links)
    lock = threading.Lock()
    latencies: list[float] = []
    errors = 0

    def worker(number: int) -> None:
        nonlocal errors
        while True:
            with lock:
                if not pending:
                    return
                link = pending.pop()
            started = time.perf_counter()
            status, page, cookie = get(base, link)
            token = CSRF.search(page)
            ok = status == 200 and token is not None
            if ok:
                status, location = post_booking(base, link, cookie, token.group(1), number, page)
                ok = status == 303 and bool(location)
            if ok:
                path = urllib.parse.urlsplit(location)
                status, _page, _ = get(base, f"{path.path}?{path.query}", cookie)
                ok = status == 200
            with lock:
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return summarize(latencies, time.perf_counter() - started, errors)


def print_result(name: str, result: dict[str, float], unit: str = "req/s") -> None:
    print(
        f"{name:<12} {result['rps']:9.1f} {unit:<7} p50 {result['p50']:8.2f} ms  "
        f"p99 {result['p99']:8.2f} ms  errors {result['errors']}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per page, alternating")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bookings", type=int, default=200, help="booking POSTs to send")
    parser.add_argument("--booking-clients", type=int, default=8)
    parser.add_argument("--flows", type=int, default=100, help="client flows per round")
    parser.add_argument("--flow-clients", type=int, default=4)
    parser.add_argument(
        "--mail-bookings", type=int, default=300, help="booking POSTs per SMTP mode (fast, slow)"
    )
    parser.add_argument("--smtp-alternations", type=int, default=3, help="fast/slow chunks each")
    parser.add_argument("--smtp-delay", type=float, default=2.0, help="seconds, slow SMTP")
    parser.add_argument("--skip-pages", action="store_true", help="no page or booking_rps phase")
    parser.add_argument("--skip-slow", action="store_true", help="no slow-SMTP phase")
    parser.add_argument(
        "--portal-root", type=Path, default=ROOT, help="serve Portal from this checkout"
    )
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a fresh SQLite file)")
    parser.add_argument("--prepare-database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare_database:
        _prepare_database(args.prepare_database)
        return

    wrk = ensure_wrk()
    root = args.portal_root.resolve()
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    processes: list[subprocess.Popen] = []
    sink = SmtpSink(args.smtp_delay)
    try:
        database_url, demo_days_ahead = prepare_database(args.database_url, workdir, root)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")},
            "PORTAL_ENV": "development",
            "PORTAL_SECRET_KEY": "bench-secret-key",
            "PORTAL_INSTANCE_PATH": str(workdir / "instance"),
            "PORTAL_DATABASE_URL": database_url,
            "PORTAL_SMTP_URL": sink.url,
            # The benchmark measures the pages, not the limiter refusing one address.
            "PORTAL_RATELIMIT_ENABLED": "0",
        }
        portal, portal_url = start_gunicorn("wsgi:app", env, args.workers, root)
        processes.append(portal)
        bare, bare_url = start_gunicorn("bench.bare_app:app", env, args.workers)
        processes.append(bare)
        if has_worker(root, env):
            processes.append(start_worker(root, env, workdir / "worker.log"))
        else:
            print(f"{root} has no `portal worker`: the request sends its own e-mail", flush=True)

        status, services_page, _ = get(portal_url, "/b/demo/")
        assert status == 200, status
        service_id = int(SERVICE_LINK.search(services_page).group(1))
        chunk = max(1, args.mail_bookings // args.smtp_alternations)
        wanted = (
            (0 if args.skip_pages else args.bookings)
            + args.flows * args.rounds
            + chunk * args.smtp_alternations * (1 if args.skip_slow else 2)
        )
        links = free_slot_links(portal_url, service_id, wanted)

        def take(count: int) -> list[str]:
            taken = links[:count]
            del links[:count]
            return taken

        results: dict[str, dict[str, float]] = {}
        if not args.skip_pages:
            targets = {
                "bare": f"{bare_url}/",
                "services": f"{portal_url}/b/demo/",
                "slots": f"{portal_url}/b/demo/services/{service_id}",
            }
            # Rounds alternate the targets, so a slow spell of a shared machine
            # weighs on all of them alike; each figure is the median of its rounds.
            # The same slot page under the demo's window and a 365-day one, in the same rounds.
            windows = {"slots-demo": demo_days_ahead, "slots-365": LONG_WINDOW_DAYS}
            rounds: dict[str, list[dict[str, float]]] = {name: [] for name in (*targets, *windows)}
            for _round in range(args.rounds):
                for name, url in targets.items():
                    rounds[name].append(run_wrk(wrk, url, args.duration, args.connections))
                for name, days in windows.items():
                    set_booking_window(database_url, days)
                    rounds[name].append(
                        run_wrk(wrk, targets["slots"], args.duration, args.connections)
                    )
                set_booking_window(database_url, DAYS_AHEAD)
            results.update({name: median_run(runs) for name, runs in rounds.items()})
            results["booking"] = drive_bookings(
                portal_url, take(args.bookings), args.booking_clients
            )
            for name in (*targets, *windows, "booking"):
                print_result(name, results[name])
            drain_outbox(database_url, 120)

        # The full client flow against the bare page at the same 4 connections, alternating.
        flow_rounds: list[dict[str, float]] = []
        bare_rounds: list[dict[str, float]] = []
        for _round in range(args.rounds):
            bare_rounds.append(run_wrk(wrk, f"{bare_url}/", args.duration, args.flow_clients))
            flow_rounds.append(drive_flows(portal_url, take(args.flows), args.flow_clients))
        results["bare-c4"] = median_run(bare_rounds)
        results["flow"] = median_run(flow_rounds)
        print_result(f"bare-c{args.flow_clients}", results["bare-c4"])
        print_result("flow", results["flow"], "flows/s")
        drain_outbox(database_url, 120)

        modes = ["fast"] if args.skip_slow else ["fast", "slow"]
        chunks: dict[str, list[dict]] = {mode: [] for mode in modes}
        for _alternation in range(args.smtp_alternations):
            for mode in modes:
                drain_outbox(database_url, 120)  # each chunk starts with an idle worker
                if mode == "slow":
                    sink.slow()
                chunks[mode].append(drive_bookings(portal_url, take(chunk), args.booking_clients))
                if mode == "slow":
                    sink.fast()
        for mode in modes:
            results[f"booking-{mode}"] = pooled(chunks[mode])
            print_result(f"booking-{mode}", results[f"booking-{mode}"])
        drain_outbox(database_url, 120)
        print(f"mail: the SMTP server received {sink.received()} message(s)", flush=True)

        keys: list[str] = []
        if not args.skip_pages:
            keys += [
                f"services_ratio={results['services']['rps'] / results['bare']['rps']:.2f}",
                f"slots_ratio={results['slots']['rps'] / results['bare']['rps']:.2f}",
                "slots_window_ratio="
                f"{results['slots-365']['rps'] / results['slots-demo']['rps']:.2f}",
                f"booking_rps={results['booking']['rps']:.1f}",
            ]
        fast_p99 = results["booking-fast"]["p99"]
        keys.append(f"booking_p99_fast_ms={fast_p99:.1f}")
        if not args.skip_slow:
            slow_p99 = results["booking-slow"]["p99"]
            keys += [
                f"booking_p99_slow_ms={slow_p99:.1f}",
                f"slow_over_fast={slow_p99 / fast_p99:.2f}",
            ]
        keys += [
            f"flows_per_s={results['flow']['rps']:.1f}",
            f"flow_ratio={results['flow']['rps'] / results['bare-c4']['rps']:.4f}",
        ]
        errors = sum(int(r["errors"]) for r in results.values())
        print(" ".join([*keys, f"errors={errors}"]))
    finally:
        for process in processes:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()  # a worker still waiting on the slow SMTP server
                process.wait()
        sink.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
