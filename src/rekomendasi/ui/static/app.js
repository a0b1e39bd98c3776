// rekomendasi: the little the planner's page does with JavaScript. Every page works without it.
(function () {
  "use strict";
  // A form marked data-busy says it is working while the server builds a plan (up to a minute).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form && form.hasAttribute("data-busy")) {
      form.classList.add("busy");
      var button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = true; }
    }
  });
  // The what-if curve: staff at the floor (%) and expected gap closed against the budget, with uPlot.
  function drawCurve(root) {
    var box = (root || document).querySelector("#kurva[data-points]");
    if (!box || box.getAttribute("data-drawn") || typeof uPlot === "undefined") { return; }
    var points = JSON.parse(box.getAttribute("data-points"));
    var labels = JSON.parse(box.getAttribute("data-labels"));
    var xs = points.map(function (p) { return p.budget / 1e6; });
    var share = points.map(function (p) { return Math.round(1000 * p.share) / 10; });
    var gain = points.map(function (p) { return Math.round(100 * p.gain) / 100; });
    var width = Math.max(280, Math.min(box.clientWidth || 640, 760));
    box.setAttribute("data-drawn", "1");
    new uPlot({
      width: width,
      height: 260,
      scales: { x: { time: false }, pct: { range: [0, 100] }, gain: {} },
      axes: [
        { label: labels.x },
        { scale: "pct", label: labels.share },
        { scale: "gain", side: 1, label: labels.gain, grid: { show: false } }
      ],
      series: [
        { label: labels.x },
        { label: labels.share, scale: "pct", stroke: "#0b57a4", width: 2, points: { size: 7 } },
        { label: labels.gain, scale: "gain", stroke: "#b94a10", width: 2, dash: [6, 4], points: { size: 7 } }
      ]
    }, [xs, share, gain], box);
  }
  document.addEventListener("DOMContentLoaded", function () { drawCurve(document); });
  document.addEventListener("htmx:afterSwap", function (event) { drawCurve(event.target); });
})();
