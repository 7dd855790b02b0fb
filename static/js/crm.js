/* The RM workspace: score charts (Plotly, served locally), the score-run progress bar, agreement editing. */
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

  function charts() {
    var hist = json("score-history");
    if (!hist || !window.Plotly) return;
    var x = hist.map(function (r) { return r.computed_at; });
    var mode = hist.length > 1 ? "lines+markers" : "markers";
    var col = function (k) { return hist.map(function (r) { return r[k]; }); };
    var scoreEl = document.getElementById("score-chart");
    var compEl = document.getElementById("components-chart");
    var cfg = { displayModeBar: false, responsive: true };
    if (scoreEl) {
      Plotly.newPlot(scoreEl, [
        { x: x, y: col("score"), name: "score", mode: mode, line: { color: "#3fa7ff" } },
        { x: x, y: col("suggested_tier"), name: "suggested tier", mode: mode, yaxis: "y2",
          line: { color: "#f5a623", shape: "hv", dash: "dot" } }
      ], Object.assign({}, dark, { yaxis2: { overlaying: "y", side: "right", range: [3.5, 0.5], dtick: 1,
                                             title: "tier" } }), cfg);
    }
    if (compEl) {
      var names = [["volume", "volume"], ["profitability", "realized P&L"], ["flow_quality", "flow quality"],
                   ["diversification", "diversification"]];
      Plotly.newPlot(compEl, names.map(function (n) {
        return { x: x, y: col(n[0]), name: n[1], mode: mode };
      }), dark, cfg);
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
        form.scrollIntoView({ behavior: "smooth" });
      });
    });
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
    charts(); editAgreements(); weights(); scoreRun();
  });
})();
