"""api/fastlane.py: a repeat request is answered from the rendered entry it was answered from, byte for byte
what the full path renders, until that entry (or its parent) goes; errors are never remembered."""

from __future__ import annotations

import time

import pytest

from chalicelib.api import fastlane
from chalicelib.api.cache import CACHE
from chalicelib.api.errors import ApiError
from chalicelib.api.rates import with_meta

UPDATED_MS = 1_700_000_000_000   # 2023-11-14T22:13:20Z


@pytest.fixture
def parent(monkeypatch):
    CACHE.clear()
    fastlane.clear()
    monkeypatch.setattr(time, "time", lambda: 1_700_000_005.0)   # 5 s after the data was produced
    yield CACHE.fetch("fastlane-test", ttl=60, kv=None, read_redis=lambda kv: None,
                      load_db=lambda: ("snapshot", UPDATED_MS, 10))
    CACHE.clear()
    fastlane.clear()


def full_path(parent, key: str, text: str):
    return lambda: with_meta(CACHE.derived(key, parent, lambda: (text, len(text)), 60))


def test_repeat_request_is_the_full_paths_bytes_with_the_tail_counted_once(parent) -> None:
    request = ("get_x", (), ())
    assert fastlane.answer(request) is None                      # never seen
    first = fastlane.remember(request, full_path(parent, "x:view", '{"a":1,"b":[2]}'))
    # the entry was built from the database load: source database, 5.0 s old
    assert first == '{"source":"database","updated_at":"2023-11-14T22:13:20Z","data_age_seconds":5.0,"a":1,"b":[2]}'
    before = CACHE.size_bytes
    second = fastlane.answer(request)
    assert second == '{"source":"memory","updated_at":"2023-11-14T22:13:20Z","data_age_seconds":5.0,"a":1,"b":[2]}'
    assert second == with_meta(CACHE.peek("x:view"))              # what the full path renders from memory now
    assert CACHE.size_bytes == before + len('"a":1,"b":[2]}')     # the tail, 14 characters, counted in the entry
    assert fastlane.answer(request) == second
    assert CACHE.size_bytes == before + 14                        # made once, not per request


def test_an_empty_object_keeps_its_braces(parent) -> None:
    request = ("get_empty", (), ())
    fastlane.remember(request, full_path(parent, "x:empty", "{}"))
    assert fastlane.answer(request) == '{"source":"memory","updated_at":"2023-11-14T22:13:20Z","data_age_seconds":5.0}'


def test_the_answer_goes_with_its_parent(parent) -> None:
    request = ("get_x", (("dex", "a"),), ())
    fastlane.remember(request, full_path(parent, "x:view", '{"a":1}'))
    assert fastlane.answer(request) is not None
    CACHE.invalidate("fastlane-test")                             # the snapshot entry changes
    assert fastlane.answer(request) is None
    assert request not in fastlane._memo                          # forgotten: the next one takes the full path


def test_errors_are_never_remembered(parent) -> None:
    request = ("get_x", (), (("limit", ("0",)),))

    def failing() -> str:
        with_meta(CACHE.derived("x:view", parent, lambda: ('{"a":1}', 7), 60))
        raise ApiError(400, "limit too small", "limit")

    with pytest.raises(ApiError):
        fastlane.remember(request, failing)
    assert fastlane.answer(request) is None
