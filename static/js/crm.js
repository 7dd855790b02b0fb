/* The RM workspace: score charts (Plotly, served locally), the score-run progress bar, agreement editing,
   face amounts, value suggestions, confirmations before ending or removing. */
(function () {
  "use strict";

  function json(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  var dark = {
    paper_bgcolor: "#172029", plot_bgcolor: "#172029", font: { color: "#d9e1e8", size: 11 },
    margin: { l: 40, r: 10, t: 10, b: 30 }, legend: { orientation: "h", y: -0.2 },
    xaxis: { gridcolor: "#26323d" }, yaxis: { gridcolor: "#26323d", range: [0, 100] }
  };

  var DAY_MS = 86400000;

  /* The x axis of the score charts: dates, never sub-second ticks. A short history (one run, or
     several the same day) is shown on a window of at least a day each side, ticked daily. */
  function dateAxis(times) {
    var ms = times.map(function (t) { return Date.parse(t); }).filter(function (v) { return !isNaN(v); });
    var axis = { type: "date", gridcolor: "#26323d", tickformat: "%Y-%m-%d", hoverformat: "%Y-%m-%d %H:%M",
                 tickformatstops: [{ dtickrange: [null, DAY_MS / 2], value: "%Y-%m-%d %H:%M" },
                                   { dtickrange: [DAY_MS, null], value: "%Y-%m-%d" }] };
    if (!ms.length) return axis;
    var lo = Math.min.apply(null, ms), hi = Math.max.apply(null, ms);
    if (hi - lo < 2 * DAY_MS) {
      var mid = (lo + hi) / 2;
      var day = new Date(mid); day.setUTCHours(0, 0, 0, 0);
      axis.range = [new Date(day.getTime() - DAY_MS).toISOString(), new Date(day.getTime() + 2 * DAY_MS).toISOString()];
      axis.tick0 = new Date(day.getTime() - DAY_MS).toISOString();
      axis.dtick = DAY_MS;
    }
    return axis;
  }

  function charts() {
    var hist = json("score-history");
    if (!hist || !window.Plotly) return;
    var x = hist.map(function (r) { return r.computed_at; });
    var mode = hist.length > 1 ? "lines+markers" : "markers";
    var marker = { size: hist.length > 1 ? 6 : 10 };
    var col = function (k) { return hist.map(function (r) { return r[k]; }); };
    var scoreEl = document.getElementById("score-chart");
    var compEl = document.getElementById("components-chart");
    var cfg = { displayModeBar: false, responsive: true };
    var layout = Object.assign({}, dark, { xaxis: dateAxis(x) });
    if (scoreEl) {
      Plotly.newPlot(scoreEl, [
        { x: x, y: col("score"), name: "score", mode: mode, marker: marker, line: { color: "#3fa7ff" },
          hovertemplate: "%{y:.1f}<extra>score</extra>" },
        { x: x, y: col("suggested_tier"), name: "suggested tier", mode: mode, yaxis: "y2", marker: marker,
          line: { color: "#f5a623", shape: "hv", dash: "dot" }, hovertemplate: "tier %{y}<extra></extra>" }
      ], Object.assign({}, layout, { hovermode: "x unified",
                                     yaxis2: { overlaying: "y", side: "right", range: [3.5, 0.5], dtick: 1,
                                               title: "tier" } }), cfg);
    }
    if (compEl) {
      var names = [["volume", "volume"], ["profitability", "realized P&L"], ["flow_quality", "flow quality"],
                   ["diversification", "diversification"]];
      Plotly.newPlot(compEl, names.map(function (n) {
        return { x: x, y: col(n[0]), name: n[1], mode: mode, marker: marker,
                 hovertemplate: "%{y:.1f}<extra>" + n[1] + "</extra>" };
      }), Object.assign({}, layout, { hovermode: "x unified" }), cfg);
    }
  }

  function editAgreements() {
    var form = document.getElementById("agreement-form");
    if (!form) return;
    document.querySelectorAll(".js-edit-agreement").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var row = btn.closest("tr");
        form.elements.agreement_id.value = row.dataset.agreementId;
        form.elements.scope.value = row.dataset.scope;
        form.elements.value.value = row.dataset.value;
        form.elements.spread_adjustment_bp.value = row.dataset.adj;
        form.elements.max_size.value = row.dataset.maxSize;
        form.elements.start.value = row.dataset.start;
        form.elements.end.value = row.dataset.end;
        document.getElementById("agreement-submit").textContent = "Update agreement #" + row.dataset.agreementId;
        form.elements.scope.dispatchEvent(new Event("change"));
        form.scrollIntoView({ behavior: "smooth" });
      });
    });
  }

  /* Face amounts: "5000000" and "5,000,000" are both accepted by the server; shown grouped once typed. */
  var AMOUNT = /^\s*(\d{1,3}(,\d{3})+|\d+)(\.\d+)?\s*$/;
  function groupAmount(text) {
    var m = AMOUNT.exec(text);
    if (!m) return text;
    var parts = text.trim().replace(/,/g, "").split(".");
    var whole = parts[0].replace(/^0+(?=\d)/, "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return parts.length > 1 ? whole + "." + parts[1] : whole;
  }
  function amounts() {
    document.querySelectorAll("input.js-amount").forEach(function (input) {
      input.addEventListener("blur", function () { input.value = groupAmount(input.value); });
    });
  }

  /* The value of an agreement or interest: suggestions of the ISINs, issuers or sectors its scope names. */
  function scopedValues() {
    document.querySelectorAll("input.js-scoped-value").forEach(function (input) {
      var scope = input.form && input.form.elements.scope;
      if (!scope) return;
      function bind() {
        var list = document.getElementById("values-" + scope.value);
        if (list) { input.setAttribute("list", list.id); } else { input.removeAttribute("list"); }
        input.placeholder = { all: "empty for all", instrument: "ISIN", issuer: "issuer", sector: "sector",
                              side: "buy or sell" }[scope.value] || "";
      }
      scope.addEventListener("change", bind);
      bind();
    });
  }

  /* End, Remove: a second, explicit step before a form that changes what prices a client's RFQs. */
  function confirmations() {
    document.querySelectorAll("form.js-confirm").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        if (form.dataset.confirmed === "1") return;
        ev.preventDefault();
        var box = form.nextElementSibling && form.nextElementSibling.classList.contains("confirm-box")
          ? form.nextElementSibling : null;
        if (!box) {
          box = document.createElement("div");
          box.className = "confirm-box";
          box.setAttribute("role", "alertdialog");
          var text = document.createElement("span");
          text.className = "confirm-text";
          text.textContent = form.dataset.confirm || "Are you sure?";
          var yes = document.createElement("button");
          yes.type = "button"; yes.className = "danger js-confirm-yes";
          yes.textContent = form.dataset.confirmYes || "Yes";
          var no = document.createElement("button");
          no.type = "button"; no.className = "secondary js-confirm-no"; no.textContent = "Cancel";
          yes.addEventListener("click", function () {
            form.dataset.confirmed = "1";
            yes.disabled = true;
            form.submit();
          });
          no.addEventListener("click", function () { box.hidden = true; });
          box.appendChild(text); box.appendChild(yes); box.appendChild(no);
          form.parentNode.insertBefore(box, form.nextSibling);
        }
        box.hidden = false;
        box.querySelector(".js-confirm-no").focus();
      });
    });
  }

  /* The settings page names the refused field; put the cursor in it. */
  function settingsError() {
    var err = document.getElementById("settings-error");
    if (!err || !err.dataset.field) return;
    var input = document.querySelector("#settings-form [name='" + err.dataset.field + "']");
    if (!input) return;
    input.classList.add("invalid");
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }

  function weights() {
    var inputs = document.querySelectorAll(".js-weight");
    var out = document.getElementById("weight-sum");
    if (!inputs.length || !out) return;
    function sum() {
      var s = 0;
      inputs.forEach(function (i) { s += parseFloat(i.value) || 0; });
      out.textContent = s.toFixed(2);
      out.className = Math.abs(s - 100) > 1e-6 ? "error" : "";
    }
    inputs.forEach(function (i) { i.addEventListener("input", sum); });
    sum();
  }

  function scoreRun() {
    var box = document.getElementById("score-run");
    if (!box) return;
    var bar = document.getElementById("score-progress");
    var text = document.getElementById("score-run-text");
    var url = box.dataset.url;
    var timer = null;
    function show(run) {
      if (!run) return;
      bar.value = run.progress;
      if (run.status === "queued" || run.status === "running") {
        text.textContent = "Recomputing scores: " + Math.round(run.progress * 100) + "%";
      } else if (run.status === "done") {
        text.textContent = "Done: " + run.n_clients + " clients, " + run.n_changed + " suggested tier change(s).";
      } else {
        text.textContent = "Last run " + run.status + (run.error ? ": " + run.error : "");
      }
    }
    function poll() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (body) {
          show(body.run);
          if (body.run && (body.run.status === "queued" || body.run.status === "running")) {
            timer = setTimeout(poll, 400);
          } else if (timer !== null) {
            timer = null;
            window.location.reload();
          }
        })
        .catch(function () { timer = setTimeout(poll, 2000); });
    }
    var run = json("score-run-data");
    show(run);
    if (run && (run.status === "queued" || run.status === "running")) { timer = setTimeout(poll, 400); }
    var form = document.getElementById("recompute-form");
    if (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin",
                             headers: { Accept: "application/json" } })
          .then(function (r) { return r.json(); })
          .then(function (r) { show(r); timer = setTimeout(poll, 200); });
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    charts(); editAgreements(); weights(); scoreRun(); amounts(); scopedValues(); confirmations(); settingsError();
  });
})();
