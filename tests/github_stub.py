"""A local stand-in for GitHub's REST API (no machine here reaches GitHub), served on loopback."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse

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


def create_app() -> FastAPI:
    app = FastAPI()

    def missing() -> JSONResponse:
        return JSONResponse({"message": "Not Found"}, status_code=404)

    @app.get("/repos/{owner}/{repo}")
    async def meta(owner: str, repo: str) -> Any:
        found = REPOS.get(f"{owner}/{repo}")
        return found["meta"] if found else missing()

    @app.get("/repos/{owner}/{repo}/languages")
    async def languages(owner: str, repo: str) -> Any:
        found = REPOS.get(f"{owner}/{repo}")
        return found["languages"] if found else missing()

    @app.get("/repos/{owner}/{repo}/contents")
    async def contents(owner: str, repo: str) -> Any:
        found = REPOS.get(f"{owner}/{repo}")
        return found["contents"] if found else missing()

    @app.get("/repos/{owner}/{repo}/readme")
    async def readme(owner: str, repo: str) -> Any:
        found = REPOS.get(f"{owner}/{repo}")
        return PlainTextResponse(found["readme"]) if found else missing()

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
