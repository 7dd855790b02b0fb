"""Relationship scores: a small book by hand, history kept, settings validated and previewed."""
from __future__ import annotations

import pytest

from crm import services
from crm.models import Client, RelationshipScore, ScoringSettings, Tier
from dealer.errors import DeskError, Forbidden
from tests.crm.factories import small_book

pytestmark = pytest.mark.django_db


def _pct(avg_rank: float, n: int = 12) -> float:
    return 100.0 * (avg_rank - 1.0) / (n - 1)


def test_a_small_book_scores_as_computed_by_hand(book) -> None:
    small_book()
    result = services.scores_recompute()
    assert result.n_clients == 12
    # Trailing volumes: A 1e6 + 1e6 = 2e6, B 3e6, C 5e5 (its 400-day-old trade ignored), nine at 0.
    # P&L: A 300 + 200 (spread capture without a 1-day markout), B -100, C 50.
    # Toxicity (5 min), from the mid at booking: the markout from the trade price less the
    # half-spread the dealer captured. A: client buy at 100 over a 99.95 mid, 5 bp captured,
    # markout -1 -> the mid moved -6 bp against the dealer; client sell at 50 under a 50.01 mid,
    # 2 bp captured, markout +2 -> 0. A = -(1e6 * -6 + 1e6 * 0) / 2e6 = 3.0. B: 10 bp captured,
    # markout -3 -> -13, toxicity 13.0. C none -> 0, as the nine without trades.
    # Flow quality ranks -toxicity: B 1, A 2, the ten at 0 share 3..12 (7.5).
    # Diversification: A 2 classes, B and C 1, others 0.
    expect = {
        "CLT0001": (_pct(11), _pct(12), _pct(2), _pct(12)),
        "CLT0002": (_pct(12), _pct(1), _pct(1), _pct(10.5)),
        "CLT0003": (_pct(10), _pct(11), _pct(7.5), _pct(10.5)),
        "CLT0009": (_pct(5), _pct(6), _pct(7.5), _pct(5)),
    }
    for code, (v, p, q, d) in expect.items():
        c = Client.objects.select_related("latest_score").get(code=code)
        s = c.latest_score
        assert (s.volume, s.profitability, s.flow_quality, s.diversification) == pytest.approx((v, p, q, d))
        assert c.score == pytest.approx(0.25 * v + 0.35 * p + 0.30 * q + 0.10 * d)
    a = Client.objects.select_related("latest_score").get(code="CLT0001")
    assert a.latest_score.notional == pytest.approx(2e6) and a.latest_score.pnl == pytest.approx(500.0)
    assert a.latest_score.toxicity_bp == pytest.approx(3.0) and a.latest_score.n_asset_classes == 2
    assert Client.objects.select_related("latest_score").get(code="CLT0002").latest_score.toxicity_bp == \
        pytest.approx(13.0)
    assert a.score == pytest.approx(70.4545454) and a.suggested_tier == 2  # < 80, >= 50
    assert Client.objects.get(code="CLT0003").suggested_tier == 2  # 78.6: >= 50
    assert Client.objects.get(code="CLT0002").suggested_tier == 3  # 33.6


def test_flow_quality_does_not_reward_the_spread_a_client_pays(book) -> None:
    """Regression: flow quality ranked the 5-minute markout from the trade price, which holds the
    half-spread the client paid; Tier 1 clients (the tightest quotes) came last whatever their
    flow did, and none of the demo's Tier 1 clients could reach the Tier 1 threshold."""
    from tests.crm.factories import trade

    # Both clients' trades are followed by the same mid move: +1 bp for the dealer after 5 minutes.
    # CLT0001 paid 2 bp (markout from its price 3 bp), CLT0007 paid 20 bp (markout 21 bp).
    trade("CLT0001", "ig_corp", side="buy", qty="1000000", price="100.02", mid="100", pnl_1d=300.0,
          markout_5m_bp=2.0 / 100.02 * 100 + 1.0)
    trade("CLT0007", "ig_corp", side="buy", qty="1000000", price="100.2", mid="100", pnl_1d=300.0,
          markout_5m_bp=20.0 / 100.2 * 100 + 1.0)
    services.scores_recompute()
    tight = Client.objects.select_related("latest_score").get(code="CLT0001").latest_score
    wide = Client.objects.select_related("latest_score").get(code="CLT0007").latest_score
    assert tight.toxicity_bp == pytest.approx(-1.0) and wide.toxicity_bp == pytest.approx(-1.0)
    assert tight.flow_quality == pytest.approx(wide.flow_quality)


def test_every_run_is_kept_as_history_with_the_trend(book) -> None:
    small_book()
    services.scores_recompute()
    services.scores_recompute()
    c = Client.objects.get(code="CLT0001")
    assert RelationshipScore.objects.filter(client=c).count() == 2
    assert c.score_change == pytest.approx(0.0)
    assert c.latest_score_id == RelationshipScore.objects.filter(client=c).order_by("-id").first().id


def _settings_data(**overrides) -> dict[str, str]:
    from crm.views import _settings_values

    data = {k: str(v) for k, v in _settings_values().items()}
    data.update({k: str(v) for k, v in overrides.items()})
    return data


def test_weights_not_summing_to_100_are_refused_and_nothing_is_saved(book) -> None:
    mgmt = book.user("mgmt1")
    before = ScoringSettings.objects.get()
    with pytest.raises(DeskError) as exc:
        services.settings_update(user=mgmt, data=_settings_data(weight_volume=30))
    assert exc.value.field == "weight_volume" and "sum to 100" in exc.value.message
    assert ScoringSettings.objects.get().weight_volume == before.weight_volume


@pytest.mark.parametrize("field,value,fragment", [
    ("tier1_threshold", "40", "threshold"),
    ("tier2_quote_ttl_seconds", "2", "5"),
    ("limit3_hy_corp_auto_size", "-5", "negative"),
    ("limit3_hy_corp_auto_size", "999999999999", "cannot exceed"),
    ("tier1_agreement_min_bp", "20", "agreement_max_bp"),
])
def test_bad_settings_name_their_field(book, field, value, fragment) -> None:
    with pytest.raises(DeskError) as exc:
        services.settings_update(user=book.user("mgmt1"), data=_settings_data(**{field: value}))
    assert exc.value.field == field and fragment in exc.value.message


def test_the_preview_count_equals_what_saving_does(book) -> None:
    small_book()
    services.scores_recompute()
    mgmt = book.user("mgmt1")
    data = _settings_data(weight_volume=10, weight_profitability=20, weight_flow_quality=60, weight_diversification=10,
                          tier1_threshold=60, tier2_threshold=45, tier3_quote_ttl_seconds=12)
    before = dict(Client.objects.values_list("code", "suggested_tier"))
    preview = services.settings_preview(user=mgmt, data=data)
    assert ScoringSettings.objects.get().weight_volume == 25.0  # nothing saved by a preview
    saved = services.settings_update(user=mgmt, data=data)
    after = dict(Client.objects.values_list("code", "suggested_tier"))
    actually = sum(before[c] != after[c] for c in before)
    assert preview.n_changed == saved.n_changed == actually > 0
    s = ScoringSettings.objects.get()
    assert (s.weight_flow_quality, s.tier1_threshold) == (60.0, 60.0)
    assert Tier.objects.get(number=3).quote_ttl_seconds == 12
    assert s.history.first().history_user.username == "mgmt1"  # audited: who
    assert Tier.objects.get(number=3).history.first().history_user.username == "mgmt1"


def test_only_management_changes_settings(book) -> None:
    with pytest.raises(Forbidden):
        services.settings_preview(user=book.user("rm1"), data=_settings_data())


def test_an_override_keeps_the_suggestion_and_needs_a_reason(book) -> None:
    small_book()
    services.scores_recompute()
    rm1 = book.user("rm1")
    c = book.client("CLT0002")
    assert c.suggested_tier == 3 and c.tier.number == 1
    with pytest.raises(DeskError) as exc:
        services.client_tier_change(user=rm1, client=c, tier=2, reason="")
    assert exc.value.field == "reason"
    services.client_tier_change(user=rm1, client=c, tier=2, reason="New mandate from the pension fund")
    c = book.client("CLT0002")
    assert (c.tier.number, c.suggested_tier, c.tier_reason) == (2, 3, "New mandate from the pension fund")
    services.scores_recompute()  # a later run refreshes the suggestion, never the override
    c = book.client("CLT0002")
    assert (c.tier.number, c.suggested_tier) == (2, 3)
    h = c.history.first()
    assert h.history_user.username == "rm1" and h.tier.number == 2 and h.prev_record.tier.number == 1
    # Following the suggestion needs no reason.
    services.client_tier_change(user=rm1, client=c, tier=3)
    assert book.client("CLT0002").tier.number == 3
