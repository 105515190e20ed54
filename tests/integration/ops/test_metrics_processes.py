"""`avowal serve --workers N`: the processes count requests in files of one folder made for the
run (prometheus-client's multiprocess mode), so a scrape of any of them reports them all; the
folder is removed when the servers stop."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests import deployment

REQUESTS, THREADS = 120, 8
HEADERS = {"Host": "privacy.example.com", "X-Forwarded-Proto": "https", "Connection": "close"}


def _healthz_count(samples: list[tuple[str, dict[str, str], float]]) -> float:
    return sum(
        value
        for name, labels, value in samples
        if name == "avowal_http_requests_total"
        and labels.get("route") == "/healthz"
        and labels.get("status") == "200"
    )


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_scrape_of_any_process_counts_every_processs_requests(
    db_url: str, tmp_path: Path
) -> None:
    with deployment.deployed(db_url, tmp_path, workers=2) as site:
        token = site.env["AVOWAL_METRICS_TOKEN"]
        shared = list((Path(site.env["AVOWAL_DATA_DIR"]) / "metrics").glob("serve-*"))
        assert len(shared) == 1, shared

        def healthz(_: int) -> int:
            # A connection each: the processes take turns accepting them.
            return httpx.get(f"{site.url}/healthz", headers=HEADERS, timeout=30).status_code

        with ThreadPoolExecutor(THREADS) as pool:
            assert set(pool.map(healthz, range(REQUESTS))) == {200}
        # Each process's own file: both answered some of them.
        per_process = []
        for file in shared[0].glob("counter_*.db"):
            merged = MultiProcessCollector.merge([str(file)])  # type: ignore[no-untyped-call]
            samples = [(s.name, s.labels, s.value) for m in merged for s in m.samples]
            per_process.append(_healthz_count(samples))
        assert sum(per_process) == REQUESTS, per_process
        assert len([n for n in per_process if n]) == 2, per_process
        # Whichever process answers the scrape, it reports every process's requests.
        for _ in range(6):
            answer = httpx.get(
                f"{site.url}/metrics",
                headers={**HEADERS, "Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            samples = [
                (s.name, s.labels, s.value)
                for f in text_string_to_metric_families(answer.text)
                for s in f.samples
            ]
            assert _healthz_count(samples) == REQUESTS
    assert not shared[0].exists()  # removed with the servers
