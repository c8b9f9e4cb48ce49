"""Service settings: parsed from the environment once, validated, frozen.

Names follow SPEC.md "Configuration". A wrong value fails fast with a message that
names the variable and what it expects (SettingsError), never with a traceback deep
inside a handler.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

# Mainnet hosts, DEX_APIS.md "Base URLs". The documented paths are appended verbatim
# (e.g. PARADEX path "/v1/markets"), so the Paradex base carries no "/v1".
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_ENVIRONMENTS = ("development", "test", "staging", "production")


class SettingsError(ValueError):
    """A configuration variable is missing or malformed; the message names it."""


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r}: expected a boolean (true/false, 1/0, yes/no, on/off)")


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected an integer") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and <= {maximum}" if maximum is not None else ""
        raise SettingsError(f"{name}={raw!r}: expected an integer >= {minimum}{upper}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a number") from None
    if value != value or value < minimum:  # NaN or below the minimum
        raise SettingsError(f"{name}={raw!r}: expected a number >= {minimum}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...], *, upper: bool = False) -> str:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().upper() if upper else raw.strip().lower()
    if value not in choices:
        raise SettingsError(f"{name}={raw!r}: expected one of {', '.join(choices)}")
    return value


def _url(env: Mapping[str, str], name: str, default: str | None, schemes: tuple[str, ...]) -> str | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip()
    if not any(value.startswith(s + "://") for s in schemes):
        raise SettingsError(f"{name}={raw!r}: expected a URL starting with {' or '.join(s + '://' for s in schemes)}")
    return value.rstrip("/") if schemes[0].startswith("http") else value


def _csv(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name) or ""
    return tuple(part.strip().lower() for part in raw.split(",") if part.strip())


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service reads from its environment."""

    database_url: str | None = None
    redis_url: str | None = None
    use_redis: bool = True
    log_level: str = "INFO"
    environment: str = "development"
    api_urls: Mapping[str, str] = field(default_factory=dict)  # <DEX>_API_URL as set; api_url() has the defaults
    enabled_dexes: tuple[str, ...] = ()  # empty = every registered venue
    collection_interval_seconds: int = 60
    collection_timeout_seconds: float = 30.0
    max_concurrent_collections: int = 10
    cache_ttl_seconds: int = 60
    history_retention_days: int = 90
    admin_api_key: str | None = None  # locally from ADMIN_API_KEY; on AWS from SSM (ADMIN_API_KEY_SSM_PARAM)
    admin_api_key_ssm_param: str | None = None
    ws_management_url: str | None = None  # https://{api-id}.execute-api.{region}.amazonaws.com/{stage} or local
    analysis_function_name: str | None = None  # set on AWS: collectors invoke it asynchronously
    circuit_failure_threshold: int = 3
    circuit_reset_seconds: int = 60

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        # every <DEX>_API_URL set (a venue added later reads its own); a venue's default base URL is its
        # module's SPEC.default_base_url (api_url), the one place it is written
        api_urls = {key[: -len("_API_URL")].lower(): _url(env, key, None, ("https", "http")) or value
                    for key, value in env.items() if key.endswith("_API_URL") and value}
        return cls(
            database_url=_url(env, "DATABASE_URL", None, ("postgresql", "postgres")),
            redis_url=_url(env, "REDIS_URL", None, ("redis", "rediss", "unix")),
            use_redis=_bool(env, "USE_REDIS", True),
            log_level=_choice(env, "LOG_LEVEL", "INFO", _LOG_LEVELS, upper=True),
            environment=_choice(env, "ENVIRONMENT", "development", _ENVIRONMENTS),
            api_urls=api_urls,
            enabled_dexes=_csv(env, "ENABLED_DEXES"),
            collection_interval_seconds=_int(env, "COLLECTION_INTERVAL_SECONDS", 60, minimum=1, maximum=86400),
            collection_timeout_seconds=_float(env, "COLLECTION_TIMEOUT_SECONDS", 30.0, minimum=0.1),
            max_concurrent_collections=_int(env, "MAX_CONCURRENT_COLLECTIONS", 10, minimum=1, maximum=256),
            cache_ttl_seconds=_int(env, "CACHE_TTL_SECONDS", 60, minimum=0, maximum=86400),
            history_retention_days=_int(env, "HISTORY_RETENTION_DAYS", 90, minimum=1, maximum=3650),
            admin_api_key=(env.get("ADMIN_API_KEY") or None),
            admin_api_key_ssm_param=(env.get("ADMIN_API_KEY_SSM_PARAM") or None),
            ws_management_url=_url(env, "WS_MANAGEMENT_URL", None, ("https", "http")),
            analysis_function_name=(env.get("ANALYSIS_FUNCTION_NAME") or None),
            circuit_failure_threshold=_int(env, "CIRCUIT_FAILURE_THRESHOLD", 3, minimum=1, maximum=100),
            circuit_reset_seconds=_int(env, "CIRCUIT_RESET_SECONDS", 60, minimum=1, maximum=86400),
        )

    @property
    def redis_enabled(self) -> bool:
        return self.use_redis and bool(self.redis_url)

    def api_url(self, dex: str) -> str:
        try:
            return self.api_urls[dex]
        except KeyError:
            pass
        from chalicelib.venues import BY_ID  # a venue module's own default: no edit here per new venue

        if dex in BY_ID:
            return BY_ID[dex].SPEC.default_base_url
        raise SettingsError(f"{dex.upper()}_API_URL is not set and {dex!r} has no default")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process (cached: parsed once per Lambda container)."""
    return Settings.from_env()


def reset_settings_cache() -> None:
    """Tests and the local stack change the environment; forget the parsed copy."""
    get_settings.cache_clear()
