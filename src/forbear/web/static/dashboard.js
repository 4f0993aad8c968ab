// Draws the dashboard's charts from the data each page carries in
// <script type="application/json"> (no inline script: the CSP allows this origin only).
// Plotly comes from the plotly Python package (/static/vendor/plotly.min.js): offline.
(function () {
  "use strict";
  if (typeof Plotly === "undefined") { return; }
  var colours = ["#2f6f5e", "#c2853d", "#8a4f7d", "#3d6fa8", "#a83d3d", "#6b8e23"];
  document.querySelectorAll("[data-dash-chart]").forEach(function (el) {
    var source = document.getElementById(el.getAttribute("data-dash-chart"));
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    var traces = data.series.map(function (s, i) {
      return { type: "bar", name: s.name, x: data.x, y: s.y, marker: { color: colours[i % colours.length] } };
    });
    var layout = {
      barmode: data.stacked ? "stack" : "group",
      margin: { l: 56, r: 16, t: 8, b: 48 }, height: 300, legend: { orientation: "h", y: -0.2 },
      yaxis: data.percent ? { tickformat: ".0%", rangemode: "tozero" } : { rangemode: "tozero" }
    };
    Plotly.newPlot(el, traces, layout, { displayModeBar: false, responsive: true });
  });
})();
