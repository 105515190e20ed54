"""Analytics ingest over HTTP: POST /api/event against bare 202 endpoints of the same server.

The server (``bench/ingest_server.py``) is the real application under uvicorn as ``avowal
serve`` runs it (one worker, no access log, the ingest's group commits written by a writer
process of its own: ``avowal.analytics.writer``), in its own process, with a migrated database
in a temporary folder. It gets two more endpoints that read the body, answer 202 with the same small
JSON and do nothing else:

- ``bare fast path``: an ASGI middleware right behind ``EventFastPath`` (which answers
  ``/api/event`` before FastAPI's routing) answering its own path. The fair baseline and the
  target: the event itself skips routing, so only the ingest's own work (validation,
  scrubbing, group commit) is left in the difference.
- ``bare route``: an ordinary FastAPI route (``async def``), first in the routing table so that
  it pays the least routing a route can. Shown for reference: routing flatters the ingest.

This process is the load generator: an asyncio client on raw keep-alive connections with the
requests prepared in advance (a tenth of a millisecond of processor per request, a fifth or less
of the server's), ``CONNECTIONS`` of them, each sending the next request as soon as the answer
to the last one arrives. Phases take turns between the three endpoints, ``ROUNDS`` times, each
bounded by ``PHASE_SECONDS`` and ``PHASE_MAX_REQUESTS``. Rates are medians over the rounds;
ratios are medians of each round's ratio (phases seconds apart share the rest of the machine's
noise). The server's processor time per request (from /proc, its ingest writer process
included) is shown too: it depends less on what else the machine runs than the rates do, and
leaves the client out.

The events are what the tracker sends from a browser: text/plain JSON with short names, page
views of 17 pages of www.contactmonkey.com (the example policy's site), some with UTM
parameters or a referrer, a few custom events; browser headers with eight desktop and mobile
user agents (none a bot, which would be answered 202 without being stored). Every event carries
a unique number in its props. After the measured rounds, one more phase of events runs and the
server is killed with SIGKILL in the middle of it (no shutdown, no lifespan, requests in flight
and a group commit perhaps half done); the numbers are then read back from ``analytics_events``:
every event answered 202, before or during the kill, must be there.

Target: the ingest accepts at least 60% of the bare fast path's requests per second, on each
database, in every run; each database ends with a verdict line, and the run with one for all.
Shynet's ~100 events/s is its own published figure, not measured here: it is printed as a
reference, never divided into. A first check runs the same client
against a bare ASGI callable under uvicorn (no FastAPI, no middleware): the HTTP server's own
cost, and proof that the client is not what limits the figures. With PostgreSQL 15 installed,
the comparison runs a second time on a throwaway cluster (fsync off, as in the tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from avowal.analytics.models import Event
from avowal.db.engine import make_engine
from avowal.db.migrate import upgrade
from avowal.settings import Settings
from bench.ingest_server import BARE_FAST_PATH, BARE_PATH, STATS_PATH

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"
SITE = "www.contactmonkey.com"  # the example policy's analytics site
EVENT_PATH = "/api/event"
CONNECTIONS = 64
PHASE_SECONDS = 1.0
PHASE_MAX_REQUESTS = 20_000
WARM_UP_SECONDS = 0.5
ROUNDS = 5
CHECK_SECONDS = 1.0
BARE_ROUTE = "bare route"
BARE_FAST = "bare fast path"
INGEST = "ingest"
CONTENDERS = {BARE_ROUTE: BARE_PATH, BARE_FAST: BARE_FAST_PATH, INGEST: EVENT_PATH}
VARIANTS = 512
# Eight digits: nine in a row would be scrubbed as a phone number before being stored.
NUMBER_WIDTH = 8
TARGET = 0.60
# Shynet's own figure (its documentation), not measured by this benchmark: a reference only.
SHYNET_EVENTS_PER_SECOND = 100.0
START_TIMEOUT = 30.0
KILL_AFTER_SECONDS = 1.0
KILL_PHASE_SECONDS = 5.0

USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1",
]
PAGES = ["/", "/pricing", "/features", "/about", "/contact", "/login", "/signup", "/blog"] + [
    f"/{section}/{slug}-{i}"
    for i, (section, slug) in enumerate(
        itertools.product(["blog", "resources", "features"], ["email-tracking", "outlook", "tips"])
    )
] * 4
QUERIES = [""] * 8 + ["?utm_source=newsletter&utm_medium=email&utm_campaign=june", "?ref=hn"]
REFERRERS = [None] * 5 + [
    "https://www.google.com/",
    "https://www.bing.com/",
    "https://news.ycombinator.com/",
    "https://t.co/abc123",
    f"https://{SITE}/",
]


@dataclass
class Phase:
    """What one phase of load did."""

    ok: int = 0
    seconds: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    acknowledged: list[int] = field(default_factory=list)
    refused: Counter[int] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        """Return the requests answered 202 per second."""
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def server_ms(self) -> float:
        """Return the server's processor milliseconds per request answered 202."""
        return 1000 * self.server_cpu * self.seconds / self.ok if self.ok else 0.0

    @property
    def client_ms(self) -> float:
        """Return the client's processor milliseconds per request answered 202."""
        return 1000 * self.client_cpu * self.seconds / self.ok if self.ok else 0.0


class Load:
    """Requests shaped like the tracker's, each with a unique event number.

    The requests are prepared in advance with a fixed-width slot for the number, so that
    sending one costs the client little more than the write.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.numbers = itertools.count()
        rng = random.Random(2017)
        self.variants = {
            path: [self._variant(rng, path) for _ in range(VARIANTS)]
            for path in CONTENDERS.values()
        }
        self.pick = itertools.cycle(range(VARIANTS))

    def _variant(self, rng: random.Random, path: str) -> tuple[bytes, bytes]:
        page = f"https://{SITE}{rng.choice(PAGES)}{rng.choice(QUERIES)}"
        event: dict[str, object] = {"n": "pageview", "u": page, "d": SITE}
        event["r"] = rng.choice(REFERRERS)
        marker = "#" * NUMBER_WIDTH
        if rng.random() < 0.1:
            event["n"] = "Signup"
            event["p"] = {"plan": rng.choice(["free", "pro"]), "bench": marker}
        else:
            event["p"] = {"bench": marker}
        body = json.dumps(event, separators=(",", ":"))
        head = (
            f"POST {path} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{self.port}\r\n"
            f"User-Agent: {rng.choice(USER_AGENTS)}\r\n"
            "Accept: */*\r\n"
            "Accept-Language: en-US,en;q=0.9\r\n"
            "Accept-Encoding: gzip, deflate, br\r\n"
            "Content-Type: text/plain;charset=UTF-8\r\n"
            f"Origin: https://{SITE}\r\n"
            f"Referer: {page}\r\n"
            "Sec-Fetch-Site: cross-site\r\n"
            "Sec-Fetch-Mode: no-cors\r\n"
            "Sec-Fetch-Dest: empty\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        before, after = (head + body).split(marker)
        return before.encode("latin-1"), after.encode("latin-1")

    def request(self, path: str, number: int) -> bytes:
        """Return one request to ``path`` carrying event ``number``."""
        before, after = self.variants[path][next(self.pick)]
        return before + b"%0*d" % (NUMBER_WIDTH, number) + after


class Connection(asyncio.Protocol):
    """One keep-alive connection sending the next request as soon as an answer is complete."""

    def __init__(self, load: Load, path: str, phase: Phase, budget: Iterator[int]) -> None:
        self.load, self.path, self.phase, self.budget = load, path, phase, budget
        self.deadline = 0.0
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.number = -1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def start(self, deadline: float) -> None:
        """Send the first request."""
        self.deadline = deadline
        self._next()

    def _next(self) -> None:
        if self.loop.time() >= self.deadline or next(self.budget, None) is None:
            self._finish(None)
            return
        self.number = next(self.load.numbers)
        assert self.transport is not None
        self.transport.write(self.load.request(self.path, self.number))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end].lower()
        at = head.find(b"content-length:")
        if at < 0:
            self._finish(RuntimeError(f"no content-length: {head[:200]!r}"))
            return
        stop = head.find(b"\r\n", at)
        length = int(head[at + 15 : stop if stop >= 0 else len(head)])
        if len(self.buffer) < end + 4 + length:
            return
        body = self.buffer[end + 4 : end + 4 + length]
        self.buffer = self.buffer[end + 4 + length :]
        status = int(head[9:12])
        if status == 202 and b'"stored":1' in body:
            self.phase.ok += 1
            self.phase.acknowledged.append(self.number)
        else:
            self.phase.refused[status] += 1
        self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(exc or ConnectionError("the server closed the connection"))

    def _finish(self, exc: BaseException | None) -> None:
        if self.done.done():
            return
        if exc is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(exc)


async def _phase(
    load: Load, path: str, seconds: float, server_pid: int, *, kill_after: float | None = None
) -> Phase:
    """Load ``path`` for ``seconds``; with ``kill_after``, SIGKILL the server that far in."""
    phase = Phase()
    budget = iter(range(PHASE_MAX_REQUESTS))
    loop = asyncio.get_running_loop()
    connections: list[Connection] = []
    try:
        for _ in range(CONNECTIONS):
            _, connection = await loop.create_connection(
                lambda: Connection(load, path, phase, budget), "127.0.0.1", load.port
            )
            connections.append(connection)
        cpu, server_cpu, start = time.process_time(), _cpu_seconds(server_pid), loop.time()
        for connection in connections:
            connection.start(start + seconds)
        if kill_after is not None:
            loop.call_later(kill_after, os.kill, server_pid, signal.SIGKILL)
            # Every connection is cut by the kill: what was acknowledged before counts.
            await asyncio.gather(*(c.done for c in connections), return_exceptions=True)
            phase.seconds = loop.time() - start
            return phase
        await asyncio.gather(*(c.done for c in connections))
        phase.seconds = loop.time() - start
        phase.client_cpu = (time.process_time() - cpu) / phase.seconds
        phase.server_cpu = (_cpu_seconds(server_pid) - server_cpu) / phase.seconds
    finally:
        for connection in connections:
            if connection.transport is not None:
                connection.transport.close()
    return phase


def _cpu_seconds(pid: int) -> float:
    """Return the processor time (user + system) a process and its children have used so far.

    The children are the server's ingest writer (see ``avowal.analytics.writer``): its work is
    the ingest's, so it is counted with the server's.
    """
    total = 0.0
    for each in _tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _tree(pid: int) -> list[int]:
    """Return ``pid`` and the processes below it."""
    found, at = [pid], 0
    while at < len(found):
        for task in Path(f"/proc/{found[at]}/task").glob("*/children"):
            try:
                found += [int(child) for child in task.read_text().split()]
            except OSError:
                continue
        at += 1
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def _server(args: list[str], log_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """Start ``bench.ingest_server`` on a free port; SIGKILL it on leaving if it still runs."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVOWAL_")}
    command = [sys.executable, "-m", "bench.ingest_server", *args, "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    try:
        _wait_healthy(process, port, log_path)
        yield port, process
    finally:
        _stop(process)


def _wait_healthy(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the bench server exited {process.returncode}:\n{_tail(log_path)}")
        health = f"http://127.0.0.1:{port}/healthz"
        with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=2) as answer:
            if answer.status == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the bench server did not answer:\n{_tail(log_path)}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: nothing the server does on a clean shutdown may be needed for durability."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def _group_commits(port: int) -> int:
    """Return how many group commits the server has made so far."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{STATS_PATH}", timeout=5) as answer:
        return int(json.load(answer)["group_commits"])


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-4000:]


def _client_check(tmp: Path) -> float:
    """Return the rate of the bare ASGI callable, printing it."""
    with _server(["trivial"], tmp / "trivial.log") as (port, process):
        load = Load(port)
        phases = [
            asyncio.run(_phase(load, BARE_PATH, CHECK_SECONDS, process.pid)) for _ in range(2)
        ]
    best = max(phases, key=lambda p: p.rate)
    print(
        f"  client check: the same client against a bare ASGI callable under uvicorn: "
        f"{best.rate:,.0f} req/s\n"
        f"    client {best.client_ms:.3f} ms of processor per request, "
        f"server {best.server_ms:.3f} ms"
    )
    return best.rate


def _compare(label: str, data_dir: Path, database_url: str | None, check_rate: float) -> bool:
    """Print the comparison on one database; return whether the ingest met the target."""
    settings = Settings(data_dir=data_dir, database_url=database_url, policy_file=POLICY)
    engine = make_engine(settings)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    args = ["app", "--data-dir", str(data_dir), "--policy", str(POLICY)]
    if database_url:
        args += ["--database-url", database_url]
    phases: dict[str, list[Phase]] = {name: [] for name in CONTENDERS}
    acknowledged: set[int] = set()
    with _server(args, data_dir / "server.log") as (port, process):
        load = Load(port)
        for path in CONTENDERS.values():
            warm = asyncio.run(_phase(load, path, WARM_UP_SECONDS, process.pid))
            if path == EVENT_PATH:
                acknowledged.update(warm.acknowledged)
        for _ in range(ROUNDS):
            for name, path in CONTENDERS.items():
                phase = asyncio.run(_phase(load, path, PHASE_SECONDS, process.pid))
                phases[name].append(phase)
                if path == EVENT_PATH:
                    acknowledged.update(phase.acknowledged)
        commits = _group_commits(port)
        before_kill = len(acknowledged)
        killed = asyncio.run(
            _phase(load, EVENT_PATH, KILL_PHASE_SECONDS, process.pid, kill_after=KILL_AFTER_SECONDS)
        )
        acknowledged.update(killed.acknowledged)
        process.wait(timeout=10)
        signalled = process.returncode == -signal.SIGKILL
    # The server was killed: only what it committed is in the database.
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            props = conn.scalars(select(Event.props)).all()
    finally:
        engine.dispose()
    stored = {int(p["bench"]) for p in props if p and "bench" in p}

    print(
        f"  {label}\n    {CONNECTIONS} connections, {ROUNDS} rounds of "
        f"{PHASE_SECONDS} s per endpoint, interleaved"
    )
    rates = {name: statistics.median(p.rate for p in runs) for name, runs in phases.items()}
    for name, runs in phases.items():
        refused = sum((p.refused for p in runs), Counter())
        print(
            f"    {name:<15} {rates[name]:7,.0f} events/s  "
            f"server {statistics.median(p.server_ms for p in runs):.3f} ms/event, "
            f"client {statistics.median(p.client_ms for p in runs):.3f}  "
            f"(rounds: {', '.join(f'{p.rate:,.0f}' for p in runs)})"
            + (f"  refused {dict(refused)}" if refused else "")
        )
    ingest = phases[INGEST]
    ratios: dict[str, float] = {}
    for bare_name, note in (
        (BARE_FAST, "the fair baseline, the target"),
        (BARE_ROUTE, "reference"),
    ):
        # Each round's phases ran seconds apart, so noise from the rest of the machine
        # cancels in their ratio better than in the ratio of the medians.
        ratio = ratios[bare_name] = statistics.median(
            i.rate / b.rate for i, b in zip(ingest, phases[bare_name], strict=True)
        )
        # The same comparison by the server's processor time per event (bare / ingest).
        cpu = statistics.median(p.server_ms for p in phases[bare_name]) / statistics.median(
            p.server_ms for p in ingest
        )
        rounds = ", ".join(
            f"{i.rate / b.rate:.2f}" for i, b in zip(ingest, phases[bare_name], strict=True)
        )
        print(
            f"    ingest / {bare_name:<15} {ratio:6.3f}x  ({note}; rounds: {rounds}; "
            f"by server processor per event: {cpu:.2f}x)"
        )
    print(
        f"    reference, not measured here: Shynet ~{SHYNET_EVENTS_PER_SECOND:.0f} events/s "
        "(its own published figure)"
    )
    print(f"    {BARE_FAST} / bare ASGI callable  {rates[BARE_FAST] / check_rate:5.2f}x")
    print(
        f"    {before_kill:,} events acknowledged in {commits:,} group commits "
        f"({before_kill / commits:.1f} events each)"
        if commits
        else f"    {before_kill:,} events acknowledged"
    )
    missing = acknowledged - stored
    verdict = "PASS" if not missing and signalled else "MISS"
    if missing:
        verdict += f": {len(missing):,} acknowledged events lost"
    if not signalled:
        verdict += f": the server exited {process.returncode}, not by SIGKILL"
    print(
        f"    SIGKILL after {KILL_AFTER_SECONDS:.0f} s of a last phase "
        f"({len(killed.acknowledged):,} events acknowledged in it): "
        f"acknowledged {len(acknowledged):,} in all, stored {len(stored):,}  {verdict}"
    )
    met = ratios[BARE_FAST] >= TARGET
    print(
        f"    VERDICT {label.split(' (')[0]}: ingest {ratios[BARE_FAST]:.3f}x the bare fast path "
        f"(target >= {TARGET:.2f}x): {'PASS' if met else 'MISS'}; "
        f"{ratios[BARE_ROUTE]:.3f}x the bare route"
    )
    return met and not missing and signalled


def run() -> None:
    """Print events/s of the ingest and of the bare endpoints, their ratios and the verdicts."""
    with tempfile.TemporaryDirectory(prefix="avowal-bench-ingest-") as tmp:
        root = Path(tmp)
        check = _client_check(root)
        (root / "sqlite").mkdir()
        results = {
            "SQLite": _compare("SQLite (WAL, durable commits)", root / "sqlite", None, check)
        }
        met = _postgres(root, check)
        if met is not None:
            results["PostgreSQL"] = met
    summary = ", ".join(f"{name} {'PASS' if ok else 'MISS'}" for name, ok in results.items())
    overall = "PASS" if all(results.values()) else "MISS"
    print(
        f"  VERDICT ingest >= {TARGET:.2f}x the bare fast path, nothing acknowledged lost: "
        f"{overall} ({summary})"
    )


def _postgres(root: Path, check: float) -> bool | None:
    from tests import pg

    if not pg.binaries_available():
        print("  PostgreSQL: no PostgreSQL 15 binaries here, skipped")
        return None
    cluster = pg.TempCluster.start()
    try:
        url = cluster.server.create_database()
        (root / "postgres").mkdir()
        label = "PostgreSQL 15 (throwaway cluster, fsync and synchronous_commit off)"
        return _compare(label, root / "postgres", url, check)
    finally:
        cluster.stop()
