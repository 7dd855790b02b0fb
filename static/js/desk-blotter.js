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
  function rowHtml(r) {
    const p = price(r);
    const isRec = !r.quote && p;
    const target = ttlTarget(r);
    const review = r.status === "pending_review" || (r.tier === 1 && r.recommendation)
      ? `<a class="btn-link" href="/desk/review/${r.id}/">${r.status === "pending_review" ? "Review" : "Open"}</a>` : "";
    return `<tr data-rfq-id="${r.id}" data-status="${D.esc(r.status)}" class="${flashed.has(r.id) ? "flash" : ""}">
      <td class="num">${r.id}</td><td>${D.time(r.received_at)}</td>
      <td title="${D.esc(r.client_name)}">${D.esc(r.client)}</td><td>${r.tier}</td>
      <td title="${D.esc(r.description)}">${D.esc(r.isin)} <span class="muted">${D.esc(r.asset_class)}</span></td>
      <td class="side-${D.esc(r.side)}">${D.esc(r.side)}</td><td class="num">${D.qty(r.quantity)}</td>
      <td class="num price" data-price="${p || ""}">${p ? D.price(p) : ""}${isRec ? ' <span class="muted">rec</span>' : ""}</td>
      <td><span class="status status-${D.esc(r.status)}">${D.esc(r.status.replace("_", " "))}</span>${r.reason && !OPEN.has(r.status) ? ` <span class="muted small" title="${D.esc(r.reason)}">ⓘ</span>` : ""}</td>
      <td class="num ttl" data-until="${target || ""}">${target ? D.countdown(target) : ""}</td>
      <td>${D.esc(r.claimed_by || "")}</td><td>${review}</td></tr>`;
  }
  function render() {
    const f = filters();
    const list = [...rows.values()].filter((r) => visible(r, f));
    list.sort((a, b) => {
      const x = sortValue(a, sort.key), y = sortValue(b, sort.key);
      return (x < y ? -1 : x > y ? 1 : b.id - a.id) * sort.dir;
    });
    tbody.innerHTML = list.map(rowHtml).join("");
    flashed.clear();
    document.getElementById("blotter-count").textContent = `${list.length} of ${rows.size} RFQs`;
    document.querySelectorAll("#blotter th[data-sort]").forEach((th) => {
      th.classList.toggle("sorted", th.dataset.sort === sort.key);
      th.dataset.dir = th.dataset.sort === sort.key ? (sort.dir > 0 ? "asc" : "desc") : "";
    });
    renderAlerts();
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

  function renderAlerts() {
    if (!senior) return;
    const pending = [...rows.values()].filter((r) => r.status === "pending_review").sort((a, b) => a.id - b.id);
    alerts.innerHTML = pending.map((r) => `<a class="review-alert" data-rfq-id="${r.id}" href="/desk/review/${r.id}/">
      <strong>Review</strong> #${r.id} ${D.esc(r.client)} T${r.tier} ${D.esc(r.side)} ${D.qty(r.quantity)} ${D.esc(r.isin)}
      ${r.recommendation ? "rec " + D.price(r.recommendation.price) : ""}
      ${r.claimed_by ? `<span class="muted">· ${D.esc(r.claimed_by)}</span>` : ""}
      <span class="countdown" data-until="${r.review_deadline || ""}">${D.countdown(r.review_deadline)}</span></a>`).join("");
    document.title = (pending.length ? `(${pending.length}) ` : "") + "Blotter · Dealer desk";
  }

  let syncing = null;
  async function sync() {
    const f = filters();
    const q = new URLSearchParams();
    ["tier", "status", "asset_class", "client"].forEach((k) => { if (f[k]) q.set(k, f[k]); });
    const body = await D.api("/api/desk/rfqs/?" + q.toString());
    body.results.forEach(upsert);
    render();
  }
  function resync() {
    syncing = sync().catch((e) => console.warn("re-sync failed", e));
    return syncing;
  }

  function onEvent(msg) {
    if (msg.type === "rfq" || msg.type === "review.request") {
      upsert(msg.rfq);
      render();
    } else if (msg.type === "review.claimed") {
      const r = rows.get(msg.rfq_id);
      if (r) { r.claimed_by = msg.by; render(); }
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

  render();
  setInterval(tick, 250);
  window.deskSocket = new D.DeskSocket({ onEvent, onSync: resync });
  window.deskBlotter = { rows, render, resync };
})();
