from __future__ import annotations

from django.test import Client as HttpClient, override_settings


def test_healthz_reports_every_part_ok(book) -> None:
    r = HttpClient().get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "broker": "ok", "channel_layer": "ok", "market": "ok"}


@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_healthz_names_a_stopped_broker_with_503(book) -> None:
    r = HttpClient().get("/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["broker"].startswith("down")
    assert "broker" in body["status"]
    assert body["database"] == "ok"


def test_healthz_says_when_there_is_no_market(db) -> None:
    r = HttpClient().get("/healthz")
    assert r.status_code == 503
    assert r.json()["market"] == "no market data"
