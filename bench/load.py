"""Load benchmark: Portal under gunicorn against a bare Flask app under the same settings.

Builds a throwaway database with the demo business (SQLite by default, or
``--database-url`` for PostgreSQL), starts gunicorn with 2 workers for Portal
and for ``bench/bare_app.py``, and drives both with ``wrk`` (installed with
apt when missing): the services page, a slot page, and the bare page. The
booking POST is driven by Python clients, each booking a different free
slot, since every successful booking changes what is free. The pages are
measured in rounds that alternate between the targets; each figure is the
median over the rounds.

Prints req/s, p50 and p99 per target, then as its last line
``services_ratio=<portal/bare> slots_ratio=<..> booking_rps=<..> errors=<n>``.
Targets: services >= 0.5, slots >= 0.3, p99 < 100 ms at 50 connections, 0 errors.

Run: ``.venv/bin/python bench/load.py [--rounds 3] [--duration 5] [--connections 50]``.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

SLOT_LINK = re.compile(r'href="(/b/demo/services/\d+/book\?[^"]+)"')
SERVICE_LINK = re.compile(r'href="/b/demo/services/(\d+)(?:\?[^"]*)?"')
START = re.compile(r"start=([0-9T:Z-]+)")
DAY_LINK = re.compile(r"day=(\d{4}-\d{2}-\d{2})")
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


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


def start_gunicorn(target: str, env: dict[str, str], workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [
            str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
            "--chdir", str(ROOT), "--log-level", "warning", target,
        ],
        env=env,
        stdout=subprocess.DEVNULL,  # the access log (gunicorn.conf.py) would drown the figures
    )  # fmt: skip
    wait_for(port, process)
    return process, f"http://127.0.0.1:{port}"


def prepare_database(url: str | None, workdir: Path) -> str:
    from sqlalchemy.orm import Session

    from portal.db import make_engine
    from portal.demo import load_demo
    from portal.migrate import upgrade

    url = url or f"sqlite:///{workdir / 'bench.db'}"
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
    engine.dispose()
    return url


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


def free_slot_links(base: str, service_id: int, wanted: int) -> list[str]:
    """Booking links of distinct free slots, day by day, until ``wanted`` are found."""
    status, page, _ = get(base, f"/b/demo/services/{service_id}")
    assert status == 200, status
    days = sorted(set(DAY_LINK.findall(page)))
    links = SLOT_LINK.findall(page)
    for day in days:
        if len(links) >= wanted * 12:
            break
        links += SLOT_LINK.findall(get(base, f"/b/demo/services/{service_id}?day={day}")[1])
    # Two hours apart, so no booking overlaps the next one's slot (else a 409 "taken").
    chosen: list[str] = []
    last: datetime | None = None
    for link in sorted(dict.fromkeys(link.replace("&amp;", "&") for link in links)):
        start = datetime.fromisoformat(START.search(link).group(1).replace("Z", "+00:00"))
        if last is None or start - last >= timedelta(hours=2):
            chosen.append(link)
            last = start
    return chosen[:wanted]


def drive_bookings(base: str, links: list[str], clients: int) -> dict[str, float]:
    """``clients`` threads book ``links`` (one each) as fast as they can."""
    pending = list(links)
    lock = threading.Lock()
    latencies: list[float] = []
    errors = 0

    def worker(number: int) -> None:
        nonlocal errors
        parts = urllib.parse.urlsplit(base)
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
            body = urllib.parse.urlencode(
                {
                    "csrf_token": token.group(1),
                    "name": f"Bench Client {number}",
                    "email": f"bench{number}-{len(latencies)}@example.com",
                    "phone": "+49 30 1234567",
                    "accept_terms": "y",
                    "accept_policy": "y",
                }
            )
            started = time.perf_counter()
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
            connection.request(
                "POST",
                link,
                body=body,
                headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
            )
            response = connection.getresponse()
            response.read()
            connection.close()
            with lock:
                latencies.append(time.perf_counter() - started)
                if response.status != 303:
                    errors += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    done = len(latencies)
    return {
        "rps": done / elapsed if elapsed else 0.0,
        "p50": latencies[done // 2] * 1000 if done else 0.0,
        "p99": latencies[min(done - 1, int(done * 0.99))] * 1000 if done else 0.0,
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per page, alternating")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bookings", type=int, default=200, help="booking POSTs to send")
    parser.add_argument("--booking-clients", type=int, default=8)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a fresh SQLite file)")
    args = parser.parse_args()

    wrk = ensure_wrk()
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    processes: list[subprocess.Popen] = []
    try:
        database_url = prepare_database(args.database_url, workdir)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")},
            "PORTAL_ENV": "development",
            "PORTAL_SECRET_KEY": "bench-secret-key",
            "PORTAL_INSTANCE_PATH": str(workdir / "instance"),
            "PORTAL_DATABASE_URL": database_url,
            # The benchmark measures the pages, not the limiter refusing one address.
            "PORTAL_RATELIMIT_ENABLED": "0",
        }
        portal, portal_url = start_gunicorn("wsgi:app", env, args.workers)
        processes.append(portal)
        bare, bare_url = start_gunicorn("bench.bare_app:app", env, args.workers)
        processes.append(bare)

        status, services_page, _ = get(portal_url, "/b/demo/")
        assert status == 200, status
        service_id = int(SERVICE_LINK.search(services_page).group(1))
        targets = {
            "bare": f"{bare_url}/",
            "services": f"{portal_url}/b/demo/",
            "slots": f"{portal_url}/b/demo/services/{service_id}",
        }
        # Rounds alternate the targets, so a slow spell of a shared machine
        # weighs on all of them alike; each figure is the median of its rounds.
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        for _round in range(args.rounds):
            for name, url in targets.items():
                rounds[name].append(run_wrk(wrk, url, args.duration, args.connections))
        results = {name: median_run(runs) for name, runs in rounds.items()}
        links = free_slot_links(portal_url, service_id, args.bookings)
        results["booking"] = drive_bookings(portal_url, links, args.booking_clients)
        for name, result in results.items():
            print(
                f"{name:<9} {result['rps']:9.1f} req/s  p50 {result['p50']:7.2f} ms  "
                f"p99 {result['p99']:7.2f} ms  errors {result['errors']}"
            )
        errors = sum(int(r["errors"]) for r in results.values())
        print(
            f"services_ratio={results['services']['rps'] / results['bare']['rps']:.2f} "
            f"slots_ratio={results['slots']['rps'] / results['bare']['rps']:.2f} "
            f"booking_rps={results['booking']['rps']:.1f} errors={errors}"
        )
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
