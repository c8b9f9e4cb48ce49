"""The admin key: from settings locally, from SSM on AWS (read once per container, lazily)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from chalicelib import wiring
from chalicelib.api.errors import ApiError
from chalicelib.api.system import check_admin
from chalicelib.settings import Settings


@pytest.fixture(autouse=True)
def _reset():
    wiring.reset()
    yield
    wiring.reset()


def status_of(headers) -> int:
    try:
        check_admin(headers)
    except ApiError as err:
        assert set(err.body()) == {"error", "detail", "parameter"}
        return err.status
    return 200


def test_local_key() -> None:
    wiring.override(settings=Settings.from_env({"ADMIN_API_KEY": "local-secret"}))
    assert status_of({}) == 401
    assert status_of({"x-api-key": "nope"}) == 403
    assert status_of({"x-api-key": "local-secret"}) == 200


def test_no_key_configured_is_admin_off_not_a_wrong_key() -> None:
    wiring.override(settings=Settings.from_env({}))
    assert status_of({"x-api-key": "anything"}) == 503     # no key could be right: say admin is off
    assert status_of({}) == 503
    try:
        check_admin({"x-api-key": "anything"})
    except ApiError as err:
        assert err.body()["error"] == "admin_disabled" and "ADMIN_API_KEY" in err.body()["detail"]


def test_ssm_key_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        ssm = boto3.client("ssm")
        ssm.put_parameter(Name="/frs/admin-key", Value="from-ssm", Type="SecureString")
        wiring.override(settings=Settings.from_env({"ADMIN_API_KEY_SSM_PARAM": "/frs/admin-key"}))
        assert status_of({"x-api-key": "from-ssm"}) == 200
        ssm.put_parameter(Name="/frs/admin-key", Value="rotated", Type="SecureString", Overwrite=True)
        assert status_of({"x-api-key": "from-ssm"}) == 200       # cached for the container's life
        assert status_of({"x-api-key": "rotated"}) == 403
