"""The RM workspace pages: thin views over crm.selectors and crm.services."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from crm import selectors, services
from crm.models import Agreement, CreditLineRequest, Interest, ScoreRun, Tier, TierLimit
from dealer.errors import DeskError, Forbidden, NotFound
from dealer.roles import MANAGEMENT, RM, SENIOR_TRADER, TRADER, has_role

READERS = (RM, MANAGEMENT, TRADER, SENIOR_TRADER)


def _require_reader(request: HttpRequest) -> None:
    if not has_role(request.user, *READERS):
        raise PermissionDenied("The client workspace is for relationship managers, management and the desk.")


def _client(request: HttpRequest, code: str) -> Any:
    try:
        return selectors.client_get_for_user(user=request.user, code=code)
    except NotFound:
        raise Http404("No such client.") from None


def _can_edit(user: Any, client: Any) -> bool:
    return has_role(user, MANAGEMENT) or (has_role(user, RM) and client.rm_id == user.id)


def _run_payload(run: ScoreRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"id": run.id, "status": run.status, "progress": run.progress, "n_clients": run.n_clients,
            "n_changed": run.n_changed, "error": run.error,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None}


@login_required
def workspace(request: HttpRequest) -> HttpResponse:
    # The RM's and management's workspace; the desk reads it (every client, nothing to change) to look
    # a client up, as it reads their pages and GET /api/clients/.
    _require_reader(request)
    p = request.GET
    sort = p.get("sort") or "code"
    desc = p.get("dir") == "desc"
    qs = selectors.clients_table(user=request.user, q=p.get("q"), tier=p.get("tier"), sort=sort, desc=desc,
                                 mismatch=p.get("mismatch") == "1", rm=p.get("rm") or None)
    total = qs.count()
    clients = list(qs[:500])
    pending = []
    if has_role(request.user, MANAGEMENT):
        pending = list(CreditLineRequest.objects.filter(status="pending").select_related("client", "requested_by"))
    ctx = {
        "clients": clients, "total": total, "shown": len(clients), "sort": sort, "desc": desc, "f": p,
        "columns": [("code", "Code"), ("name", "Name"), ("tier", "Tier"), ("suggested", "Suggested"),
                    ("score", "Score"), ("trend", "Trend"), ("volume", "Volume 12m"), ("pnl", "P&L 12m"),
                    ("hit", "Hit ratio"), ("toxicity", "Toxicity bp"), ("rm", "RM")],
        "run": _run_payload(ScoreRun.objects.first()),
        "can_recompute": has_role(request.user, RM, MANAGEMENT),
        "is_mgmt": has_role(request.user, MANAGEMENT),
        "all_clients": has_role(request.user, MANAGEMENT, TRADER, SENIOR_TRADER),
        "pending_requests": pending,
        "import_errors": None,
    }
    return render(request, "crm/workspace.html", ctx)


#: Audit fields holding face amounts (shown with thousands separators).
AMOUNT_FIELDS = ("credit_line", "max_size", "current", "requested")


def _client_context(request: HttpRequest, client: Any, *, errors: dict[str, dict[str, str]] | None = None,
                    values: dict[str, Any] | None = None) -> dict[str, Any]:
    latest = client.latest_score
    return {
        "client": client,
        "can_edit": _can_edit(request.user, client),
        "latest": latest,
        "history": selectors.score_history(client=client),
        "agreements": selectors.agreements_for_page(client=client),
        "value_options": selectors.agreement_value_options() if _can_edit(request.user, client) else {},
        "today": timezone.now().date(),
        "amount_fields": AMOUNT_FIELDS,
        "date_fields": ("start", "end"),
        "interests": list(client.interests.order_by("id")),
        "rfqs": selectors.recent_rfqs(client=client),
        "trades": selectors.recent_trades(client=client),
        "audit": selectors.client_audit(client=client),
        "credit_requests": list(client.credit_requests.select_related("requested_by", "decided_by")[:10]),
        "tier_band": client.tier,
        "errors": errors or {},
        "values": values or {},
        "is_mgmt": has_role(request.user, MANAGEMENT),
        "tiers": [1, 2, 3],
    }


@login_required
def client_page(request: HttpRequest, code: str) -> HttpResponse:
    _require_reader(request)
    client = _client(request, code)
    return render(request, "crm/client.html", _client_context(request, client))


def _agreement_of(client: Any, request: HttpRequest) -> Agreement:
    a = Agreement.objects.filter(client=client, id=request.POST.get("agreement_id") or 0).select_related(
        "client__tier").first()
    if a is None:
        raise DeskError("No such agreement.", field="agreement_id")
    return a


@login_required
@require_POST
def client_action(request: HttpRequest, code: str, action: str) -> HttpResponse:
    """One POST per change; a refused change re-renders the page with the message at its field."""
    _require_reader(request)
    client = _client(request, code)
    p = request.POST
    u = request.user
    try:
        if action == "tier":
            services.client_tier_change(user=u, client=client, tier=p.get("tier"), reason=p.get("reason", ""))
            messages.success(request, f"Tier set to {p.get('tier')}.")
        elif action == "agreement":
            fields = {k: p.get(k, "") for k in ("scope", "value", "spread_adjustment_bp", "start", "end")}
            fields["value"] = fields["value"] or None
            if p.get("agreement_id"):
                a = services.agreement_update(user=u, agreement=_agreement_of(client, request), **fields,
                                              max_size=p.get("max_size") or None)
                verb = "updated"
            else:
                a = services.agreement_create(user=u, client=client, **fields, max_size=p.get("max_size") or None)
                verb = "created"
            when = "the next RFQ" if a.start <= timezone.now().date() else f"{a.start:%Y-%m-%d}"
            messages.success(request, f"Agreement #{a.id} {verb}; it applies from {when} to {a.end:%Y-%m-%d}.")
        elif action == "agreement_end":
            messages.success(request, services.agreement_end(user=u, agreement=_agreement_of(client, request)).message)
        elif action == "interest":
            services.interest_create(user=u, client=client, scope=p.get("scope"), value=p.get("value"),
                                     side=p.get("side"))
            messages.success(request, "Interest recorded.")
        elif action == "interest_delete":
            interest = Interest.objects.filter(client=client, id=p.get("interest_id") or 0).select_related(
                "client").first()
            if interest is None:
                raise DeskError("No such interest.", field="interest_id")
            services.interest_delete(user=u, interest=interest)
            messages.success(request, "Interest removed.")
        elif action == "credit":
            change = services.credit_line_change(user=u, client=client, credit_line=p.get("credit_line"),
                                                 reason=p.get("reason", ""))
            messages.success(request, "Credit line changed." if change.applied else
                             "Increase requested: management will approve it.")
        else:
            raise Http404("No such action.")
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    except DeskError as exc:
        errors = {action: {exc.field or "__all__": exc.message}}
        client.refresh_from_db()
        ctx = _client_context(request, client, errors=errors, values={action: p.dict()})
        return render(request, "crm/client.html", ctx, status=exc.status if exc.status != 404 else 400)
    return redirect("crm-client", code=client.code)


@login_required
@require_POST
def credit_decide(request: HttpRequest, request_id: int) -> HttpResponse:
    try:
        req = services.credit_request_decide(user=request.user, request_id=request_id,
                                             approve=request.POST.get("approve") == "1")
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    except DeskError as exc:
        messages.error(request, exc.message)
        return redirect("crm-home")
    messages.success(request, f"Credit request for {req.client.code} {req.status}.")
    return redirect(request.POST.get("next") or "crm-home")


@login_required
@require_POST
def scores_recompute(request: HttpRequest) -> HttpResponse:
    try:
        run = services.score_run_start(user=request.user)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse(_run_payload(run) or {}, status=202)
    messages.success(request, "Score recomputation started.")
    return redirect("crm-home")


@login_required
def score_run(request: HttpRequest) -> JsonResponse:
    _require_reader(request)
    return JsonResponse({"run": _run_payload(ScoreRun.objects.first())})


def _csv_upload(request: HttpRequest) -> tuple[str, list[tuple[int, str, str]]]:
    upload = request.FILES.get("file")
    if upload is None:
        return "", [(0, "file", "choose a CSV file")]
    try:
        return upload.read().decode("utf-8"), []
    except UnicodeDecodeError:
        return "", [(0, "file", "the file is not UTF-8 text")]


def _import(request: HttpRequest, importer: Any, noun: str) -> HttpResponse:
    if not has_role(request.user, RM, MANAGEMENT):
        raise PermissionDenied(f"Only relationship managers and management may import {noun}.")
    text, errors = _csv_upload(request)
    if not errors:
        try:
            created = importer(user=request.user, text=text)
        except services.CsvImportError as exc:
            errors = exc.errors
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from None
        else:
            messages.success(request, f"Imported {len(created)} {noun}.")
            return redirect("crm-home")
    return render(request, "crm/import_result.html", {"errors": errors}, status=400)


@login_required
@require_POST
def import_agreements(request: HttpRequest) -> HttpResponse:
    return _import(request, services.agreements_import_csv, "agreement(s)")


@login_required
@require_POST
def import_clients(request: HttpRequest) -> HttpResponse:
    return _import(request, services.clients_import_csv, "client(s)")


#: Columns of the tier table: field, header, unit.
TIER_COLUMNS = (("quote_ttl_seconds", "Quote TTL", "s"), ("review_deadline_seconds", "Review deadline", "s"),
                ("decision_band_bp", "Decision band", "bp"), ("agreement_min_bp", "Agreement min", "bp"),
                ("agreement_max_bp", "Agreement max", "bp"))
#: Columns of each tier in the per-asset-class table: field, header, unit.
LIMIT_COLUMNS = (("base_spread_bp", "Base spread", "bp"), ("auto_size", "Automatic size", "face"),
                 ("max_size", "Maximum size", "face"))
#: The preview lists at most this many of the clients whose suggested tier would change.
PREVIEW_LIMIT = 100


def _number(v: Any) -> str:
    """A setting as the form shows it: 5.0 -> "5", Decimal 1000000000.00 -> "1,000,000,000"."""
    if isinstance(v, Decimal):
        return f"{v:,.2f}".removesuffix(".00")
    if isinstance(v, float):
        return f"{v:.10g}"
    return "" if v is None else str(v)


def _settings_values() -> dict[str, Any]:
    s = services.scoring_settings_get()
    v: dict[str, Any] = {f: getattr(s, f) for f in ("weight_volume", "weight_profitability", "weight_flow_quality",
                                                   "weight_diversification", "tier1_threshold", "tier2_threshold")}
    for t in Tier.objects.order_by("number"):
        for f in services.TIER_FIELDS:
            v[f"tier{t.number}_{f}"] = getattr(t, f)
    for lim in TierLimit.objects.select_related("tier", "asset_class"):
        for f in services.LIMIT_FIELDS:
            v[f"limit{lim.tier.number}_{lim.asset_class.code}_{f}"] = getattr(lim, f)
    return v


def _settings_label(field: str | None, tiers: list[Tier]) -> str:
    """A settings field's name as the page shows it ("Tier 3 · hy_corp · Automatic size (face)")."""
    if not field:
        return ""
    for t in tiers:
        for f, head, unit in TIER_COLUMNS:
            if field == f"tier{t.number}_{f}":
                return f"Tier {t.number} · {head} ({unit})"
        for f, head, unit in LIMIT_COLUMNS:
            prefix, suffix = f"limit{t.number}_", f"_{f}"
            if field.startswith(prefix) and field.endswith(suffix):
                return f"Tier {t.number} · {field[len(prefix):-len(suffix)]} · {head} ({unit})"
    return field.replace("_", " ").capitalize()


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    if not has_role(request.user, MANAGEMENT):
        raise PermissionDenied("Scoring and tier settings are for management.")
    values = {k: _number(v) for k, v in _settings_values().items()}
    preview = error = None
    status = 200
    if request.method == "POST":
        values.update({k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"})
        try:
            if request.POST.get("action") == "save":
                rt = services.settings_update(user=request.user, data=request.POST)
                messages.success(request, f"Settings saved: {rt.n_changed} client(s) changed suggested tier.")
                return redirect("crm-settings")
            preview = services.settings_preview(user=request.user, data=request.POST)
        except DeskError as exc:
            error, status = {"field": exc.field, "message": exc.message}, exc.status
    tiers = list(Tier.objects.order_by("number"))
    if error is not None:
        error["label"] = _settings_label(error["field"], tiers)
    bad = error["field"] if error else None
    limits = list(TierLimit.objects.select_related("tier", "asset_class").order_by("asset_class__code", "tier__number"))
    codes = sorted({lim.asset_class.code for lim in limits})

    def cell(name: str, label: str, kind: str) -> dict[str, Any]:
        return {"name": name, "value": values.get(name, ""), "label": label, "kind": kind, "invalid": name == bad}

    tier_rows = [{"tier": t, "inputs": [cell(f"tier{t.number}_{f}", f"Tier {t.number} {head} ({unit})", unit)
                                        for f, head, unit in TIER_COLUMNS]} for t in tiers]
    limit_rows = [{"code": c, "inputs": [cell(f"limit{t.number}_{c}_{f}", f"Tier {t.number} {c} {head} ({unit})",
                                              "amount" if unit == "face" else unit)
                                         for t in tiers for f, head, unit in LIMIT_COLUMNS]} for c in codes]
    from crm.models import ScoringSettings

    hist = list(ScoringSettings.history.select_related("history_user").order_by("-history_date")[:20])
    tier_hist = list(Tier.history.select_related("history_user").order_by("-history_date")[:20])
    return render(request, "crm/settings.html", {
        "values": values, "preview": preview, "error": error, "tiers": tiers, "limit_rows": limit_rows,
        "tier_rows": tier_rows, "tier_columns": TIER_COLUMNS, "limit_columns": LIMIT_COLUMNS,
        "preview_changes": preview.changes(limit=PREVIEW_LIMIT) if preview is not None else [],
        "preview_limit": PREVIEW_LIMIT, "settings_history": hist, "tier_history": tier_hist,
    }, status=status)
