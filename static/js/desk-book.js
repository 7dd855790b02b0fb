/* The book: positions with P&L and daily risk (refreshed on every position event), axes
   (create, edit, retire for traders and senior traders) and the kill and stress switches
   (senior traders and management), all over the REST API with the CSRF token. */
(function () {
  "use strict";
  const D = window.Desk;
  const $ = (id) => document.getElementById(id);
  const card = $("positions-card");
  const canAxe = card.dataset.canAxe === "1";
  let positions = D.json("book-rows") || [];
  let axes = D.json("axe-rows") || [];
  let switches = D.json("switch-rows") || [];

  function say(id, text, kind) {
    const el = $(id);
    el.textContent = text;
    el.className = "form-message " + (kind || "info");
  }

  function renderPositions(bookRisk) {
    const tb = document.querySelector("#positions tbody");
    tb.innerHTML = positions.length ? positions.map((p) => `<tr data-isin="${D.esc(p.isin)}">
      <td>${D.esc(p.isin)}</td><td>${D.esc(p.description)}</td><td>${D.esc(p.asset_class)}</td>
      <td class="num qty" data-quantity="${p.quantity}">${D.qty(p.quantity)}</td><td class="num">${D.price(p.avg_price)}</td>
      <td class="num">${D.price(p.mid)}</td><td class="num">${D.money(p.realized_pnl)}</td><td class="num">${D.money(p.unrealized_pnl)}</td>
      <td class="num">${D.money(p.notional)}</td><td class="num">${D.money(p.risk)}</td><td class="num">${D.money(p.risk_contribution)}</td>
      <td>${(p.interested_clients || []).map((c) => D.esc(c.code + " " + c.side)).join(", ")}</td></tr>`).join("")
      : '<tr class="empty"><td colspan="12" class="muted">The book is flat.</td></tr>';
    if (bookRisk !== undefined) $("book-risk").textContent = bookRisk === null ? "–" : D.money(bookRisk);
    const groups = {};
    positions.forEach((p) => {
      const g = (groups[p.asset_class] = groups[p.asset_class] || { n: 0, face: 0, notional: 0, real: 0, unreal: 0, risk: 0 });
      g.n += 1; g.face += Number(p.quantity); g.notional += Number(p.notional || 0);
      g.real += Number(p.realized_pnl); g.unreal += Number(p.unrealized_pnl); g.risk += Number(p.risk_contribution || 0);
    });
    document.querySelector("#by-class tbody").innerHTML = Object.keys(groups).sort().map((k) => {
      const g = groups[k];
      return `<tr data-asset-class="${D.esc(k)}"><td>${D.esc(k)}</td><td class="num">${g.n}</td><td class="num">${D.qty(g.face)}</td><td class="num">${D.money(g.notional)}</td>
        <td class="num">${D.money(g.real)}</td><td class="num">${D.money(g.unreal)}</td><td class="num">${D.money(g.risk)}</td></tr>`;
    }).join("");
  }

  /* A live update must not wipe an edit in progress: rows being edited keep their inputs. */
  const axesBody = document.querySelector("#axes tbody");
  // What the trader is typing into an axe's row, kept across re-renders (a live update, or a list
  // fetched just before the axe existed, redraws the table) until the row is saved or retired.
  const editing = {};
  axesBody.addEventListener("input", (ev) => {
    const tr = ev.target.closest("tr[data-axe-id]");
    if (!tr || !ev.target.dataset.field) return;
    tr.dataset.dirty = "1";
    (editing[tr.dataset.axeId] = editing[tr.dataset.axeId] || {})[ev.target.dataset.field] = ev.target.value;
  });
  function renderAxes() {
    renderAxesRows();
    Object.entries(editing).forEach(([id, values]) => {
      const tr = axesBody.querySelector(`tr[data-axe-id="${id}"]`);
      if (!tr) return;
      tr.dataset.dirty = "1";
      Object.entries(values).forEach(([field, value]) => {
        const el = tr.querySelector(`[data-field="${field}"]`);
        if (el) el.value = value;
      });
    });
  }
  function renderAxesRows() {
    axesBody.innerHTML = axes.filter((a) => a.active).map((a) => `<tr data-axe-id="${a.id}">
      <td title="${D.esc(a.description)}">${D.esc(a.isin)}</td><td>${D.esc(a.asset_class)}</td>
      ${canAxe ? `<td><select data-field="side"><option${a.side === "buy" ? " selected" : ""}>buy</option><option${a.side === "sell" ? " selected" : ""}>sell</option></select></td>
      <td class="num"><input data-field="quantity" value="${a.quantity}" size="12" inputmode="decimal"></td>
      <td><input data-field="note" value="${D.esc(a.note)}" size="18" maxlength="200"></td><td>${D.esc(a.created_by || "")}</td>
      <td><button type="button" data-axe="save">Save</button> <button type="button" data-axe="retire" class="danger">Retire</button></td>`
      : `<td class="side-${a.side}">${a.side}</td><td class="num">${D.qty(a.quantity)}</td><td>${D.esc(a.note)}</td><td>${D.esc(a.created_by || "")}</td><td></td>`}
      </tr>`).join("") || '<tr class="empty"><td colspan="7" class="muted">No active axe.</td></tr>';
  }

  function renderSwitches() {
    document.querySelector("#switches tbody").innerHTML = switches.map((s) => `<tr data-switch="${D.esc(s.name)}:${D.esc(s.scope)}">
      <td>${D.esc(s.name)}</td><td>${D.esc(s.scope)}</td><td><span class="status ${s.on ? "switch-on" : "switch-off"}">${s.on ? "on" : "off"}</span></td>
      <td>${D.esc(s.reason)}</td><td>${D.esc(s.changed_by || "")}</td><td>${s.changed_at ? D.esc(s.changed_at.slice(0, 19).replace("T", " ")) : ""}</td></tr>`).join("")
      || '<tr class="empty"><td colspan="6" class="muted">Every switch is off.</td></tr>';
  }

  async function loadBook() {
    const body = await D.api("/api/desk/book/");
    positions = body.rows;
    renderPositions(body.book_risk);
  }
  async function loadAxes() { axes = (await D.api("/api/desk/axes/")).results; renderAxes(); }
  async function loadSwitches() { switches = (await D.api("/api/desk/switches/")).results; renderSwitches(); }
  function sync() { return Promise.all([loadBook(), loadAxes(), loadSwitches()]).catch((e) => console.warn(e)); }

  const axeForm = $("axe-form");
  if (axeForm) {
    axeForm.addEventListener("submit", async () => {
      const f = Object.fromEntries(new FormData(axeForm).entries());
      try {
        const axe = await D.api("/api/desk/axes/", { method: "POST", body: f });
        say("axe-message", `Axe ${axe.id} added: desk ${axe.side}s ${D.qty(axe.quantity)} ${axe.isin}.`, "ok");
        axeForm.reset();
        await loadAxes();
      } catch (e) { say("axe-message", e.message, "error"); }
    });
  }
  document.querySelector("#axes tbody").addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button[data-axe]");
    if (!btn) return;
    const tr = btn.closest("tr");
    const id = tr.dataset.axeId;
    try {
      if (btn.dataset.axe === "retire") {
        await D.api(`/api/desk/axes/${id}/retire/`, { method: "POST" });
        delete editing[id];
        say("axe-message", `Axe ${id} retired.`, "ok");
      } else {
        const body = {};
        tr.querySelectorAll("[data-field]").forEach((el) => { body[el.dataset.field] = el.value; });
        await D.api(`/api/desk/axes/${id}/`, { method: "PATCH", body });
        delete editing[id];
        const current = axesBody.querySelector(`tr[data-axe-id="${id}"]`);
        if (current) delete current.dataset.dirty;
        say("axe-message", `Axe ${id} saved.`, "ok");
      }
      await loadAxes();
    } catch (e) { say("axe-message", e.message, "error"); }
  });

  const switchForm = $("switch-form");
  if (switchForm) {
    switchForm.querySelectorAll("button[data-switch]").forEach((b) => b.addEventListener("click", async () => {
      const f = Object.fromEntries(new FormData(switchForm).entries());
      const on = b.dataset.switch === "on";
      if (on && !f.reason.trim()) { say("switch-message", "reason: say why you turn the switch on.", "error"); return; }
      try {
        const s = await D.api("/api/desk/switches/", { method: "POST", body: { name: f.name, scope: f.scope, on, reason: f.reason } });
        say("switch-message", `${s.name} ${s.scope} is ${s.on ? "on" : "off"} (${s.changed_by}).`, "ok");
        await loadSwitches();
      } catch (e) { say("switch-message", e.message, "error"); }
    }));
  }

  let pending = null;
  function onEvent(m) {
    if (m.type === "position" || (m.type === "rfq" && m.rfq.status === "booked")) {
      clearTimeout(pending);
      pending = setTimeout(() => loadBook().catch(() => {}), 100);
    } else if (m.type === "axe") {
      const i = axes.findIndex((a) => a.id === m.axe.id);
      if (i >= 0) axes[i] = m.axe; else axes.unshift(m.axe);
      renderAxes();
    } else if (m.type === "switch") {
      const i = switches.findIndex((s) => s.name === m.switch.name && s.scope === m.switch.scope);
      if (i >= 0) switches[i] = m.switch; else switches.push(m.switch);
      renderSwitches();
    }
  }

  renderPositions();
  renderAxes();
  renderSwitches();
  window.deskSocket = new D.DeskSocket({ onEvent, onSync: sync });
})();
