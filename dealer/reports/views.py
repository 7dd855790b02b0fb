"""Report pages: profitability, flow quality, hit ratios, human judgment, inventory and capital.

Each page reads `dealer.reports.selectors`, draws Plotly figures from JSON embedded in the page
(plotly.js served from our static files) and offers every table as CSV with the same filters
(`?format=csv&table=NAME`). Bad filters re-render the page with the message (400), not an error page.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dealer.errors import DeskError, Forbidden
from dealer.reports import selectors as sel
from dealer.reports.csvout import csv_response
from dealer.reports.formatting import KEY_LABELS, Cell, format_rows

PAGES = [("profitability", "/reports/", "Profitability"), ("flow", "/reports/flow/", "Flow quality"),
         ("hits", "/reports/hits/", "Hit ratios"), ("judgment", "/reports/judgment/", "Human judgment"),
         ("inventory", "/reports/inventory/", "Inventory & capital")]
PAGE_SIZE = 50
COLORS = {1: "#3fa7ff", 2: "#2ecc71", 3: "#f5a623"}


@dataclass
class Table:
    name: str
    title: str
    header: list[str]
    rows: list[list[Any]]
    links: list[str | None] = field(default_factory=list)  # drill-down link of each row's first cell
    note: str = ""
    key_label: str | None = None  # the label of a `key` column on the page


@dataclass
class Page:
    tables: list[Table] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def _chart(cid: str, title: str, data: list[dict[str, Any]], **layout: Any) -> dict[str, Any]:
    return {"id": cid, "title": title, "figure": {"data": data, "layout": {"title": {"text": title}, **layout}}}


def _link(path: str, query: dict[str, str], **extra: str) -> str:
    return f"{path}?{urlencode({**query, **extra})}"


# --- page builders ------------------------------------------------------------------------------

def _profitability(request: HttpRequest, scope: sel.Scope, f: sel.Filters) -> Page:
    page = Page()
    report = sel.profitability(scope=scope, f=f)
    res = report["results"]
    drill_group = f.group_by != "client"
    links = []
    for r in res:
        if drill_group:
            links.append(_link("/reports/", sel.drill_filters(f, str(r["key"])).query()))
        else:
            links.append(_link("/reports/", f.query(client=r["key"]), trades="1"))
    keys = [str(r["key"]) for r in res]
    page.charts.append(_chart("pnl-chart", f"P&L by {f.group_by if f.group_by != 'period' else f.period}", [
        {"type": "bar", "name": "spread capture", "x": keys, "y": [r["spread_pnl"] for r in res], "customdata": links},
        {"type": "bar", "name": "inventory", "x": keys, "y": [r["inventory_pnl"] for r in res], "customdata": links},
        {"type": "bar", "name": "hedges", "x": keys, "y": [r["hedge_pnl"] for r in res], "customdata": links},
        {"type": "scatter", "mode": "markers", "name": "net", "x": keys, "y": [r["net_pnl"] for r in res],
         "customdata": links, "marker": {"color": "#ffffff", "size": 8}},
    ], barmode="relative", xaxis={"type": "category"}))
    page.charts.append(_chart("volume-chart", "Volume (face)", [
        {"type": "bar", "name": "volume", "x": keys, "y": [float(r["volume"]) for r in res], "customdata": links}],
        xaxis={"type": "category"}))
    t = report["total"]
    page.tables.append(Table(
        "profitability", f"By {f.group_by}",
        ["key", "trades", "volume", "pnl", "spread_pnl", "inventory_pnl", "hedge_pnl", "pnl_bp", "net_pnl"],
        [[r["key"], r["trades"], r["volume"], r["pnl"], r["spread_pnl"], r["inventory_pnl"], r["hedge_pnl"],
          r["pnl_bp"], r["net_pnl"]] for r in res] + [["total", t["trades"], t["volume"], t["pnl"], t["spread_pnl"],
                                                       t["inventory_pnl"], t["hedge_pnl"], "", t["net_pnl"]]],
        links + [None], note="Click a bar or a key to see the clients behind it, then a client to see its trades.",
        key_label=KEY_LABELS.get(f.group_by)))
    page.notes.append("Client P&L = spread capture + inventory P&L. Spread capture at booking = dealer-signed "
                      "(price - mid at booking) x face / 100; inventory P&L = the 1-day markout P&L minus spread "
                      "capture (0 until the 1-day markout is recorded). Hedge P&L = realized + unrealized P&L of the "
                      "hedge fills of the trades in the range (dealer.hedging orders of each trade's hedge decision), "
                      "marked at the current mid and attributed to the trade that caused the hedge. Net P&L = client "
                      "P&L + hedge P&L. Not included: funding and carry, fees, and hedges not tied to a client trade.")
    if report["unmarked_hedges"]:
        page.notes.append("No current mid for " + ", ".join(report["unmarked_hedges"])
                          + ": the hedge fills in these instruments are left out of hedge P&L.")
    if request.GET.get("trades") and (f.client or not scope.is_desk):
        try:
            offset = max(int(request.GET.get("offset") or 0), 0)
        except ValueError:
            raise DeskError("offset must be a whole number.", field="offset") from None
        count, rows = sel.trades_behind(scope=scope, f=f, limit=PAGE_SIZE, offset=offset)
        nxt = _link("/reports/", f.query(), trades="1", offset=str(offset + PAGE_SIZE)) if offset + PAGE_SIZE < count else None
        prev = _link("/reports/", f.query(), trades="1", offset=str(max(offset - PAGE_SIZE, 0))) if offset else None
        page.tables.append(Table(
            "trades", f"Trades ({count}, showing {offset + 1 if count else 0}-{min(offset + PAGE_SIZE, count)})",
            ["id", "booked_at", "client", "tier", "isin", "side", "quantity", "price", "mid_at_booking", "spread_pnl",
             "inventory_pnl", "hedge_pnl", "pnl", "net_pnl"],
            [[r[k] for k in ("id", "booked_at", "client", "tier", "isin", "side", "quantity", "price", "mid_at_booking",
                             "spread_pnl", "inventory_pnl", "hedge_pnl", "pnl", "net_pnl")] for r in rows]))
        page.extra.update(trades_next=nxt, trades_prev=prev)
    if scope.kind != "rm" and not f.client:
        from dealer.desk.book import position_rows

        unreal: dict[str, float] = {}
        for p in position_rows():
            unreal[p["asset_class"]] = unreal.get(p["asset_class"], 0.0) + float(p["unrealized_pnl"])
        page.tables.append(Table("unrealized", "Unrealized P&L of open positions now (at the current mid)",
                                 ["asset_class", "unrealized_pnl"], [[k, round(v, 2)] for k, v in sorted(unreal.items())]))
    return page


def _flow(request: HttpRequest, scope: sel.Scope, f: sel.Filters) -> Page:
    page = Page()
    fq = sel.flow_quality(scope=scope, f=f)
    data = []
    for t in fq["by_tier"]:
        c = t["curve"]
        x = [p["label"] for p in c]
        color = COLORS.get(t["key"], "#aaa")
        data.append({"type": "scatter", "mode": "lines", "x": x, "y": [p["high_bp"] for p in c], "line": {"width": 0},
                     "showlegend": False, "hoverinfo": "skip", "legendgroup": f"t{t['key']}"})
        data.append({"type": "scatter", "mode": "lines", "x": x, "y": [p["low_bp"] for p in c], "fill": "tonexty",
                     "line": {"width": 0}, "fillcolor": color + "33", "name": f"Tier {t['key']} 95% band",
                     "legendgroup": f"t{t['key']}", "hoverinfo": "skip"})
        data.append({"type": "scatter", "mode": "lines+markers", "x": x, "y": [p["mean_bp"] for p in c],
                     "name": f"Tier {t['key']}", "line": {"color": color}, "legendgroup": f"t{t['key']}"})
    page.charts.append(_chart("markout-tier", "Markout curve by tier (dealer-signed bp, 95% band)", data,
                              yaxis={"title": {"text": "bp"}}))
    rows = []
    for t in fq["by_tier"]:
        rows.append([t["key"], t["trades"]] + [p["mean_bp"] for p in t["curve"]] + [p["n"] for p in t["curve"][-1:]])
    horizon_cols = [f"markout_{p['label'].replace(' ', '')}_bp" for p in fq["total"]["curve"]]
    page.tables.append(Table("by_tier", "Markouts by tier", ["tier", "trades"] + horizon_cols + ["n_1day"], rows))
    if not scope.is_desk:
        for name, title in (("toxic", "Most toxic clients (lowest 1-day markout)"), ("benign", "Most benign clients")):
            lst = fq[name]
            page.tables.append(Table(name, title, ["client", "trades", "pnl", "markout_1d_bp"],
                                     [[c["key"], c["trades"], c["pnl"], c["markout_1d_bp"]] for c in lst],
                                     [_link("/reports/flow/", f.query(client=c["key"])) for c in lst]))
        cdata = []
        for c in (fq["toxic"][:5] + fq["benign"][:5]):
            cdata.append({"type": "scatter", "mode": "lines+markers", "name": c["key"],
                          "x": [p["label"] for p in c["curve"]], "y": [p["mean_bp"] for p in c["curve"]],
                          "error_y": {"type": "data", "symmetric": False,
                                      "array": [(p["high_bp"] - p["mean_bp"]) if p["high_bp"] is not None else 0 for p in c["curve"]],
                                      "arrayminus": [(p["mean_bp"] - p["low_bp"]) if p["low_bp"] is not None else 0 for p in c["curve"]]}})
        page.charts.append(_chart("markout-client", "Markout curves: 5 most toxic and 5 most benign clients", cdata))
        page.tables.append(Table("by_client", "Markouts by client", ["client", "trades", "pnl"] + horizon_cols,
                                 [[c["key"], c["trades"], c["pnl"]] + [p["mean_bp"] for p in c["curve"]]
                                  for c in fq["clients"]]))
    page.notes.append("Markout: the dealer's P&L from the trade price to the mid at each horizon, in bp; negative means "
                      "the client's flow moved the market against the desk (adverse selection). Bands are 95% "
                      "confidence intervals of the mean.")
    return page


def _hits(request: HttpRequest, scope: sel.Scope, f: sel.Filters) -> Page:
    page = Page()
    start, end, clipped = sel.hit_window(f)
    if clipped:
        page.notes.append(f"Hit ratios are shown for the last {sel.HIT_WINDOW_DAYS} days of the range, "
                          f"{start} to {end}.")
    hr = sel.hit_ratios(scope=scope, f=f)
    titles = {"tier": "tier", "asset_class": "asset class", "size": "size bucket (face)",
              "distance": "quoted distance to mid (half spread)"}
    for name, rows in hr["tables"].items():
        keys = [str(r["key"]) for r in rows]
        page.charts.append(_chart(f"hit-{name}", f"Hit ratio by {titles[name]}", [
            {"type": "bar", "x": keys, "y": [r["hit_ratio"] for r in rows], "name": "hit ratio",
             "text": [f"{r['won']}/{r['quoted']}" for r in rows]}], xaxis={"type": "category"},
            yaxis={"range": [0, 1], "tickformat": ".0%"}))
        page.tables.append(Table(f"by_{name}", f"By {titles[name]}", [name, "quoted", "won", "hit_ratio"],
                                 [[r["key"], r["quoted"], r["won"], r["hit_ratio"]] for r in rows]))
    cal = hr["calibration"]
    page.charts.append(_chart("calibration", "Win-probability calibration: predicted vs realized", [
        {"type": "scatter", "mode": "lines", "x": [0, 1], "y": [0, 1], "name": "perfect", "line": {"dash": "dot", "color": "#888"}},
        {"type": "scatter", "mode": "markers+lines", "x": [c["predicted"] for c in cal], "y": [c["realized"] for c in cal],
         "name": "realized", "text": [f"n={c['n']}" for c in cal],
         "error_y": {"type": "data", "symmetric": False, "array": [c["high"] - c["realized"] for c in cal],
                     "arrayminus": [c["realized"] - c["low"] for c in cal]}},
    ], xaxis={"range": [0, 1], "title": {"text": "predicted"}}, yaxis={"range": [0, 1], "title": {"text": "realized"}}))
    page.tables.append(Table("calibration", "Calibration (deciles of predicted win probability)",
                             ["bin", "n", "predicted", "realized", "low", "high"],
                             [[c[k] for k in ("bin", "n", "predicted", "realized", "low", "high")] for c in cal]))
    page.notes.append("Predicted: the quote's stored win probability where the recommendation recorded one, otherwise "
                      "the fitted model (pricing.winprob) when the RFQ's outcome was last rolled up (the rebuild "
                      "applies the current model to all); every quoted RFQ with an outcome in the window.")
    return page


def _judgment(request: HttpRequest, scope: sel.Scope, f: sel.Filters) -> Page:
    page = Page()
    j = sel.judgment(scope=scope, f=f)
    acts = j["actions"]
    page.charts.append(_chart("judgment-actions", "Tier 1 decisions: what departures from the recommendation earned", [
        {"type": "bar", "name": "departure P&L", "x": [a["action"] for a in acts], "y": [a["departure_pnl"] for a in acts]},
        {"type": "bar", "name": "P&L after markouts", "x": [a["action"] for a in acts], "y": [a["markout_pnl"] for a in acts]},
    ], barmode="group", xaxis={"type": "category"}))
    dec = [d for d in j["decisions"] if d["departure_bp"] is not None]
    page.charts.append(_chart("judgment-scatter", "Trader's departure (bp) vs P&L after markouts", [
        {"type": "scatter", "mode": "markers", "x": [d["departure_bp"] for d in dec if d["traded"]],
         "y": [d["markout_pnl"] for d in dec if d["traded"]], "text": [f"RFQ {d['rfq_id']} {d['action']}" for d in dec if d["traded"]],
         "name": "traded"}], xaxis={"title": {"text": "departure bp (positive: wider for the client)"}}))
    page.tables.append(Table("actions", "By action", ["action", "decisions", "traded", "hit_ratio", "avg_departure_bp",
                                                      "departure_pnl", "markout_pnl"],
                             [[a[k] for k in ("action", "decisions", "traded", "hit_ratio", "avg_departure_bp",
                                              "departure_pnl", "markout_pnl")] for a in acts]))
    cols = ["rfq_id", "decided_at", "client", "isin", "side", "action", "trader", "recommended_price", "price",
            "departure_bp", "traded", "departure_pnl", "markout_pnl", "pnl_at_recommendation", "reason"]
    page.tables.append(Table("overrides", "Overrides that traded: did they pay off?", cols,
                             [[d[k] for k in cols] for d in j["overrides"]]))
    page.tables.append(Table("decisions", "Latest Tier 1 decisions (200 most recent)", cols,
                             [[d[k] for k in cols] for d in j["decisions"]]))
    page.notes.append("Departure (bp) is dealer-signed: positive when the trader quoted wider than the recommendation. "
                      "Departure P&L is what the departure added to traded P&L; P&L at recommendation is what the "
                      "same trade would have made at the recommended price after markouts. Prices are clean per 100 "
                      "face.")
    return page


def _inventory(request: HttpRequest, scope: sel.Scope, f: sel.Filters) -> Page:
    page = Page()
    inv = sel.inventory(scope=scope, f=f)
    page.charts.append(_chart("inventory-series", "Cumulative desk-signed client flow since the start (face)", [
        {"type": "scatter", "mode": "lines", "name": ac, "x": s["day"], "y": s["position"]}
        for ac, s in sorted(inv["series"].items())]))
    page.charts.append(_chart("risk-series", "Cumulative net DV01 from client flow", [
        {"type": "scatter", "mode": "lines", "name": ac, "x": s["day"], "y": s["dv01"]}
        for ac, s in sorted(inv["series"].items())]))
    page.charts.append(_chart("capital-tier", "Capital by tier: gross notional traded", [
        {"type": "bar", "x": [f"Tier {r['key']}" for r in inv["by_tier"]], "y": [r["notional"] for r in inv["by_tier"]],
         "name": "notional"}], xaxis={"type": "category"}))
    page.tables.append(Table("capital_tier", "Capital by tier", ["tier", "trades", "notional", "net_qty", "net_dv01"],
                             [[r[k] for k in ("key", "trades", "notional", "net_qty", "net_dv01")] for r in inv["by_tier"]]))
    if not scope.is_desk:
        page.tables.append(Table("capital_client", "Capital by client (largest 25 by notional)",
                                 ["client", "tier", "trades", "notional", "net_qty", "net_dv01"],
                                 [[r[k] for k in ("key", "tier", "trades", "notional", "net_qty", "net_dv01")]
                                  for r in inv["by_client"]]))
    if scope.kind != "rm":
        page.tables.append(Table("ageing", "Ageing of open inventory (days since the desk last traded the instrument)",
                                 ["bucket", "positions", "gross_face", "unrealized_pnl"],
                                 [[a[k] for k in ("bucket", "positions", "gross_face", "unrealized_pnl")] for a in inv["ageing"]]))
        page.tables.append(Table("positions", "Open positions now", ["isin", "asset_class", "quantity", "avg_price", "mid",
                                                                      "unrealized_pnl", "age_days"],
                                 [[p.get(k) for k in ("isin", "asset_class", "quantity", "avg_price", "mid",
                                                      "unrealized_pnl", "age_days")] for p in inv["positions"]]))
    else:
        page.notes.append("Positions and ageing are desk-wide; as a relationship manager you see your clients' capital.")
    return page


BUILDERS: dict[str, tuple[Callable[..., Page], tuple[str, ...], str, tuple[str, ...]]] = {
    "profitability": (_profitability, sel.GROUPS, "tier", ("trades", "offset", "table")),
    "flow": (_flow, ("tier",), "tier", ("table",)),
    "hits": (_hits, ("tier",), "tier", ("table",)),
    "judgment": (_judgment, ("tier",), "tier", ("table",)),
    "inventory": (_inventory, ("tier",), "tier", ("table",)),
}


def _render(request: HttpRequest, name: str) -> HttpResponse:
    build, groups, default_group, allowed = BUILDERS[name]
    try:
        scope = sel.scope_for(request.user)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    error: DeskError | None = None
    f: sel.Filters | None = None
    page = Page()
    try:
        f = sel.parse_filters(request.GET, scope=scope, groups=groups, default_group=default_group, allowed=allowed)
        page = build(request, scope, f)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    except DeskError as exc:
        error = exc
    if request.GET.get("format") == "csv" and error is None and f is not None:
        wanted = request.GET.get("table") or (page.tables[0].name if page.tables else "")
        table = next((t for t in page.tables if t.name == wanted), None)
        if table is None:
            error = DeskError(f"Unknown table {wanted!r}: use one of {', '.join(t.name for t in page.tables)}.",
                              field="table")
        else:
            return csv_response(f"{name}_{table.name}_{f.start}_{f.end}.csv", table.header, table.rows)
    query = f.query() if f is not None else {k: v for k, v in request.GET.items() if k in ("start", "end")}
    ctx = {
        "page_name": name, "pages": PAGES, "scope": scope, "f": f, "error": error, "page": page,
        "title": dict((n, t) for n, _, t in PAGES)[name],
        "groups": [g for g in groups if not scope.is_desk or g in sel.DESK_GROUPS] if name == "profitability" else [],
        "periods": sel.PERIODS, "state": sel.state(), "query": urlencode(query),
        "csv_links": {t.name: f"?{urlencode({**query, 'format': 'csv', 'table': t.name})}" for t in page.tables},
        "charts_json": page.charts,
        "form": request.GET,
        "start_value": f.start.isoformat() if f else request.GET.get("start", ""),
        "end_value": f.end.isoformat() if f else request.GET.get("end", ""),
    }
    for t in page.tables:
        t.csv = ctx["csv_links"][t.name]  # type: ignore[attr-defined]
        head, body = format_rows(t.name, t.header, t.rows, key_label=t.key_label)
        t.rows_total = bool(body) and t.rows[-1][:1] == ["total"]  # type: ignore[attr-defined]
        if t.rows_total:  # type: ignore[attr-defined]
            body[-1][0] = Cell("Total", False)
        t.labels = list(zip(t.header, head))  # type: ignore[attr-defined]
        t.linked = [(row, t.links[i] if i < len(t.links) else None) for i, row in enumerate(body)]  # type: ignore[attr-defined]
    return render(request, "reports/page.html", ctx, status=400 if error else 200)


@login_required
def profitability(request: HttpRequest) -> HttpResponse:
    return _render(request, "profitability")


@login_required
def flow(request: HttpRequest) -> HttpResponse:
    return _render(request, "flow")


@login_required
def hits(request: HttpRequest) -> HttpResponse:
    return _render(request, "hits")


@login_required
def judgment(request: HttpRequest) -> HttpResponse:
    return _render(request, "judgment")


@login_required
def inventory(request: HttpRequest) -> HttpResponse:
    return _render(request, "inventory")


reports_home = profitability
