"""KaTeX's install: the pinned release or nothing, never a half-written folder."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from service import katex

FAKE_NPM = """#!/bin/sh
# npm pack katex@VERSION --silent --pack-destination DIR: writes a tarball that is not KaTeX's
cp "$FAKE_TARBALL" "$5/katex-{version}.tgz"
"""


def _tarball(path: Path) -> None:
    data = b"window.katex = {render() { document.title = 'tampered'; }};"
    with tarfile.open(path, "w:gz") as archive:
        member = tarfile.TarInfo("package/dist/katex.min.js")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))


def test_a_tarball_that_is_not_the_pinned_release_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    npm = tools / "npm"
    npm.write_text(FAKE_NPM.format(version=katex.VERSION))
    npm.chmod(0o755)
    _tarball(tmp_path / "tampered.tgz")
    monkeypatch.setenv("FAKE_TARBALL", str(tmp_path / "tampered.tgz"))
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    vendor = tmp_path / "vendor"

    with pytest.raises(katex.KatexError, match="integrity"):
        katex.install(vendor)
    assert katex.installed(vendor) is None
    assert list(vendor.iterdir()) == []  # no folder, not even the scratch one


def test_without_npm_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(katex.KatexError, match="npm is needed"):
        katex.install(tmp_path / "vendor")


def test_the_installed_release_is_the_pinned_one() -> None:
    folder = katex.installed()
    assert folder is not None, "`make install` installs KaTeX"
    assert f'version:"{katex.VERSION}"' in (folder / "katex.min.js").read_text().replace(" ", "")
    assert "MIT" in (folder / "LICENSE").read_text()
