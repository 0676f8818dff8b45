"""Hostile inputs, built on the fly, against the upload endpoint, `syllabus ingest` and the
question endpoints, with the real embedder: each is refused or reported by name and reason,
or ingested harmlessly; never a 5xx, never a crash.  BENCHMARKS.md lists them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.app import create_app
from service.schemas import JobPublic
from service.settings import Settings
from tests.pdfs import pdf_bytes, pdf_file
from tests.service.fakes import FakeGenerator

pytestmark = pytest.mark.integration

KEY = "hostile-admin-key-0123456789"
AS_ADMIN = {"Authorization": f"Bearer {KEY}"}
MiB = 1024 * 1024


def _raw_pdf(contents: bytes, filters: bytes = b"/FlateDecode") -> bytes:
    """A one-page PDF, cross-reference table and all, around a given content stream."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter %s >>\nstream\n%s\nendstream" % (len(contents), filters, contents),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return pdf_file(objects)


def flate_bomb_pdf() -> bytes:
    """400 MiB of spaces after one line of text, deflated to about 400 KiB."""
    packer = zlib.compressobj(9)
    text = b"BT /F1 12 Tf 72 720 Td (Decompression bomb) Tj ET\n"
    body = packer.compress(text) + b"".join(packer.compress(b" " * MiB) for _ in range(400))
    return _raw_pdf(body + packer.flush())


def zip_bomb() -> bytes:
    """A ZIP archive of 200 MiB of zeros (about 200 KiB), to be sent as a PDF."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("zeros.bin", "w", force_zip64=True) as member,
    ):
        for _ in range(200):
            member.write(bytes(MiB))
    return buffer.getvalue()


def nested_html(depth: int = 100_000) -> bytes:
    inner = "Deeply nested pages still have text about gradient descent."
    return f"<html><body>{'<div>' * depth}<p>{inner}</p>{'</div>' * depth}</body></html>".encode()


GOOD = b"# Gradient descent\n\nGradient descent follows the negative gradient downhill.\n"
# name -> (how to make it, upload status, what the upload's refusal or its job says)
HOSTILE_FILES: dict[str, tuple[Callable[[], bytes], int, str]] = {
    "garbage.pdf": (lambda: b"%PDF-1.7\n" + os.urandom(64 * 1024), 202, "corrupt PDF"),
    "truncated.pdf": (
        lambda: pdf_bytes("A page that will be cut in half.")[:900],
        202,
        "corrupt PDF",
    ),
    "nested-arrays.pdf": (lambda: _raw_pdf(b"[" * 50_000 + b"]" * 50_000, b"[]"), 202, "PDF"),
    "flate-bomb.pdf": (flate_bomb_pdf, 202, "too large when decompressed"),
    "zip-bomb.pdf": (zip_bomb, 415, "not a PDF (a ZIP archive)"),
    "binary.md": (lambda: b"\x7fELF\x02\x01\x01" + os.urandom(4096), 415, "binary content"),
    "latin-1.txt": (lambda: "Café crème brûlée".encode("latin-1"), 415, "not UTF-8 text"),
    "nul-bytes.md": (lambda: b"# Notes\n\nText with a NUL \x00 byte.\n", 415, "NUL bytes"),
    "nested.html": (nested_html, 202, "added"),
}


@pytest.fixture
def admin(real_embedder: object, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "collections",
        admin_api=True,
        admin_api_keys=[SecretStr(KEY)],
        rate_limit_per_minute=0,
    )
    app = create_app(settings, embedder=real_embedder, generator=FakeGenerator())  # type: ignore[arg-type]
    with TestClient(app) as client:
        yield client


def _upload(client: TestClient, name: str, data: bytes) -> tuple[int, dict[str, object]]:
    part = [("files", (name, data, "application/octet-stream"))]
    response = client.post("/v1/documents", files=part, headers=AS_ADMIN)
    assert response.status_code < 500, response.text
    return response.status_code, response.json()


def _finished(client: TestClient, job_id: str) -> JobPublic:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = JobPublic.model_validate(client.get(f"/v1/jobs/{job_id}", headers=AS_ADMIN).json())
        if job.status not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.mark.parametrize("name", list(HOSTILE_FILES))
def test_hostile_uploads_are_refused_or_reported_by_name(admin: TestClient, name: str) -> None:
    make, status, says = HOSTILE_FILES[name]
    code, body = _upload(admin, name, make())
    assert code == status, body
    if code != 202:
        message = str(body["error"]["message"])  # type: ignore[index]
        assert name in message and says in message
        return
    job = _finished(admin, str(body["id"]))
    assert job.status == "succeeded", job
    (result,) = [r for r in job.results if r.source == f"uploads/{name}"]
    assert says in (result.reason or result.outcome), result
    assert admin.get("/healthz").status_code == 200


def test_fifty_megabytes_of_text_is_refused_before_it_is_stored(admin: TestClient) -> None:
    code, body = _upload(admin, "huge.txt", b"word " * (10 * MiB))
    assert code == 413 and "huge.txt" in str(body)


def test_hostile_file_names_stay_in_the_upload_folder(admin: TestClient, tmp_path: Path) -> None:
    names = [
        "../../../../etc/passwd.md",
        "..\\..\\boot.ini.txt",
        "a\u202eexe.md",
        "x" * 1000 + ".md",
    ]
    for name in names:
        code, body = _upload(admin, name, GOOD)
        assert code == 202, body
    stored = list((tmp_path / "collections" / "default" / "uploads").iterdir())
    assert len(stored) == len(names)
    assert all(len(p.name.encode()) <= 200 and "\u202e" not in p.name for p in stored)


def test_syllabus_ingest_names_each_bad_file_and_ingests_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "good.md").write_bytes(GOOD)
    for name, (make, _, _) in HOSTILE_FILES.items():
        (folder / name).write_bytes(make())
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "service.cli",
            "ingest",
            str(folder),
            "--index",
            str(tmp_path / "i"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "250"},
    )
    assert result.returncode == 1, result.stdout + result.stderr  # some files failed
    failed = {
        line.split()[1].rstrip(":")
        for line in result.stdout.splitlines()
        if line.strip().startswith("failed ")
    }
    refused_kinds = {"garbage.pdf", "truncated.pdf", "nested-arrays.pdf", "flate-bomb.pdf",
                     "zip-bomb.pdf", "binary.md", "latin-1.txt", "nul-bytes.md"}  # fmt: skip
    assert failed == {f"hostile/{name}" for name in refused_kinds}, result.stdout
    assert "added 2" in result.stdout  # good.md and nested.html
    assert "Traceback" not in result.stderr


LINES = "why?\n" * 10_000
TURNS = [{"role": "user", "content": "x"}] * 50
QUESTIONS = [
    ("10,000-line question", LINES, [], 422),
    ("NUL bytes", "What is gradient\x00 descent?\x00", [], 200),
    ("unpaired surrogate", "What is \ud800 gradient descent?", [], 422),
    ("Cyrillic look-alikes", "Wh\u0430t \u0456s gr\u0430d\u0456ent d\u0435scent?", [], 200),
    ("fullwidth letters", "\uff37\uff48\uff41\uff54 is gradient descent?", [], 200),
    ("zero-width and bidi controls", "\u200b\u200d\u202e\u2066?", [], 200),
    ("50 turns of history", "ok?", TURNS, 422),
]


def _post(client: TestClient, path: str, payload: object) -> int:
    # json.dumps escapes what UTF-8 cannot carry (an unpaired surrogate) as JSON allows.
    raw = json.dumps(payload).encode()
    response = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code < 500, (path, response.text)
    return response.status_code


@pytest.mark.parametrize(
    ("label", "question", "history", "status"), QUESTIONS, ids=[q[0] for q in QUESTIONS]
)
def test_hostile_questions_get_an_answer_or_a_4xx(
    admin: TestClient, label: str, question: str, history: list[object], status: int
) -> None:
    _, job = _upload(admin, "good.md", GOOD)
    _finished(admin, str(job["id"]))
    chat = {"model": "default", "messages": [*history, {"role": "user", "content": question}]}
    assert _post(admin, "/v1/ask", {"question": question, "history": history}) == status
    assert _post(admin, "/v1/chat/completions", chat) == status
    if not history:
        assert _post(admin, "/v1/search", {"query": question}) == status


@pytest.mark.parametrize(
    ("label", "raw", "status"),
    [
        (
            "JSON nested 50,000 deep",
            b'{"question": "x", "history": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
            400,
        ),
        ("invalid UTF-8 in JSON", b'{"question": "caf\xe9?"}', 400),
        ("body over the limit", b'{"question": "' + b"a" * 300_000 + b'"}', 413),
    ],
)
def test_hostile_bodies_get_a_4xx(admin: TestClient, label: str, raw: bytes, status: int) -> None:
    headers = {"Content-Type": "application/json"}
    for path in ("/v1/ask", "/v1/chat/completions", "/v1/search"):
        assert admin.post(path, content=raw, headers=headers).status_code == status, (label, path)
