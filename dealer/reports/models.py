"""Daily rollups of the desk's trades: what every report page reads instead of the trade table.

One row per (UTC day, client, instrument, tier at the trade): counts, face volume, notional, the
P&L attribution and markout sums per horizon. Rows are derived data: `dealer.reports.services`
recomputes a cell from the trades underneath (after each booking, nightly, or all at once), so
a cell always equals a direct sum over its trades.

P&L of a trade (dealer's view, currency; `q` the face, prices per 100 face):
  spread capture at booking = (price - mid_at_booking) * q / 100 for a client buy (the dealer sold),
                              (mid_at_booking - price) * q / 100 for a client sell;
  total P&L                 = the trade's 1-day markout `pnl` ((mid_1d - price) dealer-signed),
                              or the spread capture while the 1-day markout is not yet recorded;
  inventory P&L while held  = total P&L - spread capture (0 until the 1-day markout lands);
  hedge P&L                 = realized + unrealized P&L of the trade's hedge fills (dealer.hedging,
                              attributed through HedgeOrder.decision.trade) marked at the current
                              mid. The mark moves with the market, so `HedgeRollup` keeps the
                              fills' signed quantity and signed cost per hedge instrument, and
                              readers mark them: sum(qty) * mid - sum(cost), per unit of price.
"""
from __future__ import annotations

from django.db import models

HORIZONS = (60, 300, 1800, 86400)


class DailyRollup(models.Model):
    day = models.DateField()
    client = models.ForeignKey("crm.Client", on_delete=models.CASCADE, related_name="+")
    instrument = models.ForeignKey("market.Instrument", on_delete=models.CASCADE, related_name="+")
    tier = models.PositiveSmallIntegerField(help_text="The client's tier when the trades were booked.")
    asset_class = models.CharField(max_length=20, help_text="Denormalized from the instrument.")
    sector = models.CharField(max_length=40, blank=True, help_text="Denormalized from the instrument.")
    trades = models.PositiveIntegerField(default=0)
    volume = models.DecimalField(max_digits=22, decimal_places=2, default=0, help_text="Face.")
    notional = models.FloatField(default=0.0, help_text="Sum of price * face / 100.")
    net_qty = models.DecimalField(max_digits=22, decimal_places=2, default=0,
                                  help_text="The desk's signed change in position (long positive).")
    net_dv01 = models.FloatField(default=0.0, help_text="Desk-signed DV01 added: qty * price/100 * duration * 1e-4.")
    spread_pnl = models.FloatField(default=0.0, help_text="Spread capture at booking.")
    pnl = models.FloatField(default=0.0, help_text="Total P&L: 1-day markout P&L, spread capture until it lands.")
    mo_n_60 = models.PositiveIntegerField(default=0)
    mo_bp_60 = models.FloatField(default=0.0)
    mo_sq_60 = models.FloatField(default=0.0)
    mo_n_300 = models.PositiveIntegerField(default=0)
    mo_bp_300 = models.FloatField(default=0.0)
    mo_sq_300 = models.FloatField(default=0.0)
    mo_n_1800 = models.PositiveIntegerField(default=0)
    mo_bp_1800 = models.FloatField(default=0.0)
    mo_sq_1800 = models.FloatField(default=0.0)
    mo_n_86400 = models.PositiveIntegerField(default=0)
    mo_bp_86400 = models.FloatField(default=0.0)
    mo_sq_86400 = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "client", "instrument", "tier"], name="rollup_cell_unique"),
        ]
        indexes = [
            models.Index(fields=["day"], name="rollup_day"),
            models.Index(fields=["client", "day"], name="rollup_client_day"),
            models.Index(fields=["instrument", "day"], name="rollup_instrument_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.client_id} {self.instrument_id} T{self.tier}: {self.trades} trades"


class RollupState(models.Model):
    """One row: when the rollups were last rebuilt from scratch and last brought up to date."""

    rebuilt_at = models.DateTimeField(null=True, blank=True)
    rebuild_seconds = models.FloatField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True, help_text="Last incremental update or refresh.")
    refreshed_at = models.DateTimeField(null=True, blank=True, help_text="Last nightly refresh (markouts landed).")
    hits_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="RFQ outcomes up to this time (less a margin) are in the hit rollups.")
    hedges_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="Hedge fills stamped before this time are in the hedge rollups.")


# --- coarser rollups derived from DailyRollup -----------------------------------------------------
# DailyRollup has about one row per trade at a million trades (a client rarely trades the same
# instrument twice in a day), so pages that scanned it over two years read ~1M rows. These tables
# hold the same measures summed over fewer keys; `services` keeps them equal to the sum of the
# DailyRollup rows they cover (rebuilt with one GROUP BY, moved by deltas after each trade).
# Counts are plain IntegerFields: the deltas applied with INSERT ... ON CONFLICT may be negative
# on the way in.

MEASURES = ("trades", "volume", "notional", "net_qty", "net_dv01", "spread_pnl", "pnl") + tuple(
    f"mo_{k}_{h}" for h in HORIZONS for k in ("n", "bp", "sq"))


class RollupMeasures(models.Model):
    trades = models.IntegerField(default=0)
    volume = models.DecimalField(max_digits=22, decimal_places=2, default=0)
    notional = models.FloatField(default=0.0)
    net_qty = models.DecimalField(max_digits=22, decimal_places=2, default=0)
    net_dv01 = models.FloatField(default=0.0)
    spread_pnl = models.FloatField(default=0.0)
    pnl = models.FloatField(default=0.0)
    mo_n_60 = models.IntegerField(default=0)
    mo_bp_60 = models.FloatField(default=0.0)
    mo_sq_60 = models.FloatField(default=0.0)
    mo_n_300 = models.IntegerField(default=0)
    mo_bp_300 = models.FloatField(default=0.0)
    mo_sq_300 = models.FloatField(default=0.0)
    mo_n_1800 = models.IntegerField(default=0)
    mo_bp_1800 = models.FloatField(default=0.0)
    mo_sq_1800 = models.FloatField(default=0.0)
    mo_n_86400 = models.IntegerField(default=0)
    mo_bp_86400 = models.FloatField(default=0.0)
    mo_sq_86400 = models.FloatField(default=0.0)

    class Meta:
        abstract = True


class DeskDayRollup(RollupMeasures):
    """Desk-wide day: what management and traders read when no client, RM or drill-down is asked."""

    day = models.DateField()
    tier = models.PositiveSmallIntegerField()
    asset_class = models.CharField(max_length=20)
    sector = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "tier", "asset_class", "sector"], name="deskday_unique")]


class ClientDayRollup(RollupMeasures):
    """Per client and day, without instrument or sector (the edges of a range split into months)."""

    day = models.DateField()
    client = models.ForeignKey("crm.Client", on_delete=models.CASCADE, related_name="+")
    tier = models.PositiveSmallIntegerField()
    asset_class = models.CharField(max_length=20)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "client", "tier", "asset_class"], name="clientday_unique")]
        indexes = [models.Index(fields=["client", "day"], name="clientday_client_day")]


class ClientMonthRollup(RollupMeasures):
    """Per client and calendar month; `day` is the first day of the month."""

    day = models.DateField(help_text="First day of the month.")
    client = models.ForeignKey("crm.Client", on_delete=models.CASCADE, related_name="+")
    tier = models.PositiveSmallIntegerField()
    asset_class = models.CharField(max_length=20)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "client", "tier", "asset_class"], name="clientmonth_unique")]
        indexes = [models.Index(fields=["client", "day"], name="clientmonth_client_day")]


# --- hit ratios ------------------------------------------------------------------------------------
# One row per (UTC day the RFQ arrived, client, tier at the RFQ, asset class, sector, size bucket,
# quoted-distance bucket, predicted-probability decile) over RFQs that were quoted and reached an
# outcome (booked, expired, rejected). Bucket numbers index these lists (-1: outside every bucket).

SIZE_BUCKETS = [(0, 250_000, "< 250k"), (250_000, 1_000_000, "250k-1m"), (1_000_000, 5_000_000, "1m-5m"),
                (5_000_000, 25_000_000, "5m-25m"), (25_000_000, None, ">= 25m")]
DISTANCE_BUCKETS = [(0, 2, "< 2 bp"), (2, 5, "2-5 bp"), (5, 10, "5-10 bp"), (10, 20, "10-20 bp"), (20, None, ">= 20 bp")]
P_BINS = 10

class HitMeasures(models.Model):
    day = models.DateField()
    tier = models.PositiveSmallIntegerField()
    asset_class = models.CharField(max_length=20)
    sector = models.CharField(max_length=40, blank=True)
    size_bucket = models.SmallIntegerField()
    distance_bucket = models.SmallIntegerField()
    p_bin = models.SmallIntegerField(help_text="floor(10 * predicted win probability), clipped to 0-9.")
    quoted = models.IntegerField(default=0)
    won = models.IntegerField(default=0)
    p_sum = models.FloatField(default=0.0, help_text="Sum of the predicted win probabilities.")

    class Meta:
        abstract = True


class HitRollup(HitMeasures):
    """Per client: about one row per RFQ at scale, so no unique index to maintain on a million
    rows; a (day, client) slice is only ever written whole, by one GROUP BY, under the rollup lock."""

    client = models.ForeignKey("crm.Client", on_delete=models.CASCADE, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["client", "day"], name="hitrollup_client_day")]


class HitDeskRollup(HitMeasures):
    """HitRollup summed over clients (what management and traders read)."""

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["day", "tier", "asset_class", "sector", "size_bucket", "distance_bucket", "p_bin"],
            name="hitdesk_unique")]


# --- hedges --------------------------------------------------------------------------------------
# One row per (UTC day the client trade was booked, its client, tier, asset class, sector, hedge
# instrument) and catch-up: the fills of the hedges the trades caused. Like HitRollup, a catch-up
# adds rows of its own (readers sum the rows of a key), so no unique index; a day's rows are only
# rewritten whole, under the rollup lock.

class HedgeRollup(models.Model):
    day = models.DateField(help_text="The UTC day the client trade that caused the hedge was booked.")
    client = models.ForeignKey("crm.Client", on_delete=models.CASCADE, related_name="+")
    tier = models.PositiveSmallIntegerField(help_text="The client's tier at the trade.")
    asset_class = models.CharField(max_length=20, help_text="Of the client trade's instrument.")
    sector = models.CharField(max_length=40, blank=True, help_text="Of the client trade's instrument.")
    instrument = models.ForeignKey("market.Instrument", on_delete=models.CASCADE, related_name="+",
                                   help_text="The hedge instrument.")
    fills = models.IntegerField(default=0)
    qty = models.DecimalField(max_digits=22, decimal_places=2, default=0,
                              help_text="Desk-signed quantity filled (hedge buys positive).")
    cost = models.FloatField(default=0.0, help_text="Desk-signed sum of quantity * fill price.")

    class Meta:
        indexes = [models.Index(fields=["day"], name="hedgerollup_day"),
                   models.Index(fields=["client", "day"], name="hedgerollup_client_day")]
