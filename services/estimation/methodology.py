"""The estimation methodology, kept as a packaged markdown file rather than a Python string.

It is long prose that estimators and reviewers edit as a document, and it is sent verbatim as the
cached block of every prompt; a separate file keeps its diffs readable. Reading it once at import gives
every request byte-identical text, which is what makes the prompt cache hit.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files

MODEL_DOCUMENT: str = files(__package__).joinpath("methodology.md").read_text(encoding="utf-8")


def version_of(document: str) -> str:
    """Named by its content, so a version can never refer to two different texts."""
    return hashlib.sha256(document.encode()).hexdigest()[:16]


METHODOLOGY_VERSION: str = version_of(MODEL_DOCUMENT)
