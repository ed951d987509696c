// Charts of a node or a pipeline (templates/macros/charts.html), drawn with the vendored uPlot.
//
// A chart block names its series endpoint (data-series-url) and its panels (data-panel); it
// loads the closed buckets of the chosen range, then follows the page's event stream: each
// samples.closed event carries newly closed buckets. A node's chart appends the point it
// carries; a pipeline's chart, a sum over nodes that close their buckets one by one, reloads.
(function () {
  "use strict";
  if (!window.uPlot) { return; }

  var PANELS = {
    events: { unit: "events/s", series: [["eventsIn", "In", "#2563eb"], ["eventsOut", "Out", "#16a34a"]] },
    errors: { unit: "errors/s", series: [["errors", "Errors", "#dc2626"]] },
    host: { unit: "%", max: 100, series: [["cpu", "CPU", "#9333ea"], ["memory", "Memory", "#ea580c"]] },
    network: { unit: "bytes/s", bytes: true, series: [["netRx", "Received", "#0891b2"], ["netTx", "Sent", "#ca8a04"]] }
  };
  var RANGE_SECONDS = { "1h": 3600, "6h": 21600, "24h": 86400 };

  function bytes(value) {
    if (value == null) { return "—"; }
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (Math.abs(value) >= 1024 && i < units.length - 1) { value /= 1024; i++; }
    return (i ? value.toFixed(1) : Math.round(value)) + " " + units[i];
  }

  function compact(value) {
    if (value == null) { return "—"; }
    var abs = Math.abs(value);
    if (abs >= 1e9) { return (value / 1e9).toFixed(1) + "G"; }
    if (abs >= 1e6) { return (value / 1e6).toFixed(1) + "M"; }
    if (abs >= 1e3) { return (value / 1e3).toFixed(1) + "k"; }
    return abs >= 10 || value === 0 ? String(Math.round(value)) : value.toFixed(2);
  }

  function Chart(block) {
    this.block = block;
    this.url = block.getAttribute("data-series-url");
    this.kind = block.getAttribute("data-charts");
    this.id = block.getAttribute("data-subject-id");
    this.range = block.getAttribute("data-range") || "1h";
    this.data = null;
    this.plots = [];
    this.reloading = null;
  }

  Chart.prototype.load = function () {
    var self = this;
    var url = this.url + "?range=" + encodeURIComponent(this.range);
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        self.data = body;
        self.draw();
      })
      .catch(function () { /* a failed load leaves the last picture; the next event retries */ });
  };

  Chart.prototype.columns = function (panel) {
    var d = this.data;
    return [d.t].concat(PANELS[panel].series.map(function (s) { return d[s[0]] || []; }));
  };

  Chart.prototype.draw = function () {
    var self = this;
    this.plots.forEach(function (plot) { plot.destroy(); });
    this.plots = [];
    var empty = this.block.querySelector("[data-charts-empty]");
    if (empty) { empty.hidden = this.data.t.length > 0; }
    this.block.querySelectorAll("[data-panel]").forEach(function (holder) {
      var name = holder.getAttribute("data-panel");
      var panel = PANELS[name];
      if (!panel) { return; }
      var format = panel.bytes ? bytes : compact;
      var opts = {
        width: Math.max(holder.clientWidth, 200),
        height: 150,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: panel.max ? { range: [0, panel.max] } : { range: function (u, min, max) { return [0, Math.max(max || 0, 1)]; } } },
        axes: [
          { stroke: "#64748b", grid: { stroke: "#e2e8f0" } },
          { stroke: "#64748b", grid: { stroke: "#e2e8f0" }, size: panel.bytes ? 76 : 56,
            values: function (u, ticks) { return ticks.map(format); } }
        ],
        series: [{}].concat(panel.series.map(function (s) {
          return { label: s[1], stroke: s[2], width: 1.5, fill: s[2] + "1a", spanGaps: false,
                   value: function (u, v) { return v == null ? "—" : format(v) + (panel.bytes ? "/s" : panel.unit === "%" ? "%" : ""); } };
        }))
      };
      self.plots.push(new window.uPlot(opts, self.columns(name), holder));
    });
    this.showLatest();
    this.mark();
  };

  // Without a cursor on the chart, the legends show the newest point's values.
  Chart.prototype.showLatest = function () {
    var n = this.data.t.length;
    this.plots.forEach(function (plot) {
      if (n && plot.cursor.left < 0) { plot.setLegend({ idx: n - 1 }); }
    });
  };

  // What tests (and curious people) can read off the page: how many points, the newest.
  Chart.prototype.mark = function () {
    var t = this.data.t;
    this.block.setAttribute("data-points", String(t.length));
    this.block.setAttribute("data-last-t", t.length ? String(t[t.length - 1]) : "");
  };

  Chart.prototype.append = function (point) {
    var d = this.data;
    if (!d) { return; }
    var t = d.t, last = t.length ? t[t.length - 1] : null;
    var fields = Object.keys(d).filter(function (key) { return Array.isArray(d[key]) && key !== "t"; });
    if (last !== null && point.t < last) { return; }
    if (last === point.t) {
      fields.forEach(function (key) { d[key][t.length - 1] = point[key]; });
    } else {
      t.push(point.t);
      fields.forEach(function (key) { d[key].push(point[key] === undefined ? null : point[key]); });
    }
    var oldest = point.t - RANGE_SECONDS[this.range];
    while (t.length && t[0] < oldest) {
      t.shift();
      fields.forEach(function (key) { d[key].shift(); });
    }
    var self = this;
    var empty = this.block.querySelector("[data-charts-empty]");
    if (empty) { empty.hidden = true; }
    this.plots.forEach(function (plot, i) {
      var name = self.block.querySelectorAll("[data-panel]")[i].getAttribute("data-panel");
      plot.setData(self.columns(name));
    });
    this.showLatest();
    this.mark();
  };

  Chart.prototype.closed = function (payload) {
    var self = this;
    (payload.samples || []).forEach(function (sample) {
      if (self.kind === "node" && sample.nodeId === self.id && sample.point) {
        self.append(sample.point);
      } else if (self.kind === "pipeline" && sample.pipelines && sample.pipelines[self.id]) {
        // Nodes close their buckets one after another: reload once they have had a moment.
        clearTimeout(self.reloading);
        self.reloading = setTimeout(function () { self.load(); }, 1000);
      }
    });
  };

  Chart.prototype.resize = function () {
    this.block.querySelectorAll("[data-panel]").forEach(function (holder, i) {
      if (this.plots[i]) { this.plots[i].setSize({ width: Math.max(holder.clientWidth, 200), height: 150 }); }
    }, this);
  };

  // The page's one EventSource (live.js) delivers named events to elements that ask for them:
  // the chart block holds <div hidden hx-trigger="sse:samples.closed" data-samples-ear>.
  function listen(block, onClosed) {
    var ear = block.querySelector("[data-samples-ear]");
    if (!ear) { return; }
    ear.addEventListener("sse:samples.closed", function (event) {
      var payload;
      try { payload = JSON.parse(event.detail.data).payload || {}; } catch (e) { return; }
      onClosed(payload);
    });
  }

  function start() {
    var charts = [];
    document.querySelectorAll("[data-charts]").forEach(function (block) {
      var chart = new Chart(block);
      charts.push(chart);
      block.querySelectorAll("[data-range-choice]").forEach(function (button) {
        button.addEventListener("click", function (event) {
          event.preventDefault();
          chart.range = button.getAttribute("data-range-choice");
          block.setAttribute("data-range", chart.range);
          block.querySelectorAll("[data-range-choice]").forEach(function (b) {
            b.setAttribute("aria-pressed", b === button ? "true" : "false");
          });
          chart.load();
        });
      });
      listen(block, function (payload) { chart.closed(payload); });
      chart.load();
    });
    if (!charts.length) { return; }
    var pending = null;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(function () { charts.forEach(function (chart) { chart.resize(); }); }, 150);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
