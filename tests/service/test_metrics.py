"""/metrics stays bounded: invented methods and paths add no label values."""

from __future__ import annotations

import secrets

from fastapi.testclient import TestClient


def _series(client: TestClient) -> list[str]:
    text = client.get("/metrics").text
    return [line for line in text.splitlines() if line.startswith("syllabus_request")]


def test_a_flood_of_novel_methods_and_paths_adds_no_series(client: TestClient) -> None:
    client.get("/healthz")
    for n in range(300):
        method = "M" + secrets.token_hex(20).upper()
        client.request(method, f"/no/such/{n}/{secrets.token_hex(8)}")
        client.get(f"/v1/nothing-{n}")
    _series(client)  # /metrics itself gets its series
    before = _series(client)
    for n in range(300):
        client.request("Q" + secrets.token_hex(20).upper(), f"/other/{n}")
        client.get(f"/v1/nothing-else-{n}")
    after = _series(client)
    assert len(after) == len(before) < 80
    requests = [line for line in after if line.startswith("syllabus_requests_total")]
    assert any('method="other"' in line and 'route="unmatched"' in line for line in requests)
    assert not any("/no/such" in line or "/other/" in line for line in after)
