"""schemathesis against /openapi.json: requests generated for every endpoint (the document
endpoints too, with the admin key), valid and invalid, get no 5xx and answers that match
the schema."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from service.app import create_app
from service.settings import Settings
from tests.fakes import FakeEmbedder
from tests.service.fakes import FakeGenerator, ingest_notes
from tests.service.keys import ADMIN_KEY, AS_ADMIN

# Per endpoint and mode: a short run by default; FUZZ_EXAMPLES=150 for a long one.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
# Checks the schema cannot express: an upload's content must match its type, a chat must
# end with a user message, a course's model must be one the configured generator runs.
# Such valid-looking requests get a 4xx by design.
BEYOND_THE_SCHEMA = {
    ("POST", "/v1/documents"),
    ("POST", "/v1/chat/completions"),
    ("PATCH", "/v1/collections/{name}/config"),
}


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """Every operation with valid inputs; those that take any input with invalid ones too."""
    keyed = Settings(admin_api=True, admin_api_keys=[SecretStr(ADMIN_KEY)])
    cases = []
    for path, methods in create_app(keyed).openapi()["paths"].items():
        for method, spec in methods.items():
            cases.append((method.upper(), path, GenerationMode.POSITIVE))
            if spec.get("parameters") or spec.get("requestBody"):
                cases.append((method.upper(), path, GenerationMode.NEGATIVE))
    return cases


@pytest.mark.parametrize(("method", "path", "mode"), _cases())
def test_generated_requests_keep_the_contract(
    method: str, path: str, mode: GenerationMode, admin_settings: Settings
) -> None:
    ingest_notes(admin_settings.data_dir)
    app = create_app(admin_settings, embedder=FakeEmbedder(), generator=FakeGenerator())
    operation = schemathesis.openapi.from_asgi("/openapi.json", app)[path][method]
    excluded = [positive_data_acceptance] if (method, path) in BEYOND_THE_SCHEMA else []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def keeps_contract(case: schemathesis.Case) -> None:
        response = case.call(headers=AS_ADMIN)
        if response.status_code == 413:
            # A generated body over the size limit, refused unread: 413 is the designed
            # answer, which the negative-data check does not count as a rejection.
            assert response.json()["error"]["code"] == "payload_too_large"
            return
        case.validate_response(response, excluded_checks=excluded)

    keeps_contract()
