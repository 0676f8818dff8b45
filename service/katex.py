"""KaTeX, the widget's formula renderer: installed from the npm registry, served by Syllabus.

``make install`` runs ``python -m service.katex``: ``npm pack`` fetches the pinned
release, whose tarball must match the integrity pinned here, and the files the
widget needs (the script, the stylesheet, the WOFF2 fonts, the MIT licence) are
unpacked into ``var/vendor/katex-VERSION`` atomically: an interrupted install
leaves nothing half-written. Without them the widget shows formulas as text.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from functools import cache
from pathlib import Path

from service.paths import DATA_HOME

VERSION = "0.19.1"
INTEGRITY = (
    "sha512-jG8uKntjSEcm2EpQOh0XturpPuuC9r3Sq5HLHdsFdWZT27E672SF19QEi+of0/"
    "YeOy15lDgRhKvr5614uRrEfA=="
)
VENDOR = DATA_HOME / "vendor"
# What the widget loads; fonts.css is made from the stylesheet (fonts_css).
_WANTED = re.compile(
    r"package/(LICENSE|dist/katex\.min\.(?:js|css)|dist/fonts/KaTeX_[\w-]+\.woff2)"
)
_FONT_FACE = re.compile(r"@font-face\{[^}]*\}")


class KatexError(RuntimeError):
    """The KaTeX release could not be fetched or is not the pinned one."""


def install_dir(vendor: Path = VENDOR) -> Path:
    return vendor / f"katex-{VERSION}"


def installed(vendor: Path = VENDOR) -> Path | None:
    """The installed KaTeX folder, or None."""
    folder = install_dir(vendor)
    return folder if (folder / "katex.min.js").is_file() else None


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _unpack(tarball: bytes, into: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member in archive.getmembers():
            wanted = _WANTED.fullmatch(member.name)
            if not (wanted and member.isfile()):
                continue
            target = into / wanted.group(1).removeprefix("dist/")
            target.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            assert source is not None  # a regular file
            target.write_bytes(source.read())


def install(vendor: Path = VENDOR) -> Path:
    """Fetch, check and unpack the pinned KaTeX (once)."""
    if (found := installed(vendor)) is not None:
        return found
    npm = shutil.which("npm")
    if npm is None:
        raise KatexError("npm is needed to install KaTeX (Debian's package: npm)")
    vendor.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=vendor, prefix=".katex-") as scratch:
        work = Path(scratch)
        done = subprocess.run(
            [npm, "pack", f"katex@{VERSION}", "--silent", "--pack-destination", str(work)],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
        tarball = work / f"katex-{VERSION}.tgz"
        if done.returncode != 0 or not tarball.is_file():
            raise KatexError(f"npm pack katex@{VERSION} failed: {done.stderr.strip()[-500:]}")
        data = tarball.read_bytes()
        if (got := _integrity(data)) != INTEGRITY:
            raise KatexError(f"katex@{VERSION} from npm has integrity {got}, not {INTEGRITY}")
        staged = work / "katex"
        _unpack(data, staged)
        if not (staged / "katex.min.js").is_file():
            raise KatexError(f"katex@{VERSION} has no dist/katex.min.js")
        os.replace(staged, install_dir(vendor))
    return install_dir(vendor)


@cache
def fonts_css(folder: Path) -> bytes:
    """The stylesheet's @font-face rules alone, WOFF2 only. A shadow root ignores
    @font-face, so the widget declares the fonts on the page; nothing else of KaTeX's
    stylesheet reaches the page."""
    css = (folder / "katex.min.css").read_text(encoding="utf-8")
    rules = []
    for rule in _FONT_FACE.findall(css):
        woff2 = re.search(r"url\((fonts/[\w-]+\.woff2)\) format\(\"woff2\"\)", rule)
        if woff2:
            rules.append(re.sub(r"src:[^;}]*", f'src:url({woff2.group(1)}) format("woff2")', rule))
    return "\n".join(rules).encode()


if __name__ == "__main__":
    try:
        print(install())
    except KatexError as error:
        sys.exit(f"syllabus: {error}")
