"""Keys and rate limits: the token bucket, 429 with Retry-After, ask keys, refusing to start."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from service.app import create_app
from service.errors import RateLimited, Unauthorized
from service.schemas import ErrorBody
from service.settings import Settings
from service.web.auth import Keyring, bearer_token
from service.web.ratelimit import RateLimiter
from tests.fakes import FakeEmbedder
from tests.service.fakes import FakeGenerator, ingest_notes
from tests.service.keys import ADMIN_KEY, AS_ADMIN, AS_ASKER, ASK_KEY

QUESTION = {"question": "How does Adam bias correction work?"}
CHAT = {"model": "default", "messages": [{"role": "user", "content": "What is LoRA's rank r?"}]}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills_at_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=6, burst=3, clock=clock)
    assert [limiter.wait_seconds("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait_seconds("a") == pytest.approx(10.0)  # one question per 10 s
    assert limiter.wait_seconds("b") == 0.0  # each caller has its own bucket
    clock.now += 10
    assert limiter.wait_seconds("a") == 0.0
    clock.now += 3600
    assert [limiter.wait_seconds("a") for _ in range(4)][-1] > 0  # refills to the burst only


def test_a_refused_caller_gets_retry_after_in_whole_seconds() -> None:
    limiter = RateLimiter(per_minute=60, burst=1, clock=Clock())
    limiter.check("a")
    with pytest.raises(RateLimited) as refused:
        limiter.check("a")
    assert refused.value.status == 429 and refused.value.headers == {"Retry-After": "1"}


def test_the_least_recently_seen_callers_are_forgotten_beyond_the_bound() -> None:
    limiter = RateLimiter(per_minute=1, burst=1, clock=Clock(), max_callers=2)
    for caller in ("a", "b", "c"):
        limiter.check(caller)
    assert limiter.wait_seconds("a") == 0.0  # forgotten: a full bucket again
    assert limiter.wait_seconds("c") > 0


def test_keys_are_recognised_by_role() -> None:
    keyring = Keyring([SecretStr(ADMIN_KEY)], [SecretStr(ASK_KEY)])
    assert keyring.role_of(ADMIN_KEY) == "admin" and keyring.role_of(ASK_KEY) == "asker"
    assert keyring.role_of(ASK_KEY[:-1]) is None and keyring.role_of("") is None
    caller = keyring.identify(f"Bearer {ASK_KEY}", "10.0.0.1", require_key=True)
    assert caller.role == "asker" and ASK_KEY not in caller.identity
    open_door = keyring.identify("Bearer sk-unused", "10.0.0.1", require_key=False)
    assert open_door.identity == "address:10.0.0.1"
    with pytest.raises(Unauthorized, match="not valid"):
        keyring.identify("Bearer sk-unused", "10.0.0.1", require_key=True)
    assert bearer_token("bearer  abc ") == "abc" and bearer_token(None) is None


def _app(settings: Settings, generator: FakeGenerator, **updates: object) -> TestClient:
    app = create_app(
        settings.model_copy(update=updates), embedder=FakeEmbedder(), generator=generator
    )
    return TestClient(app)


def test_questions_beyond_the_limit_get_429_with_retry_after(
    admin_settings: Settings, fake_generator: FakeGenerator
) -> None:
    ingest_notes(admin_settings.data_dir)
    with _app(admin_settings, fake_generator, rate_limit_per_minute=1, rate_limit_burst=2) as c:
        assert [c.post("/v1/ask", json=QUESTION).status_code for _ in range(2)] == [200, 200]
        refused = c.post("/v1/ask", json=QUESTION)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert ErrorBody.model_validate(refused.json()).error.code == "rate_limited"
        assert c.post("/v1/chat/completions", json=CHAT).status_code == 429
        # A key has its own bucket, whatever the address.
        assert c.post("/v1/ask", json=QUESTION, headers=AS_ASKER).status_code == 200
        # Retrieval only and the rest are not limited.
        body = {"query": "Adam"}
        assert all(c.post("/v1/search", json=body).status_code == 200 for _ in range(5))
        assert c.get("/v1/collections").status_code == 200


def test_asking_can_require_a_key(admin_settings: Settings, fake_generator: FakeGenerator) -> None:
    ingest_notes(admin_settings.data_dir)
    with _app(admin_settings, fake_generator, require_ask_key=True) as c:
        for path, body in (("/v1/ask", QUESTION), ("/v1/chat/completions", CHAT)):
            refused = c.post(path, json=body)
            assert refused.status_code == 401 and "needs a key" in refused.text
            assert c.post(path, json=body, headers=AS_ASKER).status_code == 200
            assert c.post(path, json=body, headers=AS_ADMIN).status_code == 200
        wrong = c.post("/v1/search", json={"query": "Adam"}, headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401 and "not valid" in wrong.text
        assert c.get("/healthz").status_code == 200


def test_an_openai_client_key_is_ignored_where_asking_is_open(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer x"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"admin_api": True}, "SYLLABUS_ADMIN_API_KEYS is empty"),
        ({"admin_api": True, "admin_api_keys": ["short"]}, "at least 16 characters"),
        ({"require_ask_key": True}, "no key is set"),
    ],
)
def test_settings_refuse_protected_endpoints_without_keys(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**settings)  # type: ignore[arg-type]


def test_keys_come_from_comma_separated_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYLLABUS_ADMIN_API", "true")
    monkeypatch.setenv("SYLLABUS_ADMIN_API_KEYS", f"{ADMIN_KEY}, {ADMIN_KEY}-2")
    keys = [k.get_secret_value() for k in Settings().admin_api_keys]
    assert keys == [ADMIN_KEY, f"{ADMIN_KEY}-2"]
    assert ADMIN_KEY not in repr(Settings())


def test_the_service_refuses_to_start_with_admin_endpoints_and_no_key() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve", "--port", "9"],
        env={"SYLLABUS_ADMIN_API": "1", "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "SYLLABUS_ADMIN_API is on but SYLLABUS_ADMIN_API_KEYS is empty" in result.stderr
