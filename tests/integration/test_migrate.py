"""Migrations on a real PostgreSQL: idempotent, checksummed, serialised; partitions and their upkeep."""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from chalicelib.core.models import FeeSchedule, MarketSnapshot
from chalicelib.storage.migrate import SQL_DIR, MigrationError, migrate
from chalicelib.storage.repository import PgStorage

ALL = sorted(p.name for p in SQL_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def _today() -> datetime:
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def _tables(url: str, like: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') AND relname LIKE %s",
                            (like,)).fetchall()
    return {r[0] for r in rows}


def test_migrate_twice_second_run_is_a_no_op(empty_db_url: str) -> None:
    assert ALL[:3] == ["0001_core_tables.sql", "0002_timeseries.sql", "0003_seed_dexes.sql"]
    assert migrate(empty_db_url) == ALL
    assert migrate(empty_db_url) == []
    with psycopg.connect(empty_db_url) as conn:
        recorded = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
        dexes = dict(conn.execute("SELECT name, taker_fee_percent FROM dexes").fetchall())
    assert recorded == ALL
    # seeds exactly once, with the base-tier taker fees of DEX_APIS.md; EdgeX's as 0014 corrects it to V2's
    assert dexes == {"hyperliquid": Decimal("0.00045"), "lighter": Decimal("0"), "paradex": Decimal("0.0002"),
                     "grvt": Decimal("0.00055"), "edgex": Decimal("0.00045")}


def _edgex_fees(url: str) -> tuple[Decimal, Decimal, dict]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT maker_fee_percent, taker_fee_percent, fee_metadata FROM dexes WHERE name = 'edgex'").fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def _migrations_before(tmp_path: Path, name: str) -> Path:
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    for path in SQL_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"):
        if path.name < name:
            shutil.copy(path, sql_dir / path.name)
    return sql_dir


def test_0014_replaces_the_untouched_edgex_seed_with_v2_fees(empty_db_url: str, tmp_path: Path) -> None:
    sql_dir = _migrations_before(tmp_path, "0014")
    migrate(empty_db_url, sql_dir)
    # 0003 seeded EdgeX V1's maker 0.0002 / taker 0.00055
    assert _edgex_fees(empty_db_url)[:2] == (Decimal("0.0002"), Decimal("0.00055"))
    shutil.copy(SQL_DIR / "0014_edgex_v2_fees.sql", sql_dir)
    assert migrate(empty_db_url, sql_dir) == ["0014_edgex_v2_fees.sql"]
    maker, taker, meta = _edgex_fees(empty_db_url)
    # V2 getMetaData (recorded 2026-09-13): defaultMakerFeeRate "0.0004", defaultTakerFeeRate "0.00045"
    assert (maker, taker) == (Decimal("0.0004"), Decimal("0.00045"))
    assert meta["checked"] == "2026-12-02" and "V2" in meta["source"]


@pytest.mark.parametrize("put", [(Decimal("0.0001"), Decimal("0.0003")),      # the operator's own fees
                                 (Decimal("0.0002"), Decimal("0.00055"))])    # ... even the old seed values
def test_0014_keeps_fees_an_operator_put(empty_db_url: str, tmp_path: Path, put: tuple[Decimal, Decimal]) -> None:
    sql_dir = _migrations_before(tmp_path, "0014")
    migrate(empty_db_url, sql_dir)
    storage = PgStorage(empty_db_url)
    try:
        assert storage.update_fees("edgex", FeeSchedule(maker=put[0], taker=put[1]))   # what PUT /dexes/edgex/fees runs
    finally:
        storage.close()
    shutil.copy(SQL_DIR / "0014_edgex_v2_fees.sql", sql_dir)
    assert migrate(empty_db_url, sql_dir) == ["0014_edgex_v2_fees.sql"]
    assert _edgex_fees(empty_db_url)[:2] == put


def test_changed_migration_is_refused(empty_db_url: str, tmp_path: Path) -> None:
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    assert migrate(empty_db_url, sql_dir) == ALL
    seed = sql_dir / "0003_seed_dexes.sql"
    seed.write_text(seed.read_text() + "\n-- edited after it was applied\n")
    with pytest.raises(MigrationError, match=r"0003_seed_dexes\.sql was changed after it was applied"):
        migrate(empty_db_url, sql_dir)


def test_a_superseded_text_of_a_migration_is_accepted_and_no_other(empty_db_url: str) -> None:
    """0002 was fixed in place (a non-superuser could not read shared_preload_libraries); a database that
    recorded the earlier text's checksum stays valid, any other checksum is still refused."""
    from chalicelib.storage.migrate import SUPERSEDED

    (old,) = SUPERSEDED["0002_timeseries.sql"]
    assert migrate(empty_db_url) == ALL
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = %s WHERE name = '0002_timeseries.sql'", (old,))
    assert migrate(empty_db_url) == []
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = %s WHERE name = '0002_timeseries.sql'", ("0" * 64,))
    with pytest.raises(MigrationError, match=r"0002_timeseries\.sql was changed after it was applied"):
        migrate(empty_db_url)


def test_new_file_is_applied_and_a_missing_one_refused(empty_db_url: str, tmp_path: Path) -> None:
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    migrate(empty_db_url, sql_dir)
    (sql_dir / "9000_extra.sql").write_text("CREATE TABLE extra_table (id int);\nINSERT INTO extra_table VALUES (7);")
    assert migrate(empty_db_url, sql_dir) == ["9000_extra.sql"]
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("SELECT id FROM extra_table").fetchall() == [(7,)]
    (sql_dir / "9000_extra.sql").unlink()
    with pytest.raises(MigrationError, match=r"9000_extra\.sql is recorded as applied but its file is missing"):
        migrate(empty_db_url, sql_dir)


def test_failed_migration_rolls_back_alone(empty_db_url: str, tmp_path: Path) -> None:
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    (sql_dir / "9001_broken.sql").write_text("CREATE TABLE half_done (id int);\nSELECT no_such_function();")
    with pytest.raises(psycopg.errors.UndefinedFunction):
        migrate(empty_db_url, sql_dir)
    # everything before it stays applied; the broken file left nothing behind
    assert _tables(empty_db_url, "half_done") == set()
    with psycopg.connect(empty_db_url) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")] == ALL


def test_concurrent_runs_apply_each_file_once(empty_db_url: str) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(migrate(empty_db_url))
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(name for r in results for name in r) == ALL   # each file applied by exactly one run


def test_cli_migrate_names_database_url(monkeypatch: pytest.MonkeyPatch, empty_db_url: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib import cli
    from chalicelib.settings import reset_settings_cache

    monkeypatch.delenv("DATABASE_URL", raising=False)
    reset_settings_cache()
    assert cli.main(["migrate"]) == 2
    assert "DATABASE_URL" in capsys.readouterr().err
    monkeypatch.setenv("DATABASE_URL", empty_db_url)
    reset_settings_cache()
    try:
        assert cli.main(["migrate"]) == 0
        assert "applied 0001_core_tables.sql" in capsys.readouterr().out
        assert cli.main(["migrate"]) == 0
        assert capsys.readouterr().out.strip() == "up to date"
    finally:
        reset_settings_cache()


def _day_names(parent: str, first: datetime, days: int) -> set[str]:
    return {f"{parent}_p{(first + timedelta(days=i)):%Y%m%d}" for i in range(days)}


def test_partitions_exist_from_yesterday_to_a_week_ahead(db_url: str) -> None:
    yesterday = _today() - timedelta(days=1)
    for parent in ("funding_rates", "opportunities", "settlements"):
        names = _tables(db_url, f"{parent}%")
        assert f"{parent}_default" in names
        assert _day_names(parent, yesterday, 9) <= names   # yesterday, today, +1..+7


def _snap(symbol: str, when: datetime, rate: str) -> MarketSnapshot:
    return MarketSnapshot(dex="hyperliquid", symbol=symbol, dex_symbol=symbol, funding_rate=Decimal(rate),
                          funding_interval_hours=Decimal(1), mark_price=Decimal(100),
                          fetched_at_ms=int(when.timestamp() * 1000))


def _where(url: str, symbol: str) -> list[tuple[str, datetime]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT f.tableoid::regclass::text, f.time FROM funding_rates f JOIN symbols s ON s.id = f.symbol_id "
            "WHERE s.symbol = %s ORDER BY f.time", (symbol,)).fetchall()


def test_default_partition_catches_rows_and_ensure_moves_them(db_url: str) -> None:
    storage = PgStorage(db_url)
    try:
        old = _today() - timedelta(days=20) + timedelta(hours=5)
        storage.ingest([_snap("OLD", old, "0.0001")])
        assert _where(db_url, "OLD") == [("funding_rates_default", old)]   # no partition for that day yet
        created = storage.ensure_partitions(old, old)
        assert created == [f"funding_rates_p{old:%Y%m%d}", f"opportunities_p{old:%Y%m%d}"]
        assert _where(db_url, "OLD") == [(f"funding_rates_p{old:%Y%m%d}", old)]   # moved out of DEFAULT
        assert storage.ensure_partitions(old, old) == []
    finally:
        storage.close()


def test_maintenance_creates_ahead_and_drops_expired(db_url: str) -> None:
    storage = PgStorage(db_url)
    today = _today()
    try:
        expired_day = today - timedelta(days=40)
        kept_day = today - timedelta(days=10)
        storage.ensure_partitions(expired_day, expired_day)
        storage.ensure_partitions(kept_day, kept_day)
        storage.ingest([_snap("AAA", expired_day + timedelta(hours=1), "0.0001"),
                        _snap("AAA", expired_day + timedelta(hours=2), "0.0002"),
                        _snap("AAA", today - timedelta(days=50), "0.0003"),     # lands in DEFAULT
                        _snap("AAA", kept_day + timedelta(hours=3), "0.0004"),
                        _snap("AAA", today + timedelta(hours=1), "0.0005")])
        result = storage.maintain(ahead_days=10, retention_days=30)
        assert result["backend"] == "partitions"
        assert set(result["created"]) == (_day_names("funding_rates", today + timedelta(days=8), 3)
                                          | _day_names("opportunities", today + timedelta(days=8), 3)
                                          | _day_names("settlements", today + timedelta(days=8), 3))
        # settlements are kept 400 days whatever the retention (backtests read them): none dropped at 40 days
        assert result["dropped"] == [f"funding_rates_p{expired_day:%Y%m%d}", f"opportunities_p{expired_day:%Y%m%d}"]
        assert result["purged"] == ["funding_rates_default (1 rows)"]
        assert f"funding_rates_p{expired_day:%Y%m%d}" not in _tables(db_url, "funding_rates%")
        assert [t for _, t in _where(db_url, "AAA")] == [kept_day + timedelta(hours=3), today + timedelta(hours=1)]
        again = storage.maintain(ahead_days=10, retention_days=30)
        assert again["created"] == again["dropped"] == again["purged"] == []
    finally:
        storage.close()


def test_maintain_cli(monkeypatch: pytest.MonkeyPatch, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib import cli
    from chalicelib.settings import reset_settings_cache

    monkeypatch.setenv("DATABASE_URL", db_url)
    reset_settings_cache()
    try:
        assert cli.main(["maintain", "--ahead-days", "9", "--retention-days", "30"]) == 0
    finally:
        reset_settings_cache()
    out = capsys.readouterr().out
    assert f"funding_rates_p{_today() + timedelta(days=9):%Y%m%d}" in out


def test_0015_points_the_untouched_edgex_row_at_v2(empty_db_url: str, tmp_path: Path) -> None:
    sql_dir = _migrations_before(tmp_path, "0015")
    migrate(empty_db_url, sql_dir)
    with psycopg.connect(empty_db_url) as conn:
        conn.execute("UPDATE dexes SET api_base_url = 'https://my-proxy.example/edgex' WHERE name = 'grvt'")
        (before,) = conn.execute("SELECT api_base_url FROM dexes WHERE name = 'edgex'").fetchone()
    assert before == "https://pro.edgex.exchange"                     # the 0003 seed: V1, deprecated
    shutil.copy(SQL_DIR / "0015_edgex_v2_url.sql", sql_dir)
    assert migrate(empty_db_url, sql_dir) == ["0015_edgex_v2_url.sql"]
    with psycopg.connect(empty_db_url) as conn:
        urls = dict(conn.execute("SELECT name, api_base_url FROM dexes").fetchall())
    assert urls["edgex"] == "https://edgex-prod-v2.edgex.exchange/api/v2"
    assert urls["grvt"] == "https://my-proxy.example/edgex"           # other rows untouched


def test_0015_keeps_an_operator_edgex_url(empty_db_url: str, tmp_path: Path) -> None:
    sql_dir = _migrations_before(tmp_path, "0015")
    migrate(empty_db_url, sql_dir)
    with psycopg.connect(empty_db_url) as conn:
        conn.execute("UPDATE dexes SET api_base_url = 'https://my-proxy.example/edgex' WHERE name = 'edgex'")
    shutil.copy(SQL_DIR / "0015_edgex_v2_url.sql", sql_dir)
    migrate(empty_db_url, sql_dir)
    with psycopg.connect(empty_db_url) as conn:
        (url,) = conn.execute("SELECT api_base_url FROM dexes WHERE name = 'edgex'").fetchone()
    assert url == "https://my-proxy.example/edgex"
