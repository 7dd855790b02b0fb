/* The live RFQ blotter: every RFQ as it arrives and moves, filtered and sorted in the page,
   updated over /ws/desk/ and re-synced over GET /api/desk/rfqs/ after each reconnection. */
(function () {
  "use strict";
  const D = window.Desk;
  const card = document.getElementById("blotter-card");
  const senior = card.dataset.senior === "1";
  const tbody = document.querySelector("#blotter tbody");
  const filtersForm = document.getElementById("filters");
  const alerts = document.getElementById("review-alerts");
  const OPEN = new Set(["received", "pricing", "pending_review", "quoted", "accepted"]);
  const rows = new Map();
  let sort = { key: "received_at", dir: -1 };
  const flashed = new Set();

  function upsert(row) {
    const prev = rows.get(row.id);
    if (prev && prev.status !== row.status) flashed.add(row.id);
    if (!prev) flashed.add(row.id);
    rows.set(row.id, row);
  }
  (D.json("blotter-rows") || []).forEach(upsert);
  flashed.clear();

  function filters() {
    const f = Object.fromEntries(new FormData(filtersForm).entries());
    f.client = (f.client || "").trim().toUpperCase();
    return f;
  }
  function visible(r, f) {
    if (f.tier && String(r.tier) !== f.tier) return false;
    if (f.status && r.status !== f.status) return false;
    if (f.asset_class && r.asset_class !== f.asset_class) return false;
    if (f.client && !r.client.toUpperCase().includes(f.client)) return false;
    if (f.open && !OPEN.has(r.status)) return false;
    return true;
  }
  function ttlTarget(r) {
    if (r.status === "pending_review") return r.review_deadline;
    if (r.status === "quoted" && r.quote) return r.quote.valid_until;
    return null;
  }
  function price(r) {
    if (r.quote) return r.quote.price;
    if (r.recommendation && r.status === "pending_review") return r.recommendation.price;
    return null;
  }
  function sortValue(r, key) {
    switch (key) {
      case "quantity": return Number(r.quantity);
      case "price": return Number(price(r) || 0);
      case "ttl": { const s = D.secondsLeft(ttlTarget(r)); return s === null ? Infinity : s; }
      case "id": case "tier": return Number(r[key]);
      default: return String(r[key] || "");
    }
  }
  /* A row's markup without its countdown (tick fills that in): a row whose markup is unchanged
     keeps its element, so an event re-draws only the rows it moved (hover, focus and text
     selection survive, and the review banners don't flicker). */
  function rowHtml(r) {
    const p = price(r);
    const isRec = !r.quote && p;
    const target = ttlTarget(r);
    const pending = r.status === "pending_review";
    const review = pending || (r.tier === 1 && r.recommendation)
      ? `<a class="btn-link" href="/desk/review/${r.id}/">${pending && senior ? "Review" : "Open"}</a>` : "";
    return `<td class="num">${r.id}</td><td title="${D.esc(r.received_at)}">${D.time(r.received_at)}</td>
      <td title="${D.esc(r.client_name)}">${D.esc(r.client)}</td><td>${r.tier}</td>
      <td title="${D.esc(r.description)}">${D.esc(r.isin)} <span class="muted">${D.esc(r.asset_class)}</span></td>
      <td class="side-${D.esc(r.side)}">${D.esc(r.side)}</td><td class="num">${D.qty(r.quantity)}</td>
      <td class="num price" data-price="${p || ""}">${p ? D.price(p) : ""}${isRec ? ' <span class="muted">rec</span>' : ""}</td>
      <td><span class="status status-${D.esc(r.status)}">${D.esc(r.status.replace("_", " "))}</span>${r.reason && !OPEN.has(r.status) ? ` <span class="muted small reason-mark" title="${D.esc(r.reason)}">?</span>` : ""}</td>
      <td class="num ttl" data-until="${target || ""}"></td>
      <td>${D.esc(r.claimed_by || "")}</td><td>${review}</td>`;
  }
  const drawn = new Map(); // id -> {el, html}
  function rowElement(r) {
    const html = rowHtml(r);
    const had = drawn.get(r.id);
    if (had && had.html === html) return had.el;
    const el = document.createElement("tr");
    el.dataset.rfqId = r.id;
    el.dataset.status = r.status;
    el.innerHTML = html;
    if (flashed.has(r.id)) el.className = "flash";
    drawn.set(r.id, { el, html });
    return el;
  }
  /* Keep the closed RFQs of the last MAX_ROWS at most in the page (a busy desk sees hundreds a
     minute); every open one stays. */
  const MAX_ROWS = 1000;
  function prune() {
    if (rows.size <= MAX_ROWS) return;
    const closed = [...rows.values()].filter((r) => !OPEN.has(r.status)).sort((a, b) => a.id - b.id);
    for (const r of closed.slice(0, rows.size - MAX_ROWS)) { rows.delete(r.id); drawn.delete(r.id); }
  }
  function render() {
    prune();
    const f = filters();
    const list = [...rows.values()].filter((r) => visible(r, f));
    list.sort((a, b) => {
      const x = sortValue(a, sort.key), y = sortValue(b, sort.key);
      return (x < y ? -1 : x > y ? 1 : b.id - a.id) * sort.dir;
    });
    const wanted = list.map(rowElement);
    const keep = new Set(wanted);
    [...tbody.children].forEach((el) => { if (!keep.has(el)) el.remove(); });
    let at = tbody.firstElementChild;
    for (const el of wanted) {
      if (el === at) { at = at.nextElementSibling; continue; }
      tbody.insertBefore(el, at);
    }
    flashed.clear();
    document.getElementById("blotter-count").textContent = `${list.length} shown of ${rows.size} loaded`;
    document.querySelectorAll("#blotter th[data-sort]").forEach((th) => {
      th.classList.toggle("sorted", th.dataset.sort === sort.key);
      th.dataset.dir = th.dataset.sort === sort.key ? (sort.dir > 0 ? "asc" : "desc") : "";
    });
    renderAlerts();
    tick();
  }
  /* Events come in bursts (hundreds a second under load): one render a frame. */
  let queued = false;
  function renderSoon() {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; render(); });
  }
  function tick() {
    tbody.querySelectorAll("td.ttl[data-until]").forEach((td) => {
      const until = td.dataset.until;
      if (!until) return;
      td.textContent = D.countdown(until);
      td.classList.toggle("urgent", D.secondsLeft(until) < 10);
    });
    alerts.querySelectorAll("[data-until]").forEach((el) => { el.textContent = D.countdown(el.dataset.until); });
  }

  const alertDrawn = new Map(); // id -> {el, html}
  function renderAlerts() {
    if (!senior) return;
    const pending = [...rows.values()].filter((r) => r.status === "pending_review").sort((a, b) => a.id - b.id);
    const wanted = pending.map((r) => {
      const html = `<strong>Review</strong> #${r.id} ${D.esc(r.client)} T${r.tier} ${D.esc(r.side)} ${D.qty(r.quantity)} ${D.esc(r.isin)}
      ${r.recommendation ? "rec " + D.price(r.recommendation.price) : ""}
      ${r.claimed_by ? `<span class="muted">· ${D.esc(r.claimed_by)}</span>` : ""}
      <span class="countdown" data-until="${r.review_deadline || ""}"></span>`;
      const had = alertDrawn.get(r.id);
      if (had && had.html === html) return had.el;
      const el = had ? had.el : document.createElement("a");
      el.className = "review-alert";
      el.dataset.rfqId = r.id;
      el.href = `/desk/review/${r.id}/`;
      el.innerHTML = html;
      alertDrawn.set(r.id, { el, html });
      return el;
    });
    const keep = new Set(wanted);
    [...alerts.children].forEach((el) => { if (!keep.has(el)) { el.remove(); alertDrawn.delete(Number(el.dataset.rfqId)); } });
    let at = alerts.firstElementChild;
    for (const el of wanted) {
      if (el === at) { at = at.nextElementSibling; continue; }
      alerts.insertBefore(el, at);
    }
    document.title = (pending.length ? `(${pending.length}) ` : "") + "Blotter · Dealer desk";
  }

  /* Kill and stress switches that are on, as a banner: automatic quoting stopped is the first
     thing a trader must see. */
  const switchesOn = new Map(); // "name:scope" -> switch
  const banner = document.getElementById("switch-banner");
  function renderSwitches() {
    const on = [...switchesOn.values()].sort((a, b) => (a.name + a.scope).localeCompare(b.name + b.scope));
    banner.hidden = on.length === 0;
    banner.innerHTML = on.map((s) => `<div class="switch-on-banner ${s.name === "kill" ? "kill" : "stress"}" data-switch="${D.esc(s.name)}:${D.esc(s.scope)}">
      <strong>${s.name === "kill" ? "Kill switch on" : "Stress on"}: ${D.esc(s.scope)}</strong>
      ${s.name === "kill" ? (s.scope === "desk" ? "automatic quoting is stopped desk-wide: RFQs go to review" : `automatic quoting is stopped for ${D.esc(s.scope)}: its RFQs go to review`) : "the market is in its stressed regime"}
      <span class="muted">· ${D.esc(s.changed_by || "")} ${D.time(s.changed_at)}${s.reason ? " · " + D.esc(s.reason) : ""}</span></div>`).join("");
  }
  function applySwitch(s) {
    const key = `${s.name}:${s.scope}`;
    if (s.on) switchesOn.set(key, s); else switchesOn.delete(key);
    renderSwitches();
  }

  let syncing = null;
  async function sync() {
    const f = filters();
    const q = new URLSearchParams();
    ["tier", "status", "asset_class", "client"].forEach((k) => { if (f[k]) q.set(k, f[k]); });
    const [body, sw] = await Promise.all([D.api("/api/desk/rfqs/?" + q.toString()), D.api("/api/desk/switches/")]);
    body.results.forEach(upsert);
    switchesOn.clear();
    sw.results.forEach(applySwitch);
    renderSwitches();
    render();
  }
  function resync() {
    syncing = sync().catch((e) => console.warn("re-sync failed", e));
    return syncing;
  }

  function onEvent(msg) {
    if (msg.type === "rfq" || msg.type === "review.request") {
      upsert(msg.rfq);
      renderSoon();
    } else if (msg.type === "review.claimed") {
      const r = rows.get(msg.rfq_id);
      if (r) { rows.set(r.id, { ...r, claimed_by: msg.by }); renderSoon(); }
    } else if (msg.type === "switch") {
      applySwitch(msg.switch);
    }
  }

  filtersForm.addEventListener("input", () => { render(); resync(); });
  document.querySelectorAll("#blotter th[data-sort]").forEach((th) => th.addEventListener("click", () => {
    const key = th.dataset.sort;
    sort = { key, dir: sort.key === key ? -sort.dir : (key === "ttl" ? 1 : -1) };
    render();
  }));
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, select, textarea")) return;
    if (e.key === "r" || e.key === "R") {
      const first = alerts.querySelector(".review-alert");
      if (first) location.href = first.getAttribute("href");
    }
  });

  (D.json("switch-rows") || []).forEach(applySwitch);
  render();
  setInterval(tick, 250);
  window.deskSocket = new D.DeskSocket({ onEvent, onSync: resync });
  window.deskBlotter = { rows, render, resync };
})();
