"""Pricing core of the dealer desk: pure numpy/scipy, no Django.

Modules: :mod:`pricing.fairvalue` (composite mid and its standard error),
:mod:`pricing.signals` (volatility, microprice, imbalance, client flow),
:mod:`pricing.risk` (covariance, marginal inventory-risk cost, axes),
:mod:`pricing.impact` (square-root impact, Almgren-Chriss),
:mod:`pricing.quoting` (tiered RFQ quotes, GLFT), :mod:`pricing.winprob` (hit
probability and price recommendation), :mod:`pricing.hedging` (hedge policy, hedge
ratios, routing), :mod:`pricing.scoring` (relationship scores),
:mod:`pricing.markouts` (markouts and toxicity) and :mod:`pricing.bench`
(``python -m pricing.bench``).

Public functions validate their inputs and raise ``ValueError`` naming the argument;
randomness only comes from a passed ``numpy.random.Generator``.
"""

from __future__ import annotations

__all__: list[str] = []
