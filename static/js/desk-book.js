/* The book: positions with P&L and daily risk, axes (create, edit, retire for traders and senior
   traders), the kill and stress switches (senior traders and management: a reason and a
   confirmation each way), hedges and axes to offer (drawn by desk-hedges.js), all over the REST
   API with the CSRF token. Live over /ws/desk/: axe and switch events carry their rows; position,
   booked-RFQ and hedge events (`hedge`, `hedge.fill`, `hedge.order`) mark parts of the page stale,
   fetched again together, debounced; every (re)connection re-syncs everything. */
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
      <td>${D.esc(p.isin)}</td><td class="desc">${D.esc(p.description)}</td><td>${D.esc(p.asset_class)}</td>
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
      <td class="reason">${D.esc(s.reason)}</td><td>${D.esc(s.changed_by || "")}</td>
      <td class="when" title="${D.esc(s.changed_at || "")}">${D.esc(D.time(s.changed_at))}</td></tr>`).join("")
      || '<tr class="empty"><td colspan="6" class="muted">Every switch is off.</td></tr>';
  }

  /* Parts of the page to fetch again: `book` (positions), `hedges`, `offers` (axes to offer). One
     GET of the book carries the hedges and the offers with it when they are stale too. */
  const H = window.DeskHedges;
  const stale = { book: false, hedges: false, offers: false };
  async function fetchStale() {
    const want = Object.assign({}, stale);
    stale.book = stale.hedges = stale.offers = false;
    const include = [want.hedges && "hedges", want.offers && "axe_offers"].filter(Boolean);
    if (want.book || want.hedges) {
      const body = await D.api("/api/desk/book/" + (include.length ? "?include=" + include.join(",") : ""));
      positions = body.rows;
      renderPositions(body.book_risk);
      if (body.hedges && H) H.render(body.hedges);
      if (body.axe_offers && H) H.renderOffers(body.axe_offers);
    } else if (want.offers && H) {
      H.renderOffers((await D.api("/api/desk/axe-offers/")).results);
    }
  }
  let running = null;
  let timer = null;
  /* Fetch what is stale until nothing is (events arriving meanwhile are fetched after). */
  function refresh() {
    clearTimeout(timer);
    if (!running) {
      running = (async () => {
        try {
          while (stale.book || stale.hedges || stale.offers) await fetchStale();
        } finally { running = null; }
      })();
    }
    return running;
  }
  function refreshSoon(parts, delay) {
    parts.forEach((p) => { stale[p] = true; });
    if (running) return; // the loop picks them up
    clearTimeout(timer);
    timer = setTimeout(() => refresh().catch((e) => console.warn(e)), delay === undefined ? 150 : delay);
  }
  document.addEventListener("desk:hedges-stale", () => refreshSoon(["book", "hedges"], 0));

  async function loadAxes() { axes = (await D.api("/api/desk/axes/")).results; renderAxes(); }
  async function loadSwitches() { switches = (await D.api("/api/desk/switches/")).results; renderSwitches(); }
  function sync() {
    stale.book = stale.hedges = stale.offers = true;
    return Promise.all([refresh(), loadAxes(), loadSwitches()]).catch((e) => console.warn(e));
  }

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

  /* A flip is two steps: the button names the switch, scope and reason and asks what it will do;
     only "Yes" sends it. Changing the form meanwhile withdraws the question. */
  const switchForm = $("switch-form");
  const confirmBox = $("switch-confirm");
  let armed = null;
  function consequence(name, scope, on) {
    const where = scope === "desk" ? "the whole desk" : scope;
    if (name === "kill") {
      return on ? `Stop automatic quoting for ${where}? RFQs will go to review.`
        : `Resume automatic quoting for ${where}? RFQs up to each tier's automatic size will be quoted without review again.`;
    }
    if (scope === "desk") {
      return on ? "Put the whole desk in the stressed regime? The market simulator turns stressed and every quote widens by the stress add-on."
        : "End the stressed regime for the whole desk? The market simulator calms and quotes lose the stress add-on.";
    }
    return on ? `Price ${where} as stressed? Its quotes widen by the stress add-on.`
      : `End stressed pricing for ${where}? Its quotes lose the stress add-on.`;
  }
  function disarm() {
    armed = null;
    if (confirmBox) confirmBox.hidden = true;
    switchForm.querySelectorAll("button[data-switch]").forEach((b) => { b.disabled = false; });
  }
  if (switchForm && confirmBox) {
    const reasonInput = switchForm.elements.reason;
    switchForm.querySelectorAll("button[data-switch]").forEach((b) => b.addEventListener("click", () => {
      const f = Object.fromEntries(new FormData(switchForm).entries());
      const on = b.dataset.switch === "on";
      const reason = (f.reason || "").trim();
      if (!reason) {
        disarm();
        say("switch-message", `reason: say why you turn ${f.name} ${on ? "on" : "off"} for ${f.scope}.`, "error");
        reasonInput.classList.add("required");
        reasonInput.focus();
        return;
      }
      reasonInput.classList.remove("required");
      armed = { name: f.name, scope: f.scope, on, reason };
      const current = switches.find((s) => s.name === f.name && s.scope === f.scope);
      const already = current && current.on === on ? ` It is already ${on ? "on" : "off"}: only the reason changes.` : "";
      $("switch-confirm-text").textContent = consequence(f.name, f.scope, on);
      $("switch-confirm-detail").textContent = `${f.name} ${on ? "on" : "off"} for ${f.scope}, because: “${reason}”.${already}`;
      const yes = $("switch-confirm-yes");
      yes.textContent = `Yes, turn ${f.name} ${on ? "on" : "off"} for ${f.scope}`;
      yes.className = on ? "danger" : "";
      confirmBox.hidden = false;
      switchForm.querySelectorAll("button[data-switch]").forEach((x) => { x.disabled = true; });
      say("switch-message", "");
      yes.focus();
    }));
    switchForm.addEventListener("input", () => { if (armed) { disarm(); say("switch-message", "Changed: nothing was sent.", "info"); } });
    $("switch-confirm-no").addEventListener("click", () => { disarm(); say("switch-message", "Nothing was changed.", "info"); reasonInput.focus(); });
    confirmBox.addEventListener("keydown", (ev) => { if (ev.key === "Escape") $("switch-confirm-no").click(); });
    $("switch-confirm-yes").addEventListener("click", async () => {
      if (!armed) return;
      const flip = armed;
      $("switch-confirm-yes").disabled = true;
      try {
        const s = await D.api("/api/desk/switches/", { method: "POST", body: flip });
        reasonInput.value = "";
        say("switch-message", `${s.name} ${s.scope} is ${s.on ? "on" : "off"} (${s.changed_by}): ${s.reason}`, "ok");
        const i = switches.findIndex((x) => x.name === s.name && x.scope === s.scope);
        if (i >= 0) switches[i] = s; else switches.push(s);
        renderSwitches();
      } catch (e) {
        say("switch-message", e.message, "error");
      } finally {
        $("switch-confirm-yes").disabled = false;
        disarm();
      }
    });
  }

  function onEvent(m) {
    if (m.type === "position" || (m.type === "rfq" && m.rfq.status === "booked")) {
      refreshSoon(["book"]);
    } else if (m.type === "hedge" || m.type === "hedge.fill" || m.type === "hedge.order") {
      refreshSoon(["book", "hedges"]);
    } else if (m.type === "axe") {
      const i = axes.findIndex((a) => a.id === m.axe.id);
      if (i >= 0) axes[i] = m.axe; else axes.unshift(m.axe);
      renderAxes();
      refreshSoon(["offers"]);
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
