"""Bad reference data is refused with a message naming the field (model validation and admin)."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from crm.models import Tier, TierLimit
from dealer.market.models import AssetClass, Instrument


def _instrument(**over) -> Instrument:
    ac = AssetClass.objects.get(code="ig_corp")
    fields = dict(isin="US0378331005", description="Test 4% 2031", asset_class=ac, coupon=Decimal("4"),
                  maturity=date.today() + timedelta(days=900), adv=Decimal("1000000"), sim_index=9999)
    fields.update(over)
    return Instrument(**fields)


def test_a_valid_instrument_passes(book) -> None:
    _instrument().full_clean()


@pytest.mark.parametrize("field,value", [("isin", "US0378331006"), ("coupon", Decimal("-1")),
                                         ("maturity", date.today() - timedelta(days=1))])
def test_bad_instrument_fields_are_named(book, field: str, value) -> None:
    with pytest.raises(ValidationError) as err:
        _instrument(**{field: value}).full_clean()
    assert field in err.value.message_dict


def test_database_refuses_a_negative_coupon(book) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        _instrument(coupon=Decimal("-0.5")).save()


def test_tier_limit_auto_size_cannot_exceed_max_size(book) -> None:
    limit = TierLimit(tier=Tier.objects.get(number=2), asset_class=AssetClass.objects.get(code="govt"),
                      base_spread_bp=1.0, auto_size=Decimal("5000000"), max_size=Decimal("1000000"))
    with pytest.raises(ValidationError) as err:
        limit.full_clean(validate_unique=False)
    assert "auto_size" in err.value.message_dict


def test_admin_form_names_the_bad_isin(book) -> None:
    from django.test import Client as HttpClient

    http = HttpClient()
    http.login(username="admin", password="demo")
    ac = AssetClass.objects.get(code="ig_corp")
    r = http.post("/admin/market/instrument/add/", {
        "isin": "XX1234567890", "description": "Bad", "asset_class": ac.id, "coupon": "-1", "currency": "USD",
        "liquidity_bucket": 3, "adv": "1000", "duration": 1, "sim_index": 9998, "maturity": "2001-01-01",
    })
    assert r.status_code == 200
    errors = r.context["adminform"].form.errors
    assert {"isin", "coupon", "maturity"} <= set(errors)
    assert not Instrument.objects.filter(sim_index=9998).exists()


def test_the_database_refuses_a_duplicate_client_rfq_id(book) -> None:
    from django.utils import timezone

    from crm.models import Client
    from dealer.desk.models import Rfq

    client = Client.objects.get(code="CLT0007")
    inst = Instrument.objects.filter(rfq_enabled=True).first()
    fields = dict(client=client, client_rfq_id="dup", instrument=inst, side="buy", quantity=Decimal("1000"), tier=3,
                  received_at=timezone.now())
    Rfq.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Rfq.objects.create(**fields)
    assert Rfq.objects.filter(client_rfq_id="dup").count() == 1


def test_admin_refuses_a_tier_without_parameters(book) -> None:
    from django.test import Client as HttpClient

    http = HttpClient()
    http.login(username="admin", password="demo")
    r = http.post("/admin/crm/tier/add/", {
        "number": 3, "name": "Bare", "quote_ttl_seconds": 10, "review_deadline_seconds": 60, "decision_band_bp": 1,
        "agreement_min_bp": -1, "agreement_max_bp": 1,
        "limits-TOTAL_FORMS": 0, "limits-INITIAL_FORMS": 0, "limits-MIN_NUM_FORMS": 0, "limits-MAX_NUM_FORMS": 1000,
    })
    assert r.status_code == 200
    assert "has no parameters for govt, hy_corp, ig_corp" in r.content.decode()
