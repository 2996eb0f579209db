"""A short, bounded summary of a public GitHub repository: what the estimate builds on.

Only four cheap REST calls are made (metadata, languages, top-level contents, README), all concurrent,
so a repository adds about one round trip to an estimation, whatever its size.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

import httpx

from services.estimation.models import RepoFacts
from services.worker.settings import WorkerSettings

GITHUB_URL = re.compile(
    r"https://github\.com/(?P<owner>[A-Za-z0-9-]{1,39})/(?P<repo>[A-Za-z0-9._-]{1,100}?)(?:\.git)?/?"
)
"""Matched whole (`fullmatch`): a URL with anything after it, a newline included, is refused."""
GITHUB_URL_PATTERN = r"^https://github\.com/[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,104}/?$"
"""The same shape as the OpenAPI states it (ECMA-262, where `$` is the true end)."""
README_EXCERPT_CHARS = 3000
TREE_ENTRIES = 60
MAX_REDIRECTS = 3
"""GitHub answers 301 (or 307) for a renamed or transferred repository; a chain longer than this is refused."""
REDIRECTS = frozenset({301, 302, 307, 308})


class GitHubError(Exception):
    """A repository problem the user must see: `code` is the job's error code."""

    def __init__(self, code: str, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.transient = transient


@dataclass(frozen=True)
class RepoSummary:
    facts: RepoFacts
    markdown: str


def parse_github_url(url: str) -> tuple[str, str]:
    match = GITHUB_URL.fullmatch(url)
    if not match or not match["repo"].strip("."):
        raise ValueError("github_url must look like https://github.com/OWNER/REPO")
    return match["owner"], match["repo"]


def make_github_client(settings: WorkerSettings) -> httpx.AsyncClient:
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    token = settings.github_token.get_secret_value()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.AsyncClient(base_url=settings.github_api_url, headers=headers, timeout=settings.github_timeout_s)


def _same_host(url: httpx.URL, base: httpx.URL) -> bool:
    return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)


async def _get(client: httpx.AsyncClient, path: str, **kwargs: Any) -> httpx.Response:
    """GET `path`, following GitHub's redirects for renamed repositories, only ever on the configured API host."""
    url: httpx.URL | str = path
    for _ in range(MAX_REDIRECTS + 1):
        response = await _get_once(client, url, **kwargs)
        if response.status_code not in REDIRECTS:
            return response
        try:
            url = response.url.join(response.headers["location"])
        except (KeyError, httpx.InvalidURL) as exc:
            raise GitHubError("repository_not_found", "GitHub redirected without a valid Location") from exc
        if not _same_host(url, client.base_url):
            raise GitHubError("repository_not_found", "GitHub redirected away from its API host; not followed")
    raise GitHubError("repository_not_found", f"GitHub redirected more than {MAX_REDIRECTS} times; not followed")


async def _get_once(client: httpx.AsyncClient, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:
    try:
        response = await client.get(url, **kwargs)
    except httpx.InvalidURL as exc:
        raise GitHubError("repository_not_found", "the repository's address is not valid") from exc
    except httpx.HTTPError as exc:
        raise GitHubError("github_unavailable", f"GitHub could not be reached: {type(exc).__name__}", True) from exc
    if response.status_code in REDIRECTS:
        return response
    if response.status_code == 404:
        raise GitHubError("repository_not_found", "the repository does not exist or is private")
    if response.status_code in (401, 403, 429) or response.status_code >= 500:
        raise GitHubError(
            "github_unavailable",
            f"GitHub answered {response.status_code}",
            transient=response.status_code != 401,
        )
    response.raise_for_status()
    return response


async def fetch_repo_summary(client: httpx.AsyncClient, url: str) -> RepoSummary:
    owner, repo = parse_github_url(url)
    base = f"/repos/{owner}/{repo}"
    meta_r, langs_r, contents_r = await asyncio.gather(
        _get(client, base), _get(client, f"{base}/languages"), _get(client, f"{base}/contents")
    )
    readme = await _readme(client, base)
    meta: dict[str, Any] = meta_r.json()
    if meta.get("private"):
        raise GitHubError("repository_not_found", "the repository does not exist or is private")
    languages: dict[str, int] = {str(k): int(v) for k, v in langs_r.json().items()}
    entries: list[dict[str, Any]] = contents_r.json() if isinstance(contents_r.json(), list) else []
    facts = RepoFacts(
        full_name=str(meta.get("full_name", f"{owner}/{repo}")),
        languages=languages,
        size_kb=int(meta.get("size", 0)),
        file_count=None,
    )
    return RepoSummary(facts=facts, markdown=_render(meta, languages, entries, readme))


async def _readme(client: httpx.AsyncClient, base: str) -> str:
    try:
        response = await _get(client, f"{base}/readme", headers={"Accept": "application/vnd.github.raw+json"})
    except GitHubError as exc:
        if exc.code == "repository_not_found":
            return ""
        raise
    return response.text[:README_EXCERPT_CHARS]


def _render(meta: dict[str, Any], languages: dict[str, int], entries: list[dict[str, Any]], readme: str) -> str:
    total = sum(languages.values()) or 1
    lang_lines = [f"- {name}: {100 * size / total:.1f}% ({size} bytes)" for name, size in languages.items()]
    tree = [f"- {e.get('name')}{'/' if e.get('type') == 'dir' else ''}" for e in entries[:TREE_ENTRIES]]
    if len(entries) > TREE_ENTRIES:
        tree.append(f"- … and {len(entries) - TREE_ENTRIES} more entries")
    parts = [
        f"## Existing repository: {meta.get('full_name', '')}",
        f"Description: {meta.get('description') or 'none'}",
        f"Default branch: {meta.get('default_branch', 'unknown')}; size: {meta.get('size', 0)} KB; "
        f"stars: {meta.get('stargazers_count', 0)}; license: {(meta.get('license') or {}).get('spdx_id', 'none')}",
        "### Languages",
        *(lang_lines or ["- unknown"]),
        "### Top-level tree",
        *(tree or ["- (empty)"]),
    ]
    if readme:
        parts += ["### README (excerpt)", readme]
    return "\n".join(parts)
