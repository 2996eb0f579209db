"""A deployment's own methodology (a ConfigMap mounted as a file) replaces the packaged one everywhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from services.estimation.methodology import version_of

PRINT_VERSION = (
    "from services.estimation.methodology import METHODOLOGY_VERSION as v, MODEL_DOCUMENT as d; print(v, len(d))"
)


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_the_mounted_methodology_is_what_prompts_use_and_its_version_names_it(tmp_path: Path) -> None:
    document = "# Our methodology\n\nEstimate in ideal days, then convert.\n"
    (tmp_path / "methodology.md").write_text(document)
    result = _python(PRINT_VERSION, {"METHODOLOGY_FILE": str(tmp_path / "methodology.md"), "PATH": ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [version_of(document), str(len(document))]


def test_a_service_given_a_missing_methodology_file_refuses_to_start(tmp_path: Path) -> None:
    env = {"METHODOLOGY_FILE": str(tmp_path / "absent.md"), "ESTIMATOR_ENV": "development"}
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", "chat", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
    )
    assert result.returncode == 2, result.stderr
    assert "methodology_file" in result.stderr and "Traceback" not in result.stderr
