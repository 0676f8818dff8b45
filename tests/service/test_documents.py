"""The document endpoints with fake models: keys, uploads, jobs, deletion, re-sync, limits."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from indexes import DocumentRecord, IndexReader
from service.app import create_app
from service.components import components_of
from service.schemas import DocumentsResponse, ErrorBody, JobPublic
from service.settings import Settings
from tests.fakes import FakeEmbedder
from tests.pdfs import pdf_bytes, poison_pdf
from tests.service.fakes import FakeGenerator, ingest_notes
from tests.service.keys import AS_ADMIN, AS_ASKER

SOFTMAX = b"# Softmax\n\nSoftmax turns raw scores into probabilities that sum to one.\n"


def upload(
    client: TestClient, *files: tuple[str, bytes], collection: str | None = None
) -> JobPublic:
    params = {"collection": collection} if collection else {}
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    response = client.post("/v1/documents", files=parts, headers=AS_ADMIN, params=params)
    assert response.status_code == 202, response.text
    return JobPublic.model_validate(response.json())


def finished(client: TestClient, job: JobPublic, within: float = 20) -> JobPublic:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        response = client.get(f"/v1/jobs/{job.id}", headers=AS_ADMIN)
        current = JobPublic.model_validate(response.json())
        if current.status not in ("queued", "running"):
            return current
        time.sleep(0.05)
    raise AssertionError(f"job {job.id} still {current.status} after {within}s")


def listing(client: TestClient, collection: str | None = None) -> DocumentsResponse:
    params = {"collection": collection} if collection else {}
    response = client.get("/v1/documents", headers=AS_ADMIN, params=params)
    assert response.status_code == 200, response.text
    return DocumentsResponse.model_validate(response.json())


def error(response: object, status: int) -> str:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    return ErrorBody.model_validate(response.json()).error.message  # type: ignore[attr-defined]


def top_source(client: TestClient, query: str, collection: str | None = None) -> str:
    body = {"query": query, "top_k": 1, **({"collection": collection} if collection else {})}
    hits = client.post("/v1/search", json=body).json()["hits"]
    return str(hits[0]["source"]) if hits else ""


def test_every_document_endpoint_needs_the_admin_key(admin_client: TestClient) -> None:
    calls = [
        ("GET", "/v1/documents"),
        ("POST", "/v1/reindex"),
        ("DELETE", "/v1/documents/0123456789abcdef"),
        ("GET", "/v1/jobs/0123456789abcdef0123456789abcdef"),
    ]
    for method, path in calls:
        missing = admin_client.request(method, path)
        assert "needs a key" in error(missing, 401)
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        wrong = admin_client.request(method, path, headers={"Authorization": "Bearer nope" * 3})
        assert "not valid" in error(wrong, 401)
        assert "admin key" in error(admin_client.request(method, path, headers=AS_ASKER), 403)
    basic = admin_client.get("/v1/documents", headers={"Authorization": "Basic YWRtaW4="})
    assert "Bearer <key>" in error(basic, 401)


def test_an_upload_is_refused_before_its_body_is_read_without_a_key(
    admin_client: TestClient, admin_settings: Settings
) -> None:
    parts = [("files", ("softmax.md", SOFTMAX, "text/markdown"))]
    assert admin_client.post("/v1/documents", files=parts).status_code == 401
    assert not (admin_settings.data_dir / "default" / "uploads").exists()


def test_document_endpoints_are_absent_unless_turned_on(client: TestClient) -> None:
    assert client.get("/v1/documents", headers=AS_ADMIN).status_code == 404
    assert "/v1/documents" not in client.get("/openapi.json").json()["paths"]


def test_an_upload_is_ingested_by_a_job_and_served_without_restart(
    admin_client: TestClient,
) -> None:
    pdf = pdf_bytes("Dropout zeroes random units while training.", "It acts as a regulariser.")
    job = upload(admin_client, ("softmax.md", SOFTMAX), ("dropout.pdf", pdf))
    assert job.status == "queued" and job.files == ["uploads/softmax.md", "uploads/dropout.pdf"]

    done = finished(admin_client, job)

    assert done.status == "succeeded" and done.version == 2 and done.error is None
    assert (done.total, done.done) == (2, 2)
    outcomes = {r.source: r.outcome for r in done.results}
    assert outcomes == {"uploads/dropout.pdf": "added", "uploads/softmax.md": "added"}
    documents = {d.source: d for d in listing(admin_client).documents}
    assert documents["uploads/dropout.pdf"].pages == 2 and documents["uploads/dropout.pdf"].uploaded
    assert documents["uploads/softmax.md"].pages is None and documents["uploads/softmax.md"].chunks
    assert not documents["notes-default/adam.md"].uploaded
    assert top_source(admin_client, "softmax raw scores probabilities") == "uploads/softmax.md"


def test_uploading_again_updates_only_what_changed(admin_client: TestClient) -> None:
    finished(admin_client, upload(admin_client, ("softmax.md", SOFTMAX), ("b.txt", b"Beta.\n")))
    changed = SOFTMAX + b"\nThe temperature divides the scores first.\n"

    done = finished(admin_client, upload(admin_client, ("softmax.md", changed)))

    outcomes = {r.source: r.outcome for r in done.results}
    assert outcomes == {"uploads/softmax.md": "updated", "uploads/b.txt": "unchanged"}


def test_uploads_create_and_fill_another_collection(admin_client: TestClient) -> None:
    waves = (b"# Waves\n\nWaves carry energy without carrying matter.\n", "physics")
    done = finished(
        admin_client, upload(admin_client, ("waves.md", waves[0]), collection="physics")
    )
    assert done.collection == "physics" and done.version == 1
    names = [c["name"] for c in admin_client.get("/v1/collections").json()["collections"]]
    assert names == ["default", "physics"]
    assert [d.source for d in listing(admin_client, "physics").documents] == ["uploads/waves.md"]
    assert top_source(admin_client, "waves energy matter", "physics") == "uploads/waves.md"
    bad = admin_client.post(
        "/v1/documents",
        files=[("files", ("a.md", SOFTMAX, "text/markdown"))],
        params={"collection": "../etc"},
        headers=AS_ADMIN,
    )
    assert "invalid collection name" in error(bad, 422)


def test_deleting_an_upload_removes_its_file_and_its_passages(
    admin_client: TestClient, admin_settings: Settings
) -> None:
    finished(admin_client, upload(admin_client, ("softmax.md", SOFTMAX)))
    uploaded = next(d for d in listing(admin_client).documents if d.uploaded)

    response = admin_client.delete(f"/v1/documents/{uploaded.id}", headers=AS_ADMIN)
    assert response.status_code == 202
    done = finished(admin_client, JobPublic.model_validate(response.json()))

    assert done.kind == "delete" and done.files == ["uploads/softmax.md"]
    assert [(r.source, r.outcome) for r in done.results] == [("uploads/softmax.md", "removed")]
    assert not (admin_settings.data_dir / "default" / "uploads" / "softmax.md").exists()
    assert "uploads/softmax.md" not in {d.source for d in listing(admin_client).documents}
    assert top_source(admin_client, "softmax raw scores probabilities") != "uploads/softmax.md"
    again = admin_client.delete(f"/v1/documents/{uploaded.id}", headers=AS_ADMIN)
    assert "no document" in error(again, 404)


def test_deleting_a_document_ingested_from_a_folder_drops_it_from_the_index(
    admin_client: TestClient, admin_settings: Settings
) -> None:
    adam = next(d for d in listing(admin_client).documents if d.source.endswith("adam.md"))
    response = admin_client.delete(f"/v1/documents/{adam.id}", headers=AS_ADMIN)
    done = finished(admin_client, JobPublic.model_validate(response.json()))
    assert done.status == "succeeded"
    assert [d.source for d in listing(admin_client).documents] == ["notes-default/lora.md"]
    assert (admin_settings.data_dir.parent / "notes-default" / "adam.md").exists()
    # A re-sync of the folder does not bring the deleted document back.
    resync = admin_client.post("/v1/reindex", headers=AS_ADMIN)
    assert finished(admin_client, JobPublic.model_validate(resync.json())).status == "succeeded"
    assert [d.source for d in listing(admin_client).documents] == ["notes-default/lora.md"]


def test_reindex_brings_the_collection_in_line_with_its_folders(
    admin_client: TestClient, admin_settings: Settings
) -> None:
    notes = admin_settings.data_dir.parent / "notes-default"
    (notes / "adam.md").write_text("# Adam\n\nAdam adapts each step size.\n", encoding="utf-8")
    (notes / "lora.md").unlink()
    (notes / "rmsprop.md").write_text("# RMSProp\n\nRMSProp divides by an RMS.\n")

    response = admin_client.post("/v1/reindex", headers=AS_ADMIN)
    assert response.status_code == 202
    done = finished(admin_client, JobPublic.model_validate(response.json()))

    outcomes = {r.source: r.outcome for r in done.results}
    assert outcomes == {
        "notes-default/adam.md": "updated",
        "notes-default/lora.md": "removed",
        "notes-default/rmsprop.md": "added",
    }
    unknown = admin_client.post("/v1/reindex", params={"collection": "chem"}, headers=AS_ADMIN)
    assert "unknown collection" in error(unknown, 404)


def test_a_corrupt_pdf_is_reported_by_name_and_reason_and_the_rest_is_ingested(
    admin_client: TestClient,
) -> None:
    broken = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer garbage"
    done = finished(admin_client, upload(admin_client, ("broken.pdf", broken), ("s.md", SOFTMAX)))
    assert done.status == "succeeded"
    failed = [r for r in done.results if r.outcome == "failed"]
    assert [r.source for r in failed] == ["uploads/broken.pdf"]
    assert failed[0].reason and "PDF" in failed[0].reason
    assert [r.outcome for r in done.results if r.source == "uploads/s.md"] == ["added"]


@pytest.mark.parametrize(
    ("name", "data", "status", "message"),
    [
        ("notes.md", b"\x7fELF\x02\x01\x01\x00\x00binary", 415, "binary content"),
        ("paper.pdf", b"PK\x03\x04" + b"\x00" * 64, 415, "not a PDF (a ZIP archive)"),
        ("paper.pdf", b"Just text pretending.", 415, "no %PDF- header"),
        ("latin.txt", "caf\xe9 cr\xe8me".encode("latin-1"), 415, "not UTF-8 text"),
        ("nul.txt", b"text with a \x00 NUL byte", 415, "NUL bytes"),
        ("tool.exe", b"MZ\x90\x00", 415, "unsupported file type '.exe'"),
        ("README", b"no suffix", 422, "type suffix"),
        ("empty.md", b"  \n", 422, "empty"),
        ("big.txt", b"a" * 5000, 413, "larger than the limit of 4096 bytes"),
    ],
)
def test_files_that_are_not_what_they_say_are_refused_by_name(
    admin_settings: Settings,
    fake_generator: FakeGenerator,
    name: str,
    data: bytes,
    status: int,
    message: str,
) -> None:
    settings = admin_settings.model_copy(update={"max_upload_bytes": 4096})
    with TestClient(create_app(settings, embedder=FakeEmbedder(), generator=fake_generator)) as c:
        good = ("good.md", SOFTMAX, "text/markdown")
        parts = [("files", good), ("files", (name, data, "application/octet-stream"))]
        response = c.post("/v1/documents", files=parts, headers=AS_ADMIN)
        assert message in error(response, status)
        assert name.split(".")[0] in error(response, status) or status == 422
    uploads = settings.data_dir / "default" / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []  # nothing of the request kept


def test_names_cannot_escape_the_upload_folder(
    admin_client: TestClient, admin_settings: Settings
) -> None:
    names = {
        "../../../etc/cron.d/evil.md": "evil.md",
        "..\\..\\windows\\evil2.txt": "evil2.txt",
        "/abs/path/notes.html": "notes.html",
        ".hidden.md": "hidden.md",
        "a\u202egnp.md": "agnp.md",  # a right-to-left override dropped
        "\uff46\uff55\uff4c\uff4c.md": "full.md",  # fullwidth letters
        "semi;colon|pipe$.md": "semi_colon_pipe.md",
    }
    files = [
        (raw, b"# T\n\nSome words about " + str(i).encode() + b".\n") for i, raw in enumerate(names)
    ]
    job = upload(admin_client, *files)
    assert job.files == [f"uploads/{safe}" for safe in names.values()]
    folder = admin_settings.data_dir / "default" / "uploads"
    assert sorted(p.name for p in folder.iterdir()) == sorted(names.values())
    finished(admin_client, job)


def test_upload_requests_are_bounded(
    admin_settings: Settings, fake_generator: FakeGenerator
) -> None:
    settings = admin_settings.model_copy(
        update={"max_upload_files": 2, "max_upload_request_bytes": 20_000}
    )
    app = create_app(settings, embedder=FakeEmbedder(), generator=fake_generator)
    with TestClient(app) as client:
        three = [("files", (f"{n}.md", SOFTMAX, "text/markdown")) for n in "abc"]
        too_many = client.post("/v1/documents", files=three, headers=AS_ADMIN)
        assert too_many.status_code in (400, 413) and "files" in error(
            too_many, too_many.status_code
        )
        huge = [("files", ("big.md", b"x" * 30_000, "text/markdown"))]
        assert "exceeds the limit" in error(
            client.post("/v1/documents", files=huge, headers=AS_ADMIN), 413
        )
        as_json = client.post("/v1/documents", json={"files": []}, headers=AS_ADMIN)
        assert "multipart/form-data" in error(as_json, 415)
        other = [("other", ("a.md", SOFTMAX, "text/markdown"))]
        no_files = client.post(
            "/v1/documents", data={"files": "text"}, files=other, headers=AS_ADMIN
        )
        assert "files" in error(no_files, 422)
        # JSON endpoints keep their own, smaller limit.
        body = {"question": "a" * 300_000}
        assert client.post("/v1/ask", json=body).status_code == 413


def test_unknown_jobs_and_documents_are_404(admin_client: TestClient) -> None:
    job = admin_client.get("/v1/jobs/" + "0" * 32, headers=AS_ADMIN)
    assert "no job" in error(job, 404)
    assert error(admin_client.get("/v1/jobs/not-an-id", headers=AS_ADMIN), 422)
    document = admin_client.delete("/v1/documents/" + "0" * 16, headers=AS_ADMIN)
    assert "no document" in error(document, 404)


def test_the_document_endpoints_are_not_open_to_other_origins(
    admin_settings: Settings, fake_generator: FakeGenerator, tmp_path: Path
) -> None:
    origin = "https://course.example.org"
    settings = admin_settings.model_copy(update={"cors_origins": [origin]})
    app = create_app(settings, embedder=FakeEmbedder(), generator=fake_generator)
    with TestClient(app) as client:
        preflight = client.options(
            "/v1/documents/0123456789abcdef",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "DELETE",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.status_code == 403
        refused = client.get("/v1/documents", headers={"Origin": origin})
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == origin  # the page can read why


class SlowEmbedder(FakeEmbedder):
    """Takes its time over each document, so that a job is still running when asked."""

    def count_tokens(self, texts: list[str]) -> list[int]:  # type: ignore[override]
        time.sleep(0.3)
        return super().count_tokens(texts)


def test_stopping_the_service_cancels_a_running_job_before_it_publishes(
    admin_settings: Settings, fake_generator: FakeGenerator
) -> None:
    app = create_app(admin_settings, embedder=SlowEmbedder(), generator=fake_generator)
    with TestClient(app) as client:
        files = [(f"n{i}.md", SOFTMAX + f"Note {i}.\n".encode()) for i in range(20)]
        job = upload(client, *files)
        while (
            JobPublic.model_validate(
                client.get(f"/v1/jobs/{job.id}", headers=AS_ADMIN).json()
            ).status
            == "queued"
        ):
            time.sleep(0.05)
        jobs = components_of(app).jobs
    assert jobs is not None
    stopped = jobs.get(job.id)
    assert stopped.status == "cancelled" and "nothing was published" in (stopped.error or "")
    assert not (admin_settings.data_dir / "default" / "CURRENT").exists()
    assert len(list((admin_settings.data_dir / "default" / "uploads").iterdir())) == 20


def test_an_upload_to_a_full_disk_is_a_507_and_stores_nothing(
    admin_client: TestClient, admin_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    from service import uploads

    def full(_: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(uploads.os, "fsync", full)
    parts = [("files", ("softmax.md", SOFTMAX, "application/octet-stream"))]
    response = admin_client.post("/v1/documents", files=parts, headers=AS_ADMIN)
    assert response.status_code == 507
    error = ErrorBody.model_validate(response.json()).error
    assert error.code == "insufficient_storage" and "nothing was stored" in error.message
    folder = admin_settings.data_dir / "default" / "uploads"
    assert not folder.exists() or os.listdir(folder) == []


def test_work_a_restart_interrupted_is_done_at_the_next_start(
    admin_settings: Settings, fake_generator: FakeGenerator
) -> None:
    ingest_notes(admin_settings.data_dir)
    folder = admin_settings.data_dir / "default"
    # As a kill left it: an upload stored but never indexed, and a deletion (202) recorded
    # but never published.
    (folder / "uploads").mkdir()
    (folder / "uploads" / "softmax.md").write_bytes(SOFTMAX)
    adam = next(d for d in listing_of(admin_settings) if d.source.endswith("adam.md"))
    (folder / "excluded.json").write_text(f'["{adam.path}"]')
    app = create_app(admin_settings, embedder=FakeEmbedder(), generator=fake_generator)
    with TestClient(app) as client:
        deadline = time.monotonic() + 20
        while {d.source for d in listing(client).documents} != {
            "notes-default/lora.md",
            "uploads/softmax.md",
        }:
            assert time.monotonic() < deadline, listing(client).documents
            time.sleep(0.1)
    app = create_app(admin_settings, embedder=FakeEmbedder(), generator=fake_generator)
    with TestClient(app) as client:  # nothing left to do: no job at this start
        documents = components_of(app).documents
        assert documents is not None and documents.reconcile() == []


def listing_of(settings: Settings) -> list[DocumentRecord]:
    return IndexReader(settings.data_dir / "default", FakeEmbedder()).documents()


def _parse_workers() -> set[int]:
    """Ids of this process's parse workers (``python -m ingest.parse_worker``) still alive."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or b"ingest.parse_worker" not in (
                (entry / "cmdline").read_bytes()
            ):
                continue
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat[0] != "Z" and int(stat[1]) == os.getpid():
            found.add(int(entry.name))
    return found


def test_a_poison_upload_fails_within_its_budget_is_listed_and_can_be_deleted(
    admin_settings: Settings, fake_generator: FakeGenerator
) -> None:
    settings = admin_settings.model_copy(update={"ingest_parse_seconds": 2.0})
    ingest_notes(settings.data_dir)
    app = create_app(settings, embedder=FakeEmbedder(), generator=fake_generator)
    with TestClient(app) as client:
        done = finished(client, upload(client, ("poison.pdf", poison_pdf()), ("s.md", SOFTMAX)))
        outcomes = {r.source: (r.outcome, r.reason) for r in done.results}
        assert outcomes["uploads/poison.pdf"] == ("failed", "took longer than 2 s to parse")
        assert outcomes["uploads/s.md"] == ("added", None)

        listed = listing(client)
        assert "uploads/poison.pdf" not in {d.source for d in listed.documents}
        (failed,) = listed.failed
        assert failed.source == "uploads/poison.pdf" and failed.uploaded
        assert failed.reason == "took longer than 2 s to parse"

        # Later jobs pass it over: remembered, not parsed (the budget would show).
        again = finished(client, client_reindex(client))
        reason = next(r.reason for r in again.results if r.source == "uploads/poison.pdf")
        assert reason and "not parsed again" in reason

        response = client.delete(f"/v1/documents/{failed.id}", headers=AS_ADMIN)
        assert response.status_code == 202, response.text
        assert finished(client, JobPublic.model_validate(response.json())).status == "succeeded"
        assert listing(client).failed == []
        assert not (settings.data_dir / "default" / "uploads" / "poison.pdf").exists()


def client_reindex(client: TestClient) -> JobPublic:
    response = client.post("/v1/reindex", headers=AS_ADMIN)
    assert response.status_code == 202, response.text
    return JobPublic.model_validate(response.json())


def test_a_collection_whose_only_upload_failed_lists_it(admin_client: TestClient) -> None:
    broken = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer garbage"
    finished(admin_client, upload(admin_client, ("broken.pdf", broken), collection="chem"))
    listed = listing(admin_client, collection="chem")
    assert listed.index_version == 0 and listed.documents == []
    assert [f.source for f in listed.failed] == ["uploads/broken.pdf"]
    assert listing(admin_client).failed == []  # the other collection has none


def test_stopping_the_service_does_not_wait_on_a_parse(
    admin_settings: Settings, fake_generator: FakeGenerator
) -> None:
    settings = admin_settings.model_copy(update={"ingest_parse_seconds": 600.0})
    app = create_app(settings, embedder=FakeEmbedder(), generator=fake_generator)
    with TestClient(app) as client:
        job = upload(client, ("poison.pdf", poison_pdf()))
        deadline = time.monotonic() + 60
        while not _parse_workers():  # the poison is being parsed (minutes of it)
            assert time.monotonic() < deadline, "no parse worker started"
            time.sleep(0.05)
        workers = _parse_workers()
        time.sleep(0.5)
        jobs = components_of(app).jobs
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 30  # the poison alone takes minutes
    assert jobs is not None
    stopped = jobs.get(job.id)
    assert stopped.status == "cancelled" and "nothing was published" in (stopped.error or "")
    assert not workers & _parse_workers()
    assert not (settings.data_dir / "default" / "failures.json").exists()
