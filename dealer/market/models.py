"""Instruments, venues and market data of the simulated bond market."""
from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Mapping
from datetime import date

import numpy as np
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from dealer.market.isin import is_valid_isin


def validate_isin(value: str) -> None:
    if not is_valid_isin(value):
        raise ValidationError(f"{value!r} is not a valid ISIN (2 letters, 9 characters, check digit).")


class AssetClass(models.Model):
    code = models.SlugField(max_length=20, unique=True)
    name = models.CharField(max_length=60)
    rfq_enabled = models.BooleanField(default=True, help_text="Clients ask for quotes in it.")
    is_hedge = models.BooleanField(default=False, help_text="Liquid hedge instrument class.")

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "asset classes"

    def __str__(self) -> str:
        return self.code


class Instrument(models.Model):
    isin = models.CharField(max_length=12, unique=True, validators=[validate_isin])
    description = models.CharField(max_length=120)
    asset_class = models.ForeignKey(AssetClass, on_delete=models.PROTECT, related_name="instruments")
    issuer = models.CharField(max_length=80, blank=True)
    sector = models.CharField(max_length=40, blank=True, db_index=True)
    rating = models.CharField(max_length=6, blank=True)
    coupon = models.DecimalField(
        max_digits=7, decimal_places=4, default=0, validators=[MinValueValidator(0)],
        help_text="Annual coupon in percent.",
    )
    maturity = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    liquidity_bucket = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="1 most liquid .. 5 least liquid.",
    )
    adv = models.DecimalField(
        "average daily volume", max_digits=18, decimal_places=2, validators=[MinValueValidator(0)]
    )
    duration = models.FloatField(default=0.0, help_text="Modified duration in years.")
    rfq_enabled = models.BooleanField(default=True)
    sim_index = models.PositiveIntegerField(
        unique=True, help_text="Position of the instrument in the market simulator's arrays."
    )
    hedge_factor = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["sim_index"]
        constraints = [
            models.CheckConstraint(condition=Q(coupon__gte=0), name="instrument_coupon_non_negative"),
            models.CheckConstraint(condition=Q(adv__gte=0), name="instrument_adv_non_negative"),
            models.CheckConstraint(
                condition=Q(liquidity_bucket__gte=1, liquidity_bucket__lte=5),
                name="instrument_liquidity_bucket_1_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.isin} {self.description}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.coupon is not None and self.coupon < 0:
            errors["coupon"] = "The coupon cannot be negative."
        if self.maturity is not None and self.maturity <= date.today():
            errors["maturity"] = "The maturity must be in the future."
        if errors:
            raise ValidationError(errors)


class Venue(models.Model):
    code = models.SlugField(max_length=10, unique=True)
    name = models.CharField(max_length=60)
    fee_bp = models.FloatField(default=0.0, validators=[MinValueValidator(0)])
    latency_ms = models.FloatField(default=5.0, validators=[MinValueValidator(0)])
    fill_probability = models.FloatField(
        default=0.8, validators=[MinValueValidator(0), MaxValueValidator(1)]
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.code


class SimulatorState(models.Model):
    """The market simulator's state: one row, advanced by the `market_tick` beat task."""

    seed = models.IntegerField(default=7)
    tick = models.BigIntegerField(default=0)
    sim_time = models.FloatField(default=0.0, help_text="Seconds since the epoch of the last tick.")
    stressed = models.BooleanField(default=False)
    arrays = models.BinaryField(help_text="numpy .npz of the state arrays.")
    updated_at = models.DateTimeField(auto_now=True)


class MarketSnapshot(models.Model):
    """The market after one tick, as arrays indexed by `Instrument.sim_index`.

    One row per tick keeps the pricer's read to a single indexed row however many instruments
    there are; the arrays are mids, composite fair value and its standard error, EWMA
    volatility, best bid and ask over the venues and time of the last print.
    """

    tick = models.BigIntegerField(unique=True)
    taken_at = models.DateTimeField(db_index=True)
    stressed = models.BooleanField(default=False)
    arrays = models.BinaryField()

    class Meta:
        ordering = ["-tick"]
        get_latest_by = "tick"

    @staticmethod
    def pack(arrays: dict[str, np.ndarray]) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    def unpack(self) -> PackedArrays:
        return PackedArrays(bytes(self.arrays))


class PackedArrays(Mapping[str, np.ndarray]):
    """A snapshot's arrays, each decoded on first use: the pricer reads four of the eleven at
    every tick, and decoding all of them was half of its 10 ms reload (in an RFQ's batch)."""

    def __init__(self, blob: bytes):
        self._npz = np.load(io.BytesIO(blob))
        self._names = tuple(self._npz.files)
        self._decoded: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._decoded[name]
        except KeyError:
            pass
        with self._lock:  # the archive reads from one in-memory file
            if name not in self._decoded:
                self._decoded[name] = self._npz[name]
            return self._decoded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class MarketPrint(models.Model):
    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="prints")
    venue = models.ForeignKey(Venue, null=True, blank=True, on_delete=models.SET_NULL)
    price = models.DecimalField(max_digits=12, decimal_places=6)
    size = models.DecimalField(max_digits=18, decimal_places=2)
    printed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-printed_at"]
        indexes = [models.Index(fields=["instrument", "-printed_at"])]


class DailyClose(models.Model):
    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="closes")
    date = models.DateField()
    close = models.FloatField()

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["instrument", "date"], name="daily_close_unique")]
