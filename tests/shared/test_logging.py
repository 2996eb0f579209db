"""What a deployment's logs hold: our lines, not one per call between our own services."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from services.shared.observability import configure_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level, httpx_level = root.handlers[:], root.level, logging.getLogger("httpx").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(httpx_level)


@pytest.mark.usefixtures("restored_logging")
def test_internal_http_calls_are_not_logged_at_info() -> None:
    configure_logging("INFO", "json")

    assert logging.getLogger("services").isEnabledFor(logging.INFO)
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert logging.getLogger("httpx").isEnabledFor(logging.WARNING)


@pytest.mark.usefixtures("restored_logging")
def test_at_debug_they_are() -> None:
    configure_logging("DEBUG", "text")

    assert logging.getLogger("httpx").isEnabledFor(logging.INFO)
