// Report pages: draw every Plotly figure embedded in the page (#report-charts JSON); a click on a
// point with a drill-down link (customdata) opens the clients or trades behind it.
(function () {
  "use strict";
  var node = document.getElementById("report-charts");
  if (!node || !window.Plotly) { return; }
  var charts = JSON.parse(node.textContent);
  var base = {
    paper_bgcolor: "#172029", plot_bgcolor: "#172029", font: { color: "#d9e1e8", size: 12 },
    margin: { l: 60, r: 20, t: 40, b: 60 }, legend: { orientation: "h", y: -0.2 }
  };
  charts.forEach(function (c) {
    var el = document.getElementById(c.id);
    if (!el) { return; }
    var layout = Object.assign({}, base, c.figure.layout || {});
    Plotly.newPlot(el, c.figure.data, layout, { responsive: true, displaylogo: false });
    el.on("plotly_click", function (ev) {
      var p = ev && ev.points && ev.points[0];
      if (p && typeof p.customdata === "string" && p.customdata) { window.location.href = p.customdata; }
    });
  });
})();
