"""Settings: parsed once from the environment; a wrong value names the variable and what it expects."""

from __future__ import annotations

import pytest

from chalicelib.settings import Settings, SettingsError


def test_defaults_without_environment() -> None:
    s = Settings.from_env({})
    assert s.database_url is None
    assert s.redis_enabled is False
    assert s.collection_interval_seconds == 60
    assert s.collection_timeout_seconds == 30.0
    assert s.cache_ttl_seconds == 60
    assert s.log_level == "INFO"
    assert s.api_url("paradex") == "https://api.prod.paradex.trade"
    assert dict(s.api_urls) == {}   # no <DEX>_API_URL set: each venue's module default (test_contract)
    assert s.api_url("edgex") == "https://edgex-prod-v2.edgex.exchange/api/v2"   # V2: the version is in the base


def test_spec_names_are_read() -> None:
    s = Settings.from_env({
        "DATABASE_URL": "postgresql://u@127.0.0.1:5432/frs",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "USE_REDIS": "false",
        "LOG_LEVEL": "debug",
        "COLLECTION_INTERVAL_SECONDS": "15",
        "COLLECTION_TIMEOUT_SECONDS": "2.5",
        "CACHE_TTL_SECONDS": "5",
        "PARADEX_API_URL": "http://127.0.0.1:9000/paradex/",
    })
    assert s.database_url == "postgresql://u@127.0.0.1:5432/frs"
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.use_redis is False and s.redis_enabled is False
    assert s.log_level == "DEBUG"
    assert s.collection_interval_seconds == 15
    assert s.collection_timeout_seconds == 2.5
    assert s.cache_ttl_seconds == 5
    # trailing slash removed so the documented path is appended verbatim
    assert s.api_url("paradex") == "http://127.0.0.1:9000/paradex"


def test_a_future_dex_url_is_kept() -> None:
    s = Settings.from_env({"VERTEX_API_URL": "https://api.vertex.example"})
    assert s.api_url("vertex") == "https://api.vertex.example"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("COLLECTION_INTERVAL_SECONDS", "abc", "expected an integer"),
        ("COLLECTION_INTERVAL_SECONDS", "0", "expected an integer >= 1"),
        ("COLLECTION_TIMEOUT_SECONDS", "nan", "expected a number >= 0.1"),
        ("USE_REDIS", "maybe", "expected a boolean"),
        ("LOG_LEVEL", "loud", "expected one of DEBUG"),
        ("DATABASE_URL", "mysql://x", "expected a URL starting with postgresql://"),
        ("REDIS_URL", "localhost:6379", "expected a URL starting with redis://"),
        ("GRVT_API_URL", "market-data.grvt.io", "expected a URL starting with https://"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as err:
        Settings.from_env({name: value})
    message = str(err.value)
    assert message.startswith(f"{name}=")
    assert expected in message


def test_unknown_dex_url_is_a_named_error() -> None:
    with pytest.raises(SettingsError, match="NOPE_API_URL"):
        Settings.from_env({}).api_url("nope")
