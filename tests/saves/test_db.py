"""Migrations and engines on the laptop fallback (SQLite file through aiosqlite) and on PostgreSQL."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from services.estimation.methodology import version_of
from services.saves import chat_repo, saves_repo
from services.saves.db import alembic_config, make_engine, make_sessionmaker, run_migrations
from services.saves.models import SaveRevision
from services.saves.settings import SavesSettings
from tests.saves.factories import chat_turn, new_owner, save_create


async def test_migrations_apply_on_a_sqlite_file_and_the_store_works_there(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'estimator.db'}"
    await run_migrations(url)
    await run_migrations(url)  # a second `estimator migrate` is a no-op
    engine = make_engine(url, SavesSettings(database_url=url))
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert {"saves", "save_revisions", "chat_messages", "api_keys", "alembic_version"} <= tables

        owner = new_owner()
        sessions = make_sessionmaker(engine)
        async with sessions() as session:
            first = await saves_repo.upsert_from_job(session, save_create(owner, job_id="job-1"))
            again = await saves_repo.upsert_from_job(session, save_create(owner, job_id="job-1"))
            await chat_repo.append_chat_turn(session, owner, "job-1", chat_turn("cheaper?", "ok", 15000.0))
            page = await saves_repo.list_saves(session, owner, 10, None)
            await saves_repo.delete_save(session, owner, first.save.save_id)
            orphans = await session.scalar(select(func.count()).select_from(SaveRevision))

        assert (first.created, again.created) == (True, False)
        assert [item.save_id for item in page.items] == [first.save.save_id]
        assert page.items[0].updated_at.tzinfo is not None
        assert orphans == 0, "ON DELETE CASCADE must hold on SQLite too"
    finally:
        await engine.dispose()


async def test_postgresql_engine_uses_the_configured_pool(database_url: str) -> None:
    engine = make_engine(database_url, SavesSettings(database_url=database_url, db_pool_size=3, db_max_overflow=2))
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT 1")) == 1
        assert isinstance(engine.pool, AsyncAdaptedQueuePool)
        assert engine.pool.size() == 3
    finally:
        await engine.dispose()


async def test_migrated_postgresql_is_at_head(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT version_num FROM alembic_version")) == head_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("unused")).get_current_head()


async def _upgrade_to(url: str, target: str, downgrade: bool = False) -> None:
    def step(connection: Connection) -> None:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        (command.downgrade if downgrade else command.upgrade)(config, target)

    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(step)
    finally:
        await engine.dispose()


async def _pairs(connection: AsyncConnection, query: str) -> dict[str, str]:
    return {str(a): str(b) for a, b in (await connection.execute(text(query))).all()}


async def test_saves_made_before_methodology_versions_keep_their_exact_text(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await _upgrade_to(url, "0001")
    engine = create_async_engine(url)
    columns = "save_id, owner, job_id, name, status, revision, requirements_md, model_md, report_markdown, " + (
        "estimate_data, financials_data, cross_check, totals, usage, created_at, updated_at"
    )
    try:
        async with engine.begin() as connection:
            for job, document in (("a", "Methodology A"), ("b", "Methodology A"), ("c", "Methodology C")):
                await connection.execute(
                    text(
                        f"INSERT INTO saves ({columns}) VALUES (:id, 'o', :job, 'n', 'ready', 1, 'r', :md, 'x', "
                        "'{}', '{}', '{}', '{}', '{}', '2026-01-01', '2026-01-01')"
                    ),
                    {"id": uuid.uuid4().hex, "job": job, "md": document},
                )
        await _upgrade_to(url, "head")
        async with engine.connect() as connection:
            kept: dict[str, str] = dict(
                (await connection.execute(text("SELECT version, content FROM methodologies"))).all()
            )
            refers: dict[str, str] = dict(
                (await connection.execute(text("SELECT job_id, methodology_version FROM saves"))).all()
            )
        assert sorted(kept.values()) == ["Methodology A", "Methodology C"], "one row per distinct text"
        assert {job: kept[version] for job, version in refers.items()} == {
            "a": "Methodology A",
            "b": "Methodology A",
            "c": "Methodology C",
        }
        assert kept[refers["a"]] == "Methodology A" and refers["a"] == version_of("Methodology A")

        await _upgrade_to(url, "0001", downgrade=True)
        async with engine.connect() as connection:
            restored: dict[str, str] = dict(
                (await connection.execute(text("SELECT job_id, model_md FROM saves"))).all()
            )
        assert restored == {"a": "Methodology A", "b": "Methodology A", "c": "Methodology C"}
    finally:
        await engine.dispose()


async def test_repository_facts_move_out_of_estimate_data_and_back(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'facts.db'}"
    await _upgrade_to(url, "0002")
    engine = create_async_engine(url)
    facts = {"full_name": "acme/shop", "languages": {"Python": 1200}, "size_kb": 40, "file_count": 12}
    save_id = uuid.uuid4().hex
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO methodologies (version, content, created_at) VALUES ('v1', 'm', '2026-01-01')")
            )
            await connection.execute(
                text(
                    "INSERT INTO saves (save_id, owner, job_id, name, status, revision, requirements_md, "
                    "methodology_version, report_markdown, estimate_data, financials_data, cross_check, totals, "
                    "usage, created_at, updated_at) VALUES (:id, 'o', 'j', 'n', 'ready', 1, 'r', 'v1', 'x', :data, "
                    "'{}', '{}', '{}', '{}', '2026-01-01', '2026-01-01')"
                ),
                {"id": save_id, "data": json.dumps({"summary": "s", "repository": facts})},
            )
            await connection.execute(
                text(
                    "INSERT INTO save_revisions (save_id, revision, estimate_data, financials_data, cross_check, "
                    "report_markdown, totals, reason, created_at) VALUES (:id, 1, :data, '{}', '{}', 'x', '{}', "
                    "'initial', '2026-01-01')"
                ),
                {"id": save_id, "data": json.dumps({"summary": "s", "repository": facts})},
            )
        await _upgrade_to(url, "head")
        async with engine.connect() as connection:
            data, moved = (await connection.execute(text("SELECT estimate_data, repository FROM saves"))).one()
            revision = (await connection.execute(text("SELECT estimate_data FROM save_revisions"))).scalar_one()
        assert json.loads(data) == {"summary": "s"} and json.loads(moved) == facts
        assert json.loads(revision) == {"summary": "s"}

        await _upgrade_to(url, "0002", downgrade=True)
        async with engine.connect() as connection:
            data = (await connection.execute(text("SELECT estimate_data FROM saves"))).scalar_one()
            revision = (await connection.execute(text("SELECT estimate_data FROM save_revisions"))).scalar_one()
        assert json.loads(data) == json.loads(revision) == {"summary": "s", "repository": facts}
    finally:
        await engine.dispose()
