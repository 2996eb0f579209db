"""The repository summary against the GitHub stub: renamed repositories are followed, only on the API host."""

from __future__ import annotations

import httpx
import pytest

from services.worker.github import GitHubError, fetch_repo_summary, parse_github_url


async def test_a_renamed_repository_is_followed_through_its_301(github_stub: str) -> None:
    async with httpx.AsyncClient(base_url=github_stub) as client:
        summary = await fetch_repo_summary(client, "https://github.com/octo/old-shop")
    assert summary.facts.full_name == "octo/shop"
    assert summary.facts.languages["Python"] == 180_000
    assert "A web shop with a Python backend" in summary.markdown  # the README, fetched through the redirect too


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("octo/moved-away", "GitHub redirected away from its API host; not followed"),
        ("octo/loop", "GitHub redirected more than 3 times; not followed"),
    ],
)
async def test_redirects_off_the_host_or_without_end_are_refused(github_stub: str, name: str, message: str) -> None:
    async with httpx.AsyncClient(base_url=github_stub) as client:
        with pytest.raises(GitHubError) as raised:
            await fetch_repo_summary(client, f"https://github.com/{name}")
    assert (raised.value.code, raised.value.message, raised.value.transient) == ("repository_not_found", message, False)


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/octo/shop\n",
        "https://github.com/octo/shop/\n",
        "https://github.com/octo/..",
        "https://github.com/octo/shop/x",
        "",
    ],
)
def test_only_a_whole_repository_url_parses(url: str) -> None:
    with pytest.raises(ValueError):
        parse_github_url(url)


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("https://github.com/octo/shop", ("octo", "shop")),
        ("https://github.com/octo/shop/", ("octo", "shop")),
        ("https://github.com/octo/shop.git", ("octo", "shop")),
        ("https://github.com/octo/.github", ("octo", ".github")),
    ],
)
def test_repository_urls_parse(url: str, parsed: tuple[str, str]) -> None:
    assert parse_github_url(url) == parsed
