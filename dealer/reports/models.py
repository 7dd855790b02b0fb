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
  hedge P&L                 = 0 until hedging is built (dealer.hedging).
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
