"""A local SMTP server for the benchmarks: takes every message, counts it, keeps nothing.

Run as its own process (``bench/load.py`` and ``bench/mail.py`` start it), so
its CPU is not in the figures of the process that measures:

    .venv/bin/python bench/smtp_sink.py [--port 0] [--slow-delay 2] [--slow]

Plain SMTP on 127.0.0.1 (no STARTTLS; the portal's URL says
``smtp://127.0.0.1:<port>?starttls=no``). On stdout it says ``port=<n>`` once
it listens, ``mode=slow`` / ``mode=fast`` when told to switch, and
``received=<n>`` when asked and when it stops. Control by signal:

- SIGUSR1: slow, each message is answered after ``--slow-delay`` seconds
  (``await asyncio.sleep`` in ``handle_DATA``: other sessions go on meanwhile);
- SIGUSR2: fast, each message is answered at once;
- SIGHUP: print ``received=<n>``;
- SIGTERM / SIGINT: print ``received=<n>`` and stop.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    """The aiosmtpd handler: ``delay`` seconds before each "250", then one more counted."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.received += 1  # one event loop thread: no lock needed
        return "250 OK"


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--slow-delay", type=float, default=2.0, help="seconds, in slow mode")
    parser.add_argument("--slow", action="store_true", help="start in slow mode")
    args = parser.parse_args()
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's per-session chatter

    port = args.port or free_port()  # aiosmtpd's readiness check needs the real port
    sink = Sink(args.slow_delay if args.slow else 0.0)
    controller = Controller(sink, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    stop = threading.Event()

    def slow(*_: object) -> None:
        sink.delay = args.slow_delay
        say("mode=slow")

    def fast(*_: object) -> None:
        sink.delay = 0.0
        say("mode=fast")

    signal.signal(signal.SIGUSR1, slow)
    signal.signal(signal.SIGUSR2, fast)
    signal.signal(signal.SIGHUP, lambda *_: say(f"received={sink.received}"))
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    say(f"port={port}")
    while not stop.wait(0.5):
        pass
    controller.stop()
    say(f"received={sink.received}")


if __name__ == "__main__":
    main()
