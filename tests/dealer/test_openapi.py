"""The OpenAPI schema at /api/schema/ describes what the API really answers, and /api/docs/ needs no CDN.

Real responses are checked against the served schema with jsonschema: the OpenAPI 3.0 dialect is
turned into JSON Schema (`nullable` -> a null alternative) and every object that lists its
properties is closed (`additionalProperties: false`), so that a key the schema does not name fails
as surely as a missing required one.
"""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from django.core.management import call_command
from django.test import Client as HttpClient
from django.test.utils import override_settings
from django.utils import timezone
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from tests.desk.helpers import api_for_token, external_assets, rfq_body

# Every list endpoint: the paged ones (limit/offset), and those answering the whole list in the
# same envelope.
PAGED = {"/api/rfqs/", "/api/instruments/", "/api/trades/", "/api/clients/"}
ONE_PAGE = {"/api/desk/rfqs/", "/api/positions/", "/api/desk/axes/", "/api/desk/switches/", "/api/desk/axe-offers/"}
ENVELOPE = {"count", "next", "previous", "results"}

_DROP = {"nullable", "example", "readOnly", "writeOnly", "discriminator", "description"}


def _json_schema(node: Any, components: dict[str, Any]) -> Any:
    """An OpenAPI 3.0 schema as a closed JSON Schema, with its `$ref`s inlined."""
    if isinstance(node, list):
        return [_json_schema(n, components) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _json_schema(components[node["$ref"].rsplit("/", 1)[1]], components)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "properties":
            out[key] = {name: _json_schema(s, components) for name, s in value.items()}
        elif key in ("items", "additionalProperties", "oneOf", "anyOf", "allOf", "not"):
            out[key] = _json_schema(value, components)
        else:
            out[key] = value
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


class Schema:
    def __init__(self, doc: dict[str, Any]):
        self.doc = doc
        self.components = doc["components"]["schemas"]

    def response(self, path: str, method: str, status: int, media: str = "application/json") -> dict[str, Any]:
        responses = self.doc["paths"][path][method]["responses"]
        assert str(status) in responses, f"{method.upper()} {path} does not declare {status}: {sorted(responses)}"
        return responses[str(status)]["content"][media]["schema"]

    def resolved(self, path: str, method: str, status: int) -> dict[str, Any]:
        schema = self.response(path, method, status)
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def check(self, path: str, method: str, response: Any) -> Any:
        """The response's body validates against the schema declared for its status code."""
        body = response.json()
        schema = _json_schema(self.response(path, method, response.status_code), self.components)
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(body), key=lambda e: list(e.path))
        assert not errors, f"{method.upper()} {path} -> {response.status_code}: " + "; ".join(
            f"{'/'.join(map(str, e.path)) or '(body)'}: {e.message}" for e in errors[:5])
        return body


@pytest.fixture
def schema(db: Any) -> Schema:
    r = HttpClient().get("/api/schema/?format=json")
    assert r.status_code == 200, r.content
    return Schema(r.json())


@pytest.fixture
def traded(book: Any) -> Any:
    """The demo book with a short history: RFQs with their quotes, trades, positions and scores."""
    from dealer.seeding import seed_demo

    seed_demo(seed=7, n_clients=12, n_trades=200)  # idempotent: adds the history the book lacks
    return book


def _person(book: Any, username: str) -> APIClient:
    return api_for_token(book.token(username))


def _pending_tier1_and_quoted_tier3(book: Any) -> tuple[int, int]:
    """A Tier 1 RFQ waiting for review with its recommendation, and a quoted Tier 3 RFQ (written
    directly: no worker), so that the desk's representation carries every part it can have."""
    from dealer.desk.models import Quote, Rfq
    from dealer.market.models import Instrument

    now = timezone.now()
    comps = dict.fromkeys(Quote.COMPONENTS, 0.0) | {"base": 4.0, "skew": 3.0, "agreement": -2.0}
    inst = Instrument.objects.get(isin=book.isin("ig_corp", 1))
    pending = Rfq.objects.create(client=book.client("CLT0001"), client_rfq_id="oa-p1", instrument=inst, side="buy",
                                 quantity=Decimal(20000000), status="pending_review", tier=1, received_at=now,
                                 priced_at=now, review_deadline=now + timedelta(seconds=120))
    rec = Quote.objects.create(rfq=pending, status="recommended", source="recommendation", price=Decimal("100.12"),
                               quantity=pending.quantity, mid=Decimal(100), mid_se=0.01, components=comps,
                               half_spread_bp=9.0, ci_low=Decimal("100.1"), ci_high=Decimal("100.14"), impact_bp=2.0,
                               win_probability=0.3, expected_pnl=1000.0, created_at=now)
    pending.recommendation = rec
    pending.save(update_fields=["recommendation"])
    quoted = Rfq.objects.create(client=book.client("CLT0007"), client_rfq_id="oa-q1", instrument=inst, side="sell",
                                quantity=Decimal(500000), status="quoted", tier=3, received_at=now, priced_at=now)
    quote = Quote.objects.create(rfq=quoted, status="active", source="auto", price=Decimal("99.95"),
                                 quantity=quoted.quantity, mid=Decimal(100), mid_se=0.01, components=comps,
                                 half_spread_bp=5.0, valid_until=now + timedelta(seconds=30), created_at=now)
    quoted.quote = quote
    quoted.save(update_fields=["quote"])
    return pending.id, quoted.id


def test_every_list_endpoint_declares_the_envelope_it_answers(schema: Schema) -> None:
    lists = {}
    for path, ops in schema.doc["paths"].items():
        get = ops.get("get")
        if get is None:
            continue
        body = get["responses"]["200"].get("content", {}).get("application/json", {}).get("schema", {})
        assert body.get("type") != "array", f"GET {path} declares a bare array"
        resolved = schema.resolved(path, "get", 200) if body else {}
        if resolved.get("properties", {}).get("results", {}).get("type") == "array":
            lists[path] = set(resolved["properties"])
    assert set(lists) >= PAGED | ONE_PAGE
    for path in PAGED | ONE_PAGE:
        assert lists[path] == ENVELOPE, path
    params = {p: {x["name"] for x in schema.doc["paths"][p]["get"].get("parameters", [])} for p in PAGED | ONE_PAGE}
    for path in PAGED:
        assert {"limit", "offset"} <= params[path], path
    for path in ONE_PAGE:  # they answer the whole list: no paging parameter to promise
        assert not {"limit", "offset"} & params[path], path


def test_every_list_endpoint_answers_what_the_schema_says(traded: Any, schema: Schema) -> None:
    from dealer.desk.models import Rfq

    pending_id, quoted_id = _pending_tier1_and_quoted_tier3(traded)
    trader, senior, mgmt, rm1 = (_person(traded, u) for u in ("trader1", "senior1", "mgmt1", "rm1"))
    code = Rfq.objects.filter(client__code__in=[f"CLT{i:04d}" for i in range(1, 11)], status="booked").values_list(
        "client__code", flat=True).order_by("client__code").first()
    client = api_for_token(traded.token(code))
    isin = traded.isin("ig_corp", 0)

    # Give the lists that start empty something to show, checking the answers of these writes too.
    posted = {
        ("/api/clients/{code}/agreements/", 201): rm1.post("/api/clients/CLT0001/agreements/", {
            "scope": "instrument", "value": isin, "spread_adjustment_bp": -2, "start": "2024-01-01",
            "end": "2030-12-31"}, format="json"),
        ("/api/clients/{code}/interests/", 201): rm1.post("/api/clients/CLT0001/interests/", {
            "scope": "instrument", "value": isin, "side": "buy"}, format="json"),
        ("/api/desk/axes/", 201): trader.post("/api/desk/axes/", {"isin": isin, "side": "sell", "quantity": "1000000",
                                                                  "note": "oa"}, format="json"),
        ("/api/desk/switches/", 200): senior.post("/api/desk/switches/", {"name": "kill", "scope": "hy_corp", "on": False,
                                                                         "reason": "oa"}, format="json"),
        ("/api/rfqs/", 202): client.post("/api/rfqs/", rfq_body(isin, "oa-1"), format="json"),
    }
    for (path, status), r in posted.items():
        assert r.status_code == status, (path, r.content)
        schema.check(path, "post", r)

    gets = {
        "/api/rfqs/": client, "/api/instruments/": client, "/api/trades/": trader, "/api/clients/": mgmt,
        "/api/desk/rfqs/": trader, "/api/positions/": trader, "/api/desk/axes/": trader,
        "/api/desk/switches/": senior, "/api/desk/axe-offers/": trader,
    }
    assert set(gets) == PAGED | ONE_PAGE
    for path, api in gets.items():
        r = api.get(path)
        assert r.status_code == 200, (path, r.content)
        body = schema.check(path, "get", r)
        assert set(body) == set(schema.resolved(path, "get", 200)["properties"]), path
        assert body["results"], f"{path}: nothing to check the items against"
        assert body["count"] >= len(body["results"]), path

    # The paged ones really page: a second page of one, with its links.
    for path, api in (("/api/rfqs/", client), ("/api/trades/", trader), ("/api/instruments/", client),
                      ("/api/clients/", mgmt)):
        r = api.get(path, {"limit": 1, "offset": 1})
        body = schema.check(path, "get", r)
        assert len(body["results"]) == 1 and body["next"] and body["previous"], path

    # Every part of the desk's representation, a Tier 1 recommendation and quote components included.
    desk = {row["id"]: row for row in trader.get("/api/desk/rfqs/").json()["results"]}
    assert desk[pending_id]["recommendation"]["components"]["agreement"] == -2.0
    assert desk[quoted_id]["quote"]["components"]["base"] == 4.0
    for rfq_id in (pending_id, quoted_id):
        schema.check("/api/desk/rfqs/{rfq_id}/", "get", trader.get(f"/api/desk/rfqs/{rfq_id}/"))
    schema.check("/api/clients/{code}/", "get", mgmt.get("/api/clients/CLT0001/"))
    first = client.get("/api/rfqs/").json()["results"][0]
    schema.check("/api/rfqs/{rfq_id}/", "get", client.get(f"/api/rfqs/{first['id']}/"))
    for fmt in ("client", "tier"):
        schema.check("/api/reports/profitability/", "get", mgmt.get("/api/reports/profitability/", {"group_by": fmt}))


def test_errors_answer_the_shape_the_schema_gives_their_status(book: Any, schema: Schema) -> None:
    client = api_for_token(book.token("CLT0007"))
    anonymous = APIClient()
    isin = book.isin()
    first = client.post("/api/rfqs/", rfq_body(isin, "e1"), format="json")
    assert first.status_code == 202
    cases = [
        # (path in the schema, method, the call, status, the shape)
        ("/api/rfqs/", "get", lambda: anonymous.get("/api/rfqs/"), 401, "detail"),
        ("/api/trades/", "get", lambda: client.get("/api/trades/"), 403, "detail"),
        ("/api/positions/", "get", lambda: _person(book, "rm1").get("/api/positions/"), 403, "detail"),
        ("/api/rfqs/{rfq_id}/", "get", lambda: client.get("/api/rfqs/999999/"), 404, "detail"),
        ("/api/clients/{code}/", "get", lambda: _person(book, "rm1").get("/api/clients/CLT0006/"), 404, "detail"),
        ("/api/rfqs/", "get", lambda: client.get("/api/rfqs/", {"status": "nonsense"}), 400, "errors"),
        ("/api/rfqs/", "post", lambda: client.post("/api/rfqs/", {**rfq_body(isin, "e2"), "side": "hold"},
                                                   format="json"), 400, "errors"),
        ("/api/rfqs/", "post", lambda: client.post("/api/rfqs/", "{not json", content_type="application/json"),
         400, "detail"),
        ("/api/rfqs/", "post", lambda: client.post("/api/rfqs/", rfq_body(isin, "e1", quantity="600000"),
                                                   format="json"), 409, "detail"),
        ("/api/rfqs/", "post", lambda: client.post("/api/rfqs/", {"pad": "x" * 70_000}, format="json"), 413, "detail"),
        ("/api/rfqs/", "post", lambda: client.post("/api/rfqs/", "isin=x", content_type="text/plain"), 415, "detail"),
        ("/api/rfqs/{rfq_id}/reject/", "post", lambda: client.post(f"/api/rfqs/{first.json()['id']}/reject/"),
         409, "detail"),
        ("/api/desk/switches/", "post", lambda: _person(book, "trader1").post(
            "/api/desk/switches/", {"name": "kill", "scope": "desk", "on": True}, format="json"), 403, "detail"),
        ("/api/clients/{code}/agreements/", "post", lambda: _person(book, "rm1").post(
            "/api/clients/CLT0001/agreements/", {"scope": "all", "spread_adjustment_bp": 1, "start": "2024-01-01",
                                                 "end": "2023-01-01"}, format="json"), 400, "errors"),
    ]
    for path, method, call, status, shape in cases:
        r = call()
        assert r.status_code == status, (path, method, status, r.content)
        body = schema.check(path, method, r)
        assert set(body) == {shape}, (path, status, body)


def test_error_responses_are_declared_with_the_contract_shapes(schema: Schema) -> None:
    detail = "#/components/schemas/Detail"
    assert schema.components["BadRequest"]["oneOf"] == [{"$ref": "#/components/schemas/FieldErrors"},
                                                        {"$ref": detail}]
    assert schema.components["FieldErrors"]["required"] == ["errors"]
    assert schema.components["Detail"]["required"] == ["detail"]
    for path, ops in schema.doc["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert "401" in codes, f"{method.upper()} {path}: every API call needs credentials"
            if method in ("post", "patch"):
                assert "413" in codes, f"{method.upper()} {path}: bodies over 64 KB are refused"
            for code in codes - {"200", "201", "202"}:
                for media in op["responses"][code]["content"].values():
                    want = "#/components/schemas/BadRequest" if code == "400" else detail
                    assert media["schema"] == {"$ref": want}, (method, path, code)


def test_the_docs_page_loads_swagger_ui_from_our_own_static_files(db: Any) -> None:
    http = HttpClient()  # the docs are public, as the schema is
    r = http.get("/api/docs/")
    assert r.status_code == 200
    html = r.content.decode()
    assert external_assets(html) == []
    assert '"validatorUrl": null' in html  # no call to an online validator either
    assets = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets), assets
    for url in assets:
        assert url.startswith("/static/"), url
        asset = http.get(url)
        assert asset.status_code == 200, url
        assert b"".join(asset.streaming_content) if asset.streaming else asset.content
    js = next(a for a in assets if a.endswith("swagger-ui-bundle.js"))
    assert "javascript" in http.get(js)["Content-Type"]


def test_collectstatic_gives_the_docs_page_its_assets_in_production(db: Any, tmp_path: Any) -> None:
    """The production path: the hashed manifest that `rundesk` collects, served by WhiteNoise from
    STATIC_ROOT alone (no finders), with DEBUG off."""
    from django.conf import settings

    storages = {**settings.STORAGES,
                "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}
    with override_settings(DEBUG=False, STATIC_ROOT=tmp_path, STORAGES=storages, WHITENOISE_USE_FINDERS=False,
                           WHITENOISE_AUTOREFRESH=False):
        call_command("collectstatic", interactive=False, verbosity=0)
        assert (tmp_path / "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js").exists()
        http = HttpClient()
        r = http.get("/api/docs/", secure=True)
        assert r.status_code == 200
        html = r.content.decode()
        assert external_assets(html) == []
        assets = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']', html)
        js = [a for a in assets if re.search(r"/swagger-ui-bundle\.[0-9a-f]{12}\.js$", a)]
        assert js and all(a.startswith("/static/") for a in assets), assets
        for url in assets:
            assert http.get(url, secure=True).status_code == 200, url


def test_the_schema_validates_without_a_warning(db: Any, tmp_path: Any) -> None:
    GENERATOR_STATS.reset()  # warnings of earlier schema builds in this process are not this one's
    call_command("spectacular", validate=True, fail_on_warn=True, file=str(tmp_path / "schema.yaml"))
    validate_schema(HttpClient().get("/api/schema/?format=json").json())
