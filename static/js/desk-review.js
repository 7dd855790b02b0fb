/* The Tier 1 review cockpit: claim on open, countdown to the review deadline, the
   recommendation with win probability and expected P&L recomputed as the price moves (the
   same formula as dealer.desk.cockpit.winprob_at), a Plotly waterfall of the price
   components, and the decision buttons with keyboard shortcuts. */
(function () {
  "use strict";
  const D = window.Desk;
  const root = document.getElementById("cockpit");
  const rfqId = Number(root.dataset.rfqId);
  const me = root.dataset.user;
  const canDecide = root.dataset.canDecide === "1";
  let row = D.json("rfq-row");
  const ctx = D.json("cockpit-context");
  const W = ctx.winprob;
  const rec = row.recommendation;
  const side = row.side === "buy" ? 1 : -1;
  const $ = (id) => document.getElementById(id);
  const form = $("decision-form");
  const msg = $("decision-message");
  let claimTimer = null;
  let locked = null;          // why deciding is not possible now (null: it is)
  let busy = false;
  let decidedBy = null;       // {by, action} from the review.decision event

  /* ---- numbers --------------------------------------------------------------------------- */
  const recPrice = rec ? Number(rec.price) : null;
  const mid = rec ? Number(rec.mid) : null;
  const bpOf = (p) => (side * (recPrice - p) / mid) * 1e4;          // + = better for the client
  const priceOf = (bp) => recPrice - (side * bp * mid) / 1e4;
  const round6 = (x) => Math.round(x * 1e6) / 1e6;

  function winprob(price, qty) {
    if (!W || !(price > 0) || !(qty > 0)) return [null, null];
    const m = W.mid, s = W.side, c = W.coef;
    const px = price - (s * W.agreement_bp * m) / 1e4;
    const d = (s * (px - m)) / (W.base_spread_bp * m * 1e-4);
    const z = c[0] + c[1] * d + c[2] * Math.log(qty) + c[3] * (W.tier === 2 ? 1 : 0) + c[4] * (W.tier === 3 ? 1 : 0);
    const pw = 0.5 * (1 + Math.tanh(0.5 * z));
    return [pw, (pw * (s * (px - m) - (W.risk_cost_bp * m) / 1e4) * qty) / 100];
  }

  function currentPrice() {
    const v = form ? Number(String($("price").value).replace(/,/g, "")) : recPrice;
    return Number.isFinite(v) ? v : NaN;
  }
  function currentQty() {
    const v = form ? Number(String($("quantity").value).replace(/,/g, "")) : Number(row.quantity);
    return Number.isFinite(v) ? v : NaN;
  }

  /* ---- rendering ------------------------------------------------------------------------- */
  function renderRecommendation() {
    if (!rec) {
      $("rec-price").textContent = "no recommendation (not a reviewed RFQ)";
      return;
    }
    $("rec-price").innerHTML = `<span data-price="${rec.price}">${D.num(rec.price, 4)}</span>`;
    $("rec-size").textContent = D.qty(rec.quantity);
    $("rec-ci").textContent = `${D.num(rec.ci_low, 4)} – ${D.num(rec.ci_high, 4)}`;
    $("rec-mid").textContent = D.num(rec.mid, 4) + ` (half-spread ${D.num(rec.half_spread_bp, 2)} bp)`;
    $("rec-impact").textContent = D.num(rec.impact_bp, 2) + " bp";
    $("rec-wp").textContent = D.pct(rec.win_probability);
    $("rec-pnl").textContent = D.money(rec.expected_pnl);
  }

  function renderAtPrice() {
    if (!rec) return;
    const p = currentPrice(), q = currentQty();
    const [pw, e] = winprob(p, q);
    const bp = bpOf(p);
    $("at-price").textContent = Number.isFinite(p) ? D.num(p, 4) : "–";
    const shown = Math.round(bp * 100) / 100 + 0; // + 0: a -0.001 bp departure reads 0.00, not +-0.00
    $("at-dep").textContent = Number.isFinite(bp) ? (shown > 0 ? "+" : "") + D.num(shown, 2) + " bp" : "–";
    $("at-wp").textContent = pw === null ? "–" : D.pct(pw);
    $("at-wp").dataset.value = pw === null ? "" : String(pw);
    $("at-pnl").textContent = e === null ? "–" : D.money(e);
    $("at-pnl").dataset.value = e === null ? "" : String(e);
    if (form) {
      const band = W ? W.decision_band_bp : 5;
      const beyond = Math.abs(bp) > band + 1e-9;
      $("reason-hint").textContent = beyond ? `(required: ${D.num(Math.abs(bp), 1)} bp beyond the ${band} bp band)` : "";
      $("reason").classList.toggle("required", beyond);
    }
    renderWaterfall(p);
  }

  function renderWaterfall(p) {
    const el = $("waterfall");
    if (!window.Plotly || !el) return;
    const comps = (rec && rec.components) || (row.quote && row.quote.components) || {};
    const names = Object.keys(comps).filter((k) => k !== "trader");
    const labels = names.slice(), values = names.map((k) => comps[k]), measure = names.map(() => "relative");
    const model = values.reduce((a, b) => a + b, 0);
    labels.push("model quote"); values.push(model); measure.push("total");
    if (rec) {
      const recBp = (side * (recPrice - mid) / mid) * 1e4;
      labels.push("win-prob optimum"); values.push(recBp - model); measure.push("relative");
      labels.push("recommended"); values.push(recBp); measure.push("total");
      if (Number.isFinite(p)) {
        labels.push("trader"); values.push(-bpOf(p)); measure.push("relative");
        labels.push("your price"); values.push(recBp - bpOf(p)); measure.push("total");
      }
    }
    const data = [{
      type: "waterfall", orientation: "v", x: labels, y: values, measure,
      text: values.map((v) => D.num(v, 2)), textposition: "outside", cliponaxis: false,
      increasing: { marker: { color: "#ff8a5c" } }, decreasing: { marker: { color: "#2ecc71" } },
      totals: { marker: { color: "#3fa7ff" } }, connector: { line: { color: "#3a4754" } },
    }];
    const layout = {
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: { color: "#d9e1e8", size: 11 },
      margin: { l: 40, r: 10, t: 10, b: 80 }, height: 300, showlegend: false,
      yaxis: { title: "bp", gridcolor: "#26323d", zerolinecolor: "#3a4754" }, xaxis: { tickangle: -40 },
    };
    window.Plotly.react(el, data, layout, { displayModeBar: false, responsive: true, staticPlot: false });
  }

  function table(rows, cols) {
    if (!rows || !rows.length) return '<p class="muted">none</p>';
    return `<table class="compact"><thead><tr>${cols.map((c) => `<th${c.num ? ' class="num"' : ""}>${c.h}</th>`).join("")}</tr></thead><tbody>${
      rows.map((r) => `<tr${r.id && cols[0].rfq ? ` data-rfq-id="${r.id}"` : ""}>${cols.map((c) => `<td${c.num ? ' class="num"' : ""}>${c.f(r)}</td>`).join("")}</tr>`).join("")
    }</tbody></table>`;
  }

  function renderContext() {
    const a = ctx.activity;
    $("activity-summary").innerHTML = `<dt>Hit ratio</dt><dd id="hit-ratio">${a.hit_ratio === null ? "no quotes yet" : D.pct(a.hit_ratio) + ` of ${a.hit_window} quotes`}</dd>
      <dt>Avg markout</dt><dd>${a.markout_by_horizon.length ? a.markout_by_horizon.map((m) => `${D.horizon(m.horizon_seconds)} ${D.num(m.avg_bp, 2)} bp`).join(" · ") : "none yet"}</dd>`;
    $("activity-trades").innerHTML = table(a.trades, [
      { h: "Booked", f: (t) => D.time(t.booked_at) }, { h: "ISIN", f: (t) => D.esc(t.isin) },
      { h: "Side", f: (t) => `<span class="side-${t.side}">${t.side}</span>` },
      { h: "Size", num: 1, f: (t) => D.qty(t.quantity) }, { h: "Price", num: 1, f: (t) => D.price(t.price) }]);
    $("activity-rfqs").innerHTML = table(a.rfqs, [
      { h: "Id", rfq: 1, f: (r) => `<a href="/desk/review/${r.id}/">${r.id}</a>` }, { h: "ISIN", f: (r) => D.esc(r.isin) },
      { h: "Side", f: (r) => `<span class="side-${r.side}">${r.side}</span>` }, { h: "Size", num: 1, f: (r) => D.qty(r.quantity) },
      { h: "Status", f: (r) => `<span class="status status-${D.esc(r.status)}">${D.esc(r.status.replace("_", " "))}</span>` }, { h: "Price", num: 1, f: (r) => D.price(r.price) }]);
    $("activity-markouts").innerHTML = table(a.markouts, [
      { h: "Trade", f: (m) => m.trade_id }, { h: "ISIN", f: (m) => D.esc(m.isin) }, { h: "Horizon", num: 1, f: (m) => D.horizon(m.horizon_seconds) },
      { h: "bp", num: 1, f: (m) => D.num(m.markout_bp, 2) }, { h: "P&L", num: 1, f: (m) => D.money(m.pnl) }]);
    const p = ctx.desk.position;
    $("desk-position").innerHTML = p ? `<dt>Position</dt><dd id="position-qty">${D.qty(p.quantity)}</dd><dt>Avg price</dt><dd>${D.price(p.avg_price)}</dd>
      <dt>Mid</dt><dd>${D.price(p.mid)}</dd><dt>Realized</dt><dd>${D.money(p.realized_pnl)}</dd><dt>Unrealized</dt><dd>${D.money(p.unrealized_pnl)}</dd>
      <dt>Interested clients</dt><dd>${p.interested_clients.map((c) => c.code + " " + c.side).join(", ") || "none"}</dd>`
      : '<dt>Position</dt><dd id="position-qty">flat</dd>';
    $("desk-axes").innerHTML = table(ctx.desk.axes, [
      { h: "Desk", f: (x) => `<span class="side-${x.side}">${x.side}</span>` }, { h: "Size", num: 1, f: (x) => D.qty(x.quantity) },
      { h: "Note", f: (x) => D.esc(x.note) }, { h: "By", f: (x) => D.esc(x.created_by || "") }]);
    const i = ctx.impact;
    $("trade-impact").innerHTML = i ? `<dt>Desk trade</dt><dd>${D.qty(i.desk_quantity)}</dd>
      <dt>Position</dt><dd>${D.qty(i.position_before)} → ${D.qty(i.position_after)} ${i.reduces_risk ? '<span class="good">reduces</span>' : ""}</dd>
      <dt>Edge at rec</dt><dd>${D.money(i.edge_pnl)}</dd>
      <dt>Inventory-risk cost</dt><dd>${D.money(i.inventory_risk_cost)}</dd>
      <dt>Impact + hedge + funding</dt><dd>${D.money(i.impact_cost + i.hedge_cost + i.funding_cost)}</dd>
      <dt>Net P&amp;L if done</dt><dd>${D.money(i.net_pnl)}</dd>
      <dt>Axe</dt><dd class="axe-${i.axe}">${i.axe === "toward" ? "moves the book toward a desk axe" : i.axe === "against" ? "against a desk axe" : "no axe"}</dd>
      ${i.risk ? `<dt>Book 1-day risk</dt><dd>${D.money(i.risk.book_risk_before)} → ${D.money(i.risk.book_risk_after)} (${i.risk.book_risk_change >= 0 ? "+" : ""}${D.money(i.risk.book_risk_change)})</dd>` : ""}`
      : "<dt>Impact</dt><dd>n/a</dd>";
  }

  function renderStatus() {
    const st = $("rfq-status");
    st.className = "status status-" + row.status;
    st.textContent = row.status.replace("_", " ");
    $("rfq-reason").textContent = row.reason || "";
    root.classList.toggle("alert", row.status === "pending_review");
    $("deadline").dataset.until = row.status === "pending_review" ? row.review_deadline || "" : "";
    if (row.status !== "pending_review") {
      $("deadline").textContent = row.status === "expired" ? "expired" : "closed";
      let text;
      if (row.status === "quoted" && row.quote) text = `Quoted ${D.num(row.quote.price, 4)} for ${D.qty(row.quote.quantity)} — the client has it.`;
      else if (row.status === "booked") text = `Booked at ${row.quote ? D.num(row.quote.price, 4) : ""}: trade ${row.trade_id}.`;
      else if (row.status === "expired") text = `Expired: ${row.reason || "no decision before the review deadline"}.`;
      else if (row.status === "declined") text = `Declined: ${row.reason}.`;
      else text = `RFQ is ${row.status}${row.reason ? ": " + row.reason : ""}.`;
      if (decidedBy && decidedBy.by !== me) text = `Already decided by ${decidedBy.by} (${decidedBy.action}). ` + text;
      if ($("claim-state").dataset.by) claimedBy($("claim-state").dataset.by);
      lock(text, row.status === "quoted" || row.status === "booked" ? "ok" : "info");
    }
  }

  function tick() {
    const el = $("deadline");
    const until = el.dataset.until;
    if (!until) return;
    const left = D.secondsLeft(until);
    el.textContent = D.countdown(until);
    el.classList.toggle("urgent", left < 15);
    if (left <= 0 && !locked) lock("The review deadline has passed: this RFQ can no longer be decided.", "error");
  }

  /* ---- messages and locking -------------------------------------------------------------- */
  function say(text, kind) {
    msg.textContent = text;
    msg.className = "decision-message " + (kind || "info");
  }
  function setButtons(enabled) {
    document.querySelectorAll("#decide-card button, #decide-card input").forEach((b) => { b.disabled = !enabled; });
  }
  function lock(text, kind) {
    locked = text;
    clearInterval(claimTimer);
    setButtons(false);
    say(text, kind);
  }
  function claimedBy(who) {
    const open = row.status === "pending_review";
    $("claim-state").textContent = !open ? `Claimed by ${who === me ? "you" : who}` : who === me ? "You have this RFQ" : `Claimed by ${who}`;
    $("claim-state").className = "claim-state " + (who === me ? "mine" : "theirs");
    $("claim-state").dataset.by = who;
  }

  async function claim() {
    try {
      await D.api(`/api/desk/rfqs/${rfqId}/claim/`, { method: "POST" });
      claimedBy(me);
      if (!locked) setButtons(true);
      return true;
    } catch (e) {
      await refresh();
      if (row.status !== "pending_review") return false;
      if (row.claimed_by && row.claimed_by !== me) {
        claimedBy(row.claimed_by);
        lock(`Claimed by ${row.claimed_by}: only they can decide this RFQ now.`, "error");
      } else {
        lock(e.message, "error");
      }
      return false;
    }
  }

  async function refresh() {
    try {
      row = await D.api(`/api/desk/rfqs/${rfqId}/`);
      renderStatus();
      if (row.claimed_by) claimedBy(row.claimed_by);
    } catch (e) { /* keep the last view; the socket state shows why */ }
  }

  /* ---- decisions ------------------------------------------------------------------------- */
  function preflight(action) {
    if (action === "decline" || action === "send") return null;
    const p = currentPrice();
    if (!(p > 0)) return "Enter a positive price per 100 face.";
    const fromMid = Math.abs((p - mid) / mid) * 1e4;
    const sanity = W ? W.sanity_band_bp : 500;
    if (fromMid > sanity) return `price: ${D.num(fromMid, 0)} bp from the mid is beyond the ${sanity} bp sanity band: refused.`;
    const q = currentQty();
    if (!(q > 0) || q > Number(row.quantity)) return `quantity: must be more than 0 and at most the requested ${D.qty(row.quantity)}.`;
    return null;
  }

  async function decide(action) {
    if (busy || locked) { if (locked) say(locked, "error"); return; }
    if (action !== "decline") disarm();
    const bad = preflight(action);
    if (bad) { say(bad, "error"); $("price").focus(); return; }
    const body = { action };
    const reason = $("reason").value.trim();
    if (reason) body.reason = reason;
    if (action === "improve" || action === "worsen") body.price = round6(currentPrice()).toFixed(6);
    const q = currentQty();
    if (action !== "decline" && q !== Number(row.quantity)) body.quantity = q.toFixed(2);
    busy = true;
    setButtons(false);
    say("Sending…", "info");
    try {
      row = await D.api(`/api/desk/rfqs/${rfqId}/decision/`, { method: "POST", body });
      renderStatus();
    } catch (e) {
      say(e.message, "error");
      if (e.status === 409) await refresh();
      if (!locked) setButtons(true);
    } finally {
      busy = false;
    }
  }

  /* A decline ends the client's request: the first D (or click) arms it, a second within 5 s
     declines, with the reason in the box if there is one. Escape or the wait disarms it. */
  let armed = null;
  function disarm() {
    if (!armed) return;
    clearTimeout(armed);
    armed = null;
    const b = form && form.querySelector('button[data-action="decline"]');
    if (b) { b.classList.remove("armed"); b.textContent = "Decline"; }
    if (!locked && !busy) say("", "info");
  }
  function decline() {
    if (busy || locked) { if (locked) say(locked, "error"); return; }
    if (armed) { disarm(); return decide("decline"); }
    const b = form.querySelector('button[data-action="decline"]');
    b.classList.add("armed");
    b.textContent = "Confirm decline";
    say(`Decline RFQ ${rfqId} of ${row.client}? Press D or click Confirm decline again within 5 s (Esc cancels).`, "error");
    armed = setTimeout(disarm, 5000);
  }

  /* Enter: send at the price in the form; the action follows from where it stands. */
  function decideAtPrice() {
    const p = round6(currentPrice());
    if (Math.abs(p - recPrice) < 5e-7) return decide("send");
    return decide(bpOf(p) > 0 ? "improve" : "worsen");
  }

  function setPrice(p) {
    $("price").value = round6(p).toFixed(6);
    $("price-bp").value = D.num(bpOf(p), 2).replace(/,/g, "");
    renderAtPrice();
  }
  function nudge(bp) { setPrice(priceOf(bpOf(currentPrice()) + bp)); }

  if (form && rec) {
    setPrice(recPrice);
    $("quantity").value = Number(row.quantity).toFixed(2);
    $("price").addEventListener("input", () => {
      const p = currentPrice();
      if (Number.isFinite(p)) $("price-bp").value = D.num(bpOf(p), 2).replace(/,/g, "");
      renderAtPrice();
    });
    $("price-bp").addEventListener("input", () => {
      const bp = Number($("price-bp").value);
      if (Number.isFinite(bp)) $("price").value = round6(priceOf(bp)).toFixed(6);
      renderAtPrice();
    });
    $("quantity").addEventListener("input", renderAtPrice);
    form.querySelectorAll("[data-nudge]").forEach((b) => b.addEventListener("click", () => nudge(Number(b.dataset.nudge))));
    form.querySelector("[data-reset]").addEventListener("click", () => setPrice(recPrice));
    form.querySelectorAll("button[data-action]").forEach((b) => b.addEventListener("click", () => (
      b.dataset.action === "decline" ? decline() : decide(b.dataset.action))));
    /* Keys act on the page, never on what the trader is typing or pointing at: Enter on a focused
       button or link presses it (Enter on Decline declines, it doesn't send), Enter in the price,
       bp, size or reason box sends at the price in the form; letters typed in a box are text. */
    document.addEventListener("keydown", (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
      const t = e.target;
      const inField = t.closest && t.closest("input, textarea, select");
      const onControl = t.closest && t.closest("button, a, summary");
      if (e.key === "Escape") { disarm(); if (!inField || ["price", "price-bp"].includes(t.id)) setPrice(recPrice); return; }
      if (e.key === "Enter") {
        if (onControl || (inField && !form.contains(t))) return;
        e.preventDefault();
        decideAtPrice();
        return;
      }
      if (inField && ["price", "price-bp"].includes(t.id) && (e.key === "ArrowUp" || e.key === "ArrowDown")) {
        e.preventDefault(); // in the price boxes the arrows nudge: up improves for the client
        nudge((e.key === "ArrowUp" ? 1 : -1) * (e.shiftKey ? 5 : 0.5));
        return;
      }
      if (inField || onControl) return;
      const k = e.key.toLowerCase();
      if (k === "i") { e.preventDefault(); nudge(e.shiftKey ? 5 : 0.5); }
      else if (k === "w") { e.preventDefault(); nudge(e.shiftKey ? -5 : -0.5); }
      else if (k === "d") { e.preventDefault(); decline(); }
      else if (k === "s") { e.preventDefault(); decide("send"); }
    });
  } else if (form) {
    lock("This RFQ has no recommendation to decide from.", "info");
  }

  /* ---- live ------------------------------------------------------------------------------ */
  function onEvent(m) {
    if (m.type === "rfq" && m.rfq.id === rfqId) {
      row = m.rfq;
      renderStatus();
      if (row.claimed_by) claimedBy(row.claimed_by);
    } else if (m.type === "review.claimed" && m.rfq_id === rfqId) {
      claimedBy(m.by);
      if (m.by !== me && canDecide && row.status === "pending_review") lock(`Claimed by ${m.by}: only they can decide this RFQ now.`, "error");
    } else if (m.type === "review.decision" && m.rfq_id === rfqId) {
      decidedBy = { by: m.by, action: m.action };
      if (m.by !== me) lock(`Already decided by ${m.by} (${m.action}).`, "error");
    }
  }

  renderRecommendation();
  renderContext();
  renderStatus();
  renderAtPrice();
  /* Plotly (4.8 MB) loads beside the page: the decision is usable at once, the chart follows. */
  const plotlyJs = document.getElementById("plotly-js");
  if (!window.Plotly && plotlyJs) plotlyJs.addEventListener("load", () => renderWaterfall(currentPrice()));
  if (row.claimed_by) claimedBy(row.claimed_by);
  setInterval(tick, 250);
  tick();
  if (canDecide && row.status === "pending_review" && !locked) {
    setButtons(false);
    claim().then((ok) => {
      if (ok) claimTimer = setInterval(() => { if (!locked && row.status === "pending_review") claim(); }, 30000);
    });
  }
  window.deskSocket = new D.DeskSocket({ onEvent, onSync: refresh });
  window.deskCockpit = { winprob, decide, nudge, setPrice, get row() { return row; } };
})();
