"""The web app, served by the API itself: same origin, no extra server.

``index.html`` answers every app route (``/``, ``/search``, ``/v/{id}`` ...) so a shared link
to a moment opens in the app; hashed files under ``/assets`` are cached for good. When the app
is not built, ``/`` says how to build it and the API works as before.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from vystra.settings import Settings

# the client-side routes of web/src/App.tsx
APP_ROUTES = ("/", "/search", "/upload", "/sign-in", "/v/{video_id}")

# the app loads nothing from elsewhere; media and uploads may live on the object store's host
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " font-src 'self'; media-src 'self' https: http:; connect-src 'self' https: http:;"
    " object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def web_dir(settings: Settings) -> Path:
    if settings.web_dir is not None:
        return settings.web_dir.expanduser().resolve()
    return Path(__file__).resolve().parents[2] / "web" / "dist"


class _Assets(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:  # names carry a content hash: they never change
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def install(app: FastAPI, settings: Settings) -> None:
    root = web_dir(settings)
    index = root / "index.html"
    headers = {
        "Cache-Control": "no-cache",
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }

    def page() -> Response:
        if not index.is_file():
            return HTMLResponse(
                "<!doctype html><title>Vystra</title><p>The web app is not built: run"
                " <code>make install</code> (or <code>make web</code>). The API is at"
                ' <a href="/docs">/docs</a>.</p>',
                status_code=503,
            )
        return FileResponse(index, media_type="text/html", headers=headers)

    for route in APP_ROUTES:
        app.add_api_route(
            route, page, methods=["GET"], include_in_schema=False, response_model=None
        )
    if (root / "assets").is_dir():
        app.mount("/assets", _Assets(directory=root / "assets"), name="assets")
    icon = root / "favicon.svg"
    if icon.is_file():
        app.add_api_route(
            "/favicon.svg",
            lambda: FileResponse(icon, media_type="image/svg+xml"),
            methods=["GET"],
            include_in_schema=False,
            response_model=None,
        )


def app_url(host: str, port: int) -> str:
    """Where a browser on this machine opens the app served on ``host:port``."""
    shown = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    if ":" in shown:
        shown = f"[{shown.strip('[]')}]"
    return f"http://{shown}:{port}/"
