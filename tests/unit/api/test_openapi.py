"""The generated OpenAPI 3.1 document and the offline docs page."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from chalicelib.api.docs import page
from chalicelib.api.openapi import document
from chalicelib.api.routes import DOCUMENTED, ROUTES


def test_document_is_valid_openapi_31_and_what_is_served_is_documented() -> None:
    """The app's own routing table (what Chalice serves) against the document: every served API route
    is documented and nothing documented is missing from the app; only docs/document routes are extra."""
    from app import app

    doc = document()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    served = {(path, m.lower()) for path, methods in app.routes.items() for m in methods}
    documented = {(path, m) for path, ops in doc["paths"].items() for m in ops}
    assert documented <= served
    assert served - documented == {("/api/v1/openapi.json", "get"), ("/api/v1/asyncapi.json", "get"),
                                   ("/docs", "get"), ("/api/v1/docs", "get"),
                                   ("/", "get"), ("/dashboard", "get")}      # the HTML dashboard page
    assert len(DOCUMENTED) == 25 and len(ROUTES) == 29     # 16 + 6 webhook + 3 settlement routes; 4 docs undocumented


def test_parameters_carry_types_enums_and_bounds() -> None:
    ops = {(path, m): op for path, ops in document()["paths"].items() for m, op in ops.items()}
    params = {x["name"]: x for x in ops[("/api/v1/opportunities", "get")]["parameters"]}
    assert params["limit"]["schema"] == {"default": 10, "maximum": 100, "minimum": 1, "type": "integer"}
    assert "bogus" not in params["sort_by"]["schema"]["enum"]
    assert params["fee_type"]["schema"]["enum"] == ["maker", "taker"]
    assert params["include_dexes"]["schema"]["type"] == "array" and params["include_dexes"]["explode"] is False
    rates = {x["name"]: x for x in ops[("/api/v1/funding-rates", "get")]["parameters"]}
    assert rates["basis"]["schema"]["enum"] == ["native", "1h", "8h", "apr"]
    hist = ops[("/api/v1/history/funding-rates/{dex}/{symbol}", "get")]
    hp = {x["name"]: x for x in hist["parameters"]}
    assert hp["dex"]["in"] == "path" and hp["dex"]["required"] is True
    assert hp["page_size"]["schema"]["maximum"] == 1000
    assert hp["start_time"]["schema"]["format"] == "date-time"
    assert set(hist["responses"]) >= {"200", "400", "404"}


def test_freshness_and_error_schemas_are_documented() -> None:
    schemas = document()["components"]["schemas"]
    fresh = schemas["AllRates"]["properties"]
    assert fresh["source"]["enum"] == ["memory", "redis", "database"]
    assert {"updated_at", "data_age_seconds"} <= set(fresh)
    assert set(schemas["ErrorBody"]["properties"]) == {"error", "detail", "parameter"}
    admin = document()["paths"]["/api/v1/admin/dexes/{dex}/fees"]["put"]
    assert set(admin["responses"]) >= {"200", "401", "403", "404", "422"}
    assert admin["security"] == [{"ApiKey": []}]


def test_docs_page_is_self_contained() -> None:
    html = page()
    assert "<table>" in html and "/api/v1/opportunities/compare" in html and "function tryIt" in html
    external = re.findall(r"""(?:src|href)=['"]?(https?:)""", html)
    assert external == []
    assert "<script src" not in html and "<link" not in html
