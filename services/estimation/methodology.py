"""The estimation methodology, kept as a packaged markdown file rather than a Python string.

It is long prose that estimators and reviewers edit as a document, and it is sent verbatim as the
cached block of every prompt; a separate file keeps its diffs readable. Reading it once at import gives
every request byte-identical text, which is what makes the prompt cache hit. A saved estimate refers to
its methodology by a version named by content, so a replaced document can never be mistaken for the
packaged one.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files

from pydantic import Field, FilePath
from pydantic_settings import BaseSettings

from services.shared.settings import CONFIG


class MethodologySettings(BaseSettings):
    """A deployment may ship its own methodology (a ConfigMap mounted as a file) without a new image."""

    model_config = CONFIG

    methodology_file: FilePath | None = Field(
        default=None, description="markdown that replaces the packaged methodology (every replica the same file)"
    )


def _load(settings: MethodologySettings) -> str:
    if settings.methodology_file is not None:
        return settings.methodology_file.read_text(encoding="utf-8")
    return files(__package__).joinpath("methodology.md").read_text(encoding="utf-8")


MODEL_DOCUMENT: str = _load(MethodologySettings())


def version_of(document: str) -> str:
    """Named by its content, so a version can never refer to two different texts."""
    return hashlib.sha256(document.encode()).hexdigest()[:16]


METHODOLOGY_VERSION: str = version_of(MODEL_DOCUMENT)
