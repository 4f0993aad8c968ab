// Draws the charts whose data the page carries in <script type="application/json">.
// Plotly comes from the plotly Python package (/static/vendor/plotly.min.js): offline.
(function () {
  "use strict";
  if (typeof Plotly === "undefined") { return; }
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var source = document.getElementById(el.getAttribute("data-chart"));
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    var traces;
    if (data.kind === "bar") {
      traces = [{ type: "bar", x: data.x, y: data.y, marker: { color: "#2f6f5e" } }];
    } else {
      traces = [
        { type: "scatter", mode: "lines+markers", name: el.getAttribute("data-due"), x: data.x, y: data.due, line: { shape: "hv" } },
        { type: "scatter", mode: "lines+markers", name: el.getAttribute("data-paid"), x: data.x, y: data.paid, line: { shape: "hv" } }
      ];
    }
    Plotly.newPlot(el, traces, {
      margin: { l: 48, r: 16, t: 8, b: 40 }, height: 260, legend: { orientation: "h" }
    }, { displayModeBar: false, responsive: true, staticPlot: false });
  });
})();
