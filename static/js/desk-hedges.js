/* The book page's hedges and axes to offer: both tables drawn from data (the page's embedded JSON,
   then whatever desk-book.js fetches when a hedge or axe event arrives or the socket re-syncs),
   and a senior trader's cancel, change of horizon and hedge now. Exposes `window.DeskHedges`
   ({render, renderOffers}); after an action it asks the page for fresh hedges with the
   `desk:hedges-stale` event (the server's hedge.order push says the same, unless the socket is down). */
(function () {
  "use strict";
  const D = window.Desk;
  const section = document.getElementById("hedges");
  const offers = document.getElementById("axe-offers");
  if (!section || !D) return;
  const message = document.getElementById("hedge-message");
  const body = section.querySelector("tbody");
  const canHedge = section.dataset.canHedge === "1";
  const ACTIONS = { cancel: "cancel", horizon: "change of horizon", "hedge-now": "hedge now" };
  const LIVE = ["pending", "working"];

  function say(text, kind) {
    message.textContent = text;
    message.className = "form-message " + (kind || "info");
  }

  function orderLine(o, child) {
    const at = o.status === "pending" && o.release_at ? ` · at ${D.esc(D.time(o.release_at))}` : "";
    const why = o.reason ? ` title="${D.esc(o.reason)}"` : "";
    let buttons = "";
    if (canHedge && o.is_schedule && o.status === "working") {
      buttons += `<button type="button" data-hedge-action="hedge-now" data-order="${o.id}">Hedge now</button>
        <input type="number" min="0.01" step="0.5" placeholder="hours" class="hours" data-order="${o.id}" aria-label="New horizon in hours for order ${o.id}">
        <button type="button" data-hedge-action="horizon" data-order="${o.id}">Set horizon</button>`;
    }
    if (canHedge && LIVE.includes(o.status)) {
      buttons += `<button type="button" data-hedge-action="cancel" data-order="${o.id}" class="ghost">Cancel</button>`;
    }
    return `<div class="hedge-order${child ? " child" : ""}" data-order-id="${o.id}" data-status="${D.esc(o.status)}"${why}>
      <span class="order-text"><span class="side-${D.esc(o.side)}">${D.esc(o.side)}</span> <span class="amount">${D.qty(o.quantity)}</span> ${D.esc(o.isin)}
      · filled <span class="amount">${D.qty(o.filled)}</span> · <span class="order-status status-${D.esc(o.status)}">${D.esc(o.status)}</span>${at}</span>
      ${buttons ? `<span class="order-actions">${buttons}</span>` : ""}</div>`;
  }

  /* A schedule's pieces fold under their parent (open folds stay open across re-renders). */
  const open = new Set();
  function ordersCell(h) {
    const orders = h.orders.slice().sort((a, b) => a.id - b.id);
    const children = {};
    orders.forEach((o) => { if (o.parent_id) (children[o.parent_id] = children[o.parent_id] || []).push(o); });
    return orders.filter((o) => !o.parent_id || !orders.some((p) => p.id === o.parent_id)).map((o) => {
      const kids = children[o.id] || [];
      if (!kids.length) return orderLine(o, false);
      const counts = {};
      kids.forEach((k) => { counts[k.status] = (counts[k.status] || 0) + 1; });
      const summary = Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(", ");
      return orderLine(o, false) + `<details class="pieces" data-parent="${o.id}"${open.has(String(o.id)) ? " open" : ""}>
        <summary>${kids.length} pieces: ${D.esc(summary)}</summary>${kids.map((k) => orderLine(k, true)).join("")}</details>`;
    }).join("");
  }

  function render(rows) {
    // Keep what a trader is typing (a horizon) and where the focus is across a live re-render.
    const typed = {};
    body.querySelectorAll("input.hours").forEach((el) => { if (el.value !== "") typed[el.dataset.order] = el.value; });
    const focused = document.activeElement && body.contains(document.activeElement) && document.activeElement.matches("input.hours")
      ? document.activeElement.dataset.order : null;
    body.innerHTML = rows.length ? rows.map((h) => `<tr data-hedge-id="${h.id}" data-trade-id="${h.trade_id}">
      <td>${h.trade_id}</td><td>${D.esc(h.client)}</td><td>${D.esc(h.isin)}</td>
      <td><span class="status decision-${D.esc(h.decision)}">${D.esc(h.decision)}</span></td>
      <td class="why">${D.esc(h.reason)}</td>
      <td class="progress"><progress max="1" value="${Number(h.progress) || 0}"></progress> <span class="pct">${D.pct(h.progress)}</span></td>
      <td class="residual">${D.esc(h.residual)}</td>
      <td class="orders">${ordersCell(h)}</td></tr>`).join("")
      : '<tr class="empty"><td colspan="8" class="muted">No hedge decisions yet.</td></tr>';
    Object.entries(typed).forEach(([id, v]) => {
      const el = body.querySelector(`input.hours[data-order="${id}"]`);
      if (el) el.value = v;
    });
    if (focused) {
      const el = body.querySelector(`input.hours[data-order="${focused}"]`);
      if (el) el.focus();
    }
  }

  function renderOffers(rows) {
    if (!offers) return;
    offers.querySelector("tbody").innerHTML = rows.length ? rows.map((a) => `<tr data-axe-id="${a.axe_id}">
      <td>${D.esc(a.isin)}</td><td class="desc">${D.esc(a.description)}</td><td class="side-${D.esc(a.desk_side)}">${D.esc(a.desk_side)}</td>
      <td class="num">${D.qty(a.quantity)}</td><td class="clients">${a.clients.length ? D.esc(a.clients.join(", ")) : '<span class="muted">none yet</span>'}</td></tr>`).join("")
      : '<tr class="empty"><td colspan="5" class="muted">No open axes.</td></tr>';
  }

  body.addEventListener("toggle", (ev) => {
    const d = ev.target.closest && ev.target.closest("details.pieces");
    if (d) { if (d.open) open.add(d.dataset.parent); else open.delete(d.dataset.parent); }
  }, true);

  section.addEventListener("click", async (ev) => {
    const button = ev.target.closest("button[data-hedge-action]");
    if (!button) return;
    const order = button.dataset.order;
    const action = button.dataset.hedgeAction;
    let payload = {};
    if (action === "horizon") {
      const input = section.querySelector(`input.hours[data-order="${order}"]`);
      payload = { hours: input && input.value !== "" ? Number(input.value) : null };
    }
    say("");
    button.disabled = true;
    try {
      await D.api(`/api/hedge/orders/${order}/${action}/`, { method: "POST", body: payload });
      say(`Order ${order}: ${ACTIONS[action] || action} done.`, "ok");
      document.dispatchEvent(new CustomEvent("desk:hedges-stale"));
    } catch (e) {
      say(`Order ${order}: ${e.message}`, "error");
    } finally {
      button.disabled = false;
    }
  });

  render(D.json("hedge-rows") || []);
  renderOffers(D.json("axe-offer-rows") || []);
  window.DeskHedges = { render, renderOffers };
})();
