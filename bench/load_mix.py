"""A fixed mix of requests against running servers, over loopback: what a site's back end,
its visitors' browsers and its people send at once (tests/integration/ops/test_load.py runs it
small, bench/bench_load.py at full size).

Per person, in this order, each request timed by kind: collection at registration (a new
person), a second collection at purchase (the card), a purpose-bound read, a lookup by e-mail
address, a disclosure of the card to the payment processor announced at purchase, a withdrawal
of consent to a purpose, and, for one person in four, erasure; between them, page views on the
analytics endpoint. People are spread over ``threads`` threads, each with its own connections.
Every acknowledged write is noted, to be looked for in the database afterwards.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

import httpx

HOST = "privacy.example.com"
SITE = "www.contactmonkey.com"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
PAYMENT = "essential.service.payment_processing"
KINDS = ("collect", "purchase", "read", "lookup", "disclose", "withdraw", "erase", "event")
# Each kind's answer when all goes well.
EXPECTED = {
    "collect": 201,
    "purchase": 201,
    "read": 200,
    "lookup": 200,
    "disclose": 201,
    "withdraw": 200,
    "erase": 200,
    "event": 202,
}


@dataclass
class Outcome:
    """What the mix did: latencies by kind, statuses, and the writes acknowledged."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    unexpected: list[str] = field(default_factory=list)
    collected: list[str] = field(default_factory=list)
    erased: list[str] = field(default_factory=list)
    events: int = 0
    wall: float = 0.0

    def requests(self) -> int:
        return sum(len(v) for v in self.seconds.values())

    def report(self) -> list[str]:
        """Lines of throughput and p50/p99 latency by kind."""
        lines = [
            f"{self.requests():,} requests in {self.wall:.1f} s: "
            f"{self.requests() / self.wall:,.0f} requests/s; statuses "
            + ", ".join(f"{k}: {v:,}" for k, v in sorted(self.statuses.items()))
        ]
        for kind in KINDS:
            found = sorted(self.seconds.get(kind, []))
            if not found:
                continue
            p99 = found[min(len(found) - 1, round(0.99 * (len(found) - 1)))]
            lines.append(
                f"  {kind:<9} {len(found):6,}  p50 {statistics.median(found) * 1000:7.1f} ms  "
                f"p99 {p99 * 1000:7.1f} ms"
            )
        return lines


def run(
    url: str, token: str, people: int, threads: int, expect: dict[str, int] = EXPECTED
) -> Outcome:
    """Run the mix for ``people`` people over ``threads`` threads; ``expect`` is each kind's
    expected status (anything else is noted in ``unexpected``)."""
    outcome = Outcome()
    lock = threading.Lock()
    headers = {"Host": HOST, "X-Forwarded-Proto": "https"}
    auth = {**headers, "Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30.0) as http:
        notices = {
            point: http.get(f"/v1/notices/{point}").json()["notice_id"]
            for point in ("registration", "purchase")
        }

    def timed(
        http: httpx.Client, kind: str, method: str, path: str, **kw: object
    ) -> httpx.Response:
        started = time.perf_counter()
        response = http.request(method, path, **kw)  # type: ignore[arg-type]
        took = time.perf_counter() - started
        with lock:
            outcome.seconds[kind].append(took)
            outcome.statuses[response.status_code] += 1
            if response.status_code != expect[kind]:
                outcome.unexpected.append(f"{kind} {response.status_code} {response.text[:200]}")
        return response

    def person(http: httpx.Client, n: int) -> None:
        email = f"load{n}@example.com"
        values = {
            "name": f"Person {n}",
            "email": email,
            "phone": "+1 555-0100",
            "address": "1 Example Street, Springfield",
            "birth_date": "1990-04-01",
        }
        r = timed(
            http,
            "collect",
            "POST",
            "/v1/collect/registration",
            headers=auth,
            json={
                "notice_id": notices["registration"],
                "subject": {"ref": f"load-{n}"},
                "values": values,
            },
        )
        if r.status_code != expect["collect"]:
            return
        sid = r.json()["subject_id"]
        with lock:
            outcome.collected.append(sid)
        card = {
            "name": f"Person {n}",
            "email": email,
            "address": "1 Example Street, Springfield",
            "card": "4242 4242 4242 4242",
        }
        body = {"notice_id": notices["purchase"], "subject": {"subject_id": sid}, "values": card}
        timed(http, "purchase", "POST", "/v1/collect/purchase", headers=auth, json=body)
        event(http, n, "/pricing")
        timed(
            http,
            "read",
            "GET",
            f"/v1/subjects/{sid}/data",
            headers=auth,
            params={"purpose": "essential.service.authentication", "fields": "name"},
        )
        timed(
            http,
            "lookup",
            "GET",
            "/v1/subjects/lookup",
            headers=auth,
            params={
                "field": "email",
                "value": email,
                "purpose": "essential.service.authentication",
            },
        )
        disclosure = {
            "subject_id": sid,
            "recipient": "payment_processor",
            "fields": ["card"],
            "purpose": PAYMENT,
        }
        timed(http, "disclose", "POST", "/v1/disclosures", headers=auth, json=disclosure)
        event(http, n, "/checkout")
        withdrawal = {"purpose": "marketing.communications.email"}
        path = f"/v1/subjects/{sid}/withdrawals"
        timed(http, "withdraw", "POST", path, headers=auth, json=withdrawal)
        if n % 4 == 0:
            r = timed(http, "erase", "DELETE", f"/v1/subjects/{sid}", headers=auth)
            if r.status_code == expect["erase"]:
                with lock:
                    outcome.erased.append(sid)

    def event(http: httpx.Client, n: int, page: str) -> None:
        body = json.dumps({"n": "pageview", "u": f"https://{SITE}{page}", "d": SITE})
        r = timed(
            http,
            "event",
            "POST",
            "/api/event",
            content=body.encode(),
            headers={
                "Content-Type": "text/plain",
                "User-Agent": BROWSER,
                "X-Forwarded-For": f"198.51.100.{n % 250}",
            },
        )
        if r.status_code == expect["event"]:
            with lock:
                outcome.events += 1

    def worker(first: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=30.0) as http:
            for n in range(first, people, threads):
                person(http, n)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    outcome.wall = time.perf_counter() - started
    return outcome
