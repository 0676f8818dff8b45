"""The chat widget's files (``/widget.js``, ``/widget.css``, KaTeX under ``/widget/katex/``)
and the demo course page (``/``)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request, Response

from service import katex
from service.errors import NotFound

router = APIRouter(tags=["widget"], include_in_schema=False)

WIDGET_DIR = Path(__file__).resolve().parents[1] / "widget"
# Course pages load widget.js by a fixed URL: a short lifetime lets an upgrade reach
# them within minutes, and the ETag makes the revalidation after that a 304.
_ASSET_CACHE = "public, max-age=300"
_DEMO_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    etag: str


def _asset(body: bytes) -> Asset:
    return Asset(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')


@cache
def asset(name: str) -> Asset:
    """A file of the widget folder with its ETag, read once per process."""
    return _asset((WIDGET_DIR / name).read_bytes())


# KaTeX's files by name, with their media types; nothing else of its folder is served.
_KATEX_FONT = re.compile(r"fonts/KaTeX_[A-Za-z0-9-]+\.woff2")
_KATEX_TYPES = {
    "katex.min.js": "text/javascript; charset=utf-8",
    "katex.min.css": "text/css; charset=utf-8",
    "fonts.css": "text/css; charset=utf-8",
}


@cache
def katex_asset(folder: Path, name: str) -> Asset | None:
    if name == "fonts.css":
        return _asset(katex.fonts_css(folder))
    path = folder / name
    return _asset(path.read_bytes()) if path.is_file() else None


def _fresh(request: Request, etag: str) -> bool:
    """Whether the client's If-None-Match already names this version."""
    header = request.headers.get("if-none-match", "")
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in tags or "*" in tags


def _serve(request: Request, name: str, media_type: str, headers: dict[str, str]) -> Response:
    return _respond(request, asset(name), media_type, headers)


def _respond(request: Request, found: Asset, media_type: str, headers: dict[str, str]) -> Response:
    headers = {**headers, "ETag": found.etag, "X-Content-Type-Options": "nosniff"}
    if _fresh(request, found.etag):
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=media_type, headers=headers)


@router.api_route("/widget.js", methods=["GET", "HEAD"])
async def widget_script(request: Request) -> Response:
    cache = {"Cache-Control": _ASSET_CACHE}
    return _serve(request, "widget.js", "text/javascript; charset=utf-8", cache)


@router.api_route("/widget.css", methods=["GET", "HEAD"])
async def widget_styles(request: Request) -> Response:
    return _serve(request, "widget.css", "text/css; charset=utf-8", {"Cache-Control": _ASSET_CACHE})


@router.api_route("/widget/katex/{name:path}", methods=["GET", "HEAD"])
async def katex_file(request: Request, name: str) -> Response:
    """KaTeX's script, stylesheet, fonts and the page's @font-face rules (``fonts.css``)."""
    folder = katex.installed()
    media_type = "font/woff2" if _KATEX_FONT.fullmatch(name) else _KATEX_TYPES.get(name)
    found = katex_asset(folder, name) if folder is not None and media_type else None
    if found is None or media_type is None:
        raise NotFound(f"no widget file {name!r}")
    headers = {"Cache-Control": _ASSET_CACHE, "Access-Control-Allow-Origin": "*"}
    return _respond(request, found, media_type, headers)


@router.api_route("/", methods=["GET", "HEAD"])
async def demo_page(request: Request) -> Response:
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": _DEMO_CSP}
    return _serve(request, "index.html", "text/html; charset=utf-8", headers)
