"""A local stand-in for GitHub's REST API (no machine here reaches GitHub), served on loopback."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse

REPOS: dict[str, dict[str, Any]] = {
    "octo/shop": {
        "meta": {
            "full_name": "octo/shop",
            "description": "A small web shop",
            "default_branch": "main",
            "size": 2400,
            "stargazers_count": 42,
            "private": False,
            "license": {"spdx_id": "MIT"},
        },
        "languages": {"Python": 180_000, "TypeScript": 90_000, "CSS": 12_000},
        "contents": [
            {"name": "backend", "type": "dir"},
            {"name": "frontend", "type": "dir"},
            {"name": "README.md", "type": "file"},
        ],
        "readme": "# Shop\nA web shop with a Python backend and a TypeScript frontend.",
    }
}

REPO_IDS = {1296269: "octo/shop"}
"""GitHub's numeric repository ids, which `/repositories/{id}` serves whatever the repository's name now is."""
RENAMED = {"octo/old-shop": 1296269}
"""Old names: as GitHub does, every `/repos/{old}/...` route answers 301 to `/repositories/{id}/...` on its host."""
MOVED_AWAY = {"octo/moved-away": "https://elsewhere.invalid/repositories/1296269"}
"""A redirect off the API host, which the worker must refuse to follow."""
LOOPING = {"octo/loop"}
"""A redirect to itself, forever."""


def create_app() -> FastAPI:
    app = FastAPI()

    def missing() -> JSONResponse:
        return JSONResponse({"message": "Not Found"}, status_code=404)

    def redirected(request: Request, full_name: str, rest: str) -> RedirectResponse | None:
        if full_name in RENAMED:
            target = f"{str(request.base_url).rstrip('/')}/repositories/{RENAMED[full_name]}{rest}"
        elif full_name in MOVED_AWAY:
            target = MOVED_AWAY[full_name] + rest
        elif full_name in LOOPING:
            target = str(request.url)
        else:
            return None
        return RedirectResponse(target, status_code=301)

    def serve(request: Request, full_name: str, rest: str) -> Any:
        found = REPOS.get(full_name)
        if found is None:
            return redirected(request, full_name, rest) or missing()
        if rest == "/readme":
            return PlainTextResponse(found["readme"])
        return found[{"": "meta", "/languages": "languages", "/contents": "contents"}[rest]]

    def add_routes(rest: str) -> None:
        async def by_name(request: Request, owner: str, repo: str) -> Any:
            return serve(request, f"{owner}/{repo}", rest)

        async def by_id(request: Request, repo_id: int) -> Any:
            return serve(request, REPO_IDS.get(repo_id, ""), rest)

        app.add_api_route(f"/repos/{{owner}}/{{repo}}{rest}", by_name, methods=["GET"])
        app.add_api_route(f"/repositories/{{repo_id}}{rest}", by_id, methods=["GET"])

    for rest in ("", "/languages", "/contents", "/readme"):
        add_routes(rest)
    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadServer:
    """Runs an ASGI app with uvicorn in a background thread, for stub servers tests need on a real port."""

    def __init__(self, app: FastAPI, port: int | None = None) -> None:
        self.port = port or free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("stub server did not start")
            self.thread.join(timeout=0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
