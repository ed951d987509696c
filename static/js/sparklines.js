// Sparklines: events in per second of each node over its last buckets, drawn as a small SVG
// into every cell marked data-sparkline="<node id>" (the fleet table). One request for all
// the cells of the page (GET /api/v1/nodes/sparklines); the event stream's samples.closed
// events append points; a row re-rendered by a live update is redrawn from what is known.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var WIDTH = 96, HEIGHT = 22, CHUNK = 100;
  var known = {};  // node id -> [[t, value], ...]
  var keep = 30;

  function cells() { return document.querySelectorAll("[data-sparkline]"); }

  function draw(cell) {
    var points = known[cell.getAttribute("data-sparkline")];
    if (!points) { return; }
    while (cell.firstChild) { cell.removeChild(cell.firstChild); }
    var values = points.map(function (p) { return p[1]; }).filter(function (v) { return v != null; });
    cell.setAttribute("data-points", String(points.length));
    if (!values.length) { cell.setAttribute("title", "No events yet"); return; }
    var max = Math.max.apply(null, values.concat([1e-9]));
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("width", WIDTH);
    svg.setAttribute("height", HEIGHT);
    svg.setAttribute("viewBox", "0 0 " + WIDTH + " " + HEIGHT);
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "sparkline");
    var step = points.length > 1 ? WIDTH / (points.length - 1) : WIDTH;
    var run = [];
    function flush() {
      if (run.length > 1) {
        var line = document.createElementNS(SVG, "polyline");
        line.setAttribute("points", run.join(" "));
        line.setAttribute("fill", "none");
        line.setAttribute("stroke", "currentColor");
        line.setAttribute("stroke-width", "1.5");
        svg.appendChild(line);
      }
      run = [];
    }
    points.forEach(function (p, i) {
      if (p[1] == null) { flush(); return; }
      var y = HEIGHT - 2 - (HEIGHT - 4) * (p[1] / max);
      run.push((i * step).toFixed(1) + "," + y.toFixed(1));
    });
    flush();
    cell.appendChild(svg);
    var last = values[values.length - 1];
    cell.setAttribute("title", (last >= 10 ? Math.round(last) : last.toFixed(2)) + " events/s in the last closed bucket");
  }

  function load() {
    var ids = [];
    cells().forEach(function (cell) { ids.push(cell.getAttribute("data-sparkline")); });
    for (var i = 0; i < ids.length; i += CHUNK) {
      var query = ids.slice(i, i + CHUNK).map(function (id) { return "ids=" + encodeURIComponent(id); }).join("&");
      fetch("/api/v1/nodes/sparklines?" + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (!body) { return; }
          keep = body.points || keep;
          Object.keys(body.nodes).forEach(function (id) { known[id] = body.nodes[id]; });
          cells().forEach(draw);
        })
        .catch(function () { /* no sparkline is better than a broken page */ });
    }
  }

  function closed(payload) {
    (payload.samples || []).forEach(function (sample) {
      var points = known[sample.nodeId];
      if (!points || !sample.point) { return; }
      var last = points.length ? points[points.length - 1][0] : null;
      if (last === sample.point.t) { points[points.length - 1][1] = sample.point.eventsIn; }
      else if (last === null || sample.point.t > last) { points.push([sample.point.t, sample.point.eventsIn]); }
      while (points.length > keep) { points.shift(); }
      document.querySelectorAll('[data-sparkline="' + sample.nodeId + '"]').forEach(draw);
    });
  }

  function start() {
    if (!cells().length) { return; }
    load();
    // A live row update replaces the row: draw its new cell from what is known.
    document.addEventListener("htmx:load", function (event) {
      var root = event.detail && event.detail.elt;
      if (!root || !root.querySelectorAll) { return; }
      if (root.hasAttribute && root.hasAttribute("data-sparkline")) { draw(root); }
      root.querySelectorAll("[data-sparkline]").forEach(draw);
    });
    if (!document.body.hasAttribute("sse-connect")) { return; }
    var ear = document.createElement("div");
    ear.hidden = true;
    ear.setAttribute("hx-trigger", "sse:samples.closed");
    ear.addEventListener("sse:samples.closed", function (event) {
      try { closed(JSON.parse(event.detail.data).payload || {}); } catch (e) { /* not ours */ }
    });
    document.body.appendChild(ear);
    // Deferred scripts run before htmx processes the page (at DOMContentLoaded), which then
    // sees the element; later than that, it must be told.
    if (document.readyState === "complete" && window.htmx) { window.htmx.process(ear); }
  }

  start();
})();
