// Live log tails and taps (templates/telemetry/): each is an event stream of its own, opened
// when its element appears (page load or an htmx swap) and closed when it goes away.
//
// A tail's stream sends `lines` (a JSON array of lines, oldest first) and `dropped` (this page
// fell behind and the server dropped lines rather than slow anything down); a tap's sends
// `events` (a JSON array of events) and `stopped` ({"reason"}).
(function () {
  "use strict";
  var MAX_LINES = 1000;   // lines kept on the page; older ones scroll away
  var MAX_EVENTS = 500;   // tap events kept on the page

  function text(tag, className, value) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    node.textContent = value;
    return node;
  }

  function setState(el, state, message) {
    if (!el) { return; }
    el.setAttribute("data-state", state);
    el.textContent = message;
  }

  function startTail(el) {
    var url = el.getAttribute("data-stream-url");
    if (!url || el.vfSource) { return; }
    var list = el.querySelector("[data-tail-lines]");
    var status = el.querySelector("[data-tail-status]");
    var notice = el.querySelector("[data-tail-notice]");
    var empty = el.querySelector("[data-tail-empty]");
    var key = el.getAttribute("data-source-key") || "pipelineId";
    var names = {};
    try { names = JSON.parse(el.getAttribute("data-names") || "{}"); } catch (e) { names = {}; }
    var droppedTotal = 0;
    var source = new EventSource(url, { withCredentials: true });
    el.vfSource = source;

    source.addEventListener("open", function () { setState(status, "live", "Live: new lines appear as they arrive."); });
    source.addEventListener("error", function () {
      if (source.readyState !== EventSource.CLOSED) { setState(status, "reconnecting", "Reconnecting…"); }
    });
    source.addEventListener("lines", function (event) {
      var lines = JSON.parse(event.data);
      var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
      lines.forEach(function (line) {
        var item = document.createElement("li");
        item.className = "log-line level-" + String(line.level || "none").toLowerCase();
        item.setAttribute("data-id", line.id);
        var time = text("time", "", line.time);
        time.setAttribute("datetime", line.time);
        item.appendChild(time);
        item.appendChild(document.createTextNode(" "));
        item.appendChild(text("span", "log-level", line.level || "—"));
        item.appendChild(document.createTextNode(" "));
        item.appendChild(text("span", "log-source", names[line[key]] || ""));
        item.appendChild(document.createTextNode(" "));
        item.appendChild(text("span", "log-message", line.message));
        list.appendChild(item);
      });
      while (list.children.length > MAX_LINES) { list.removeChild(list.firstElementChild); }
      if (empty && list.children.length) { empty.hidden = true; }
      if (atBottom) { list.scrollTop = list.scrollHeight; }
    });
    source.addEventListener("dropped", function (event) {
      droppedTotal += JSON.parse(event.data).count;
      notice.hidden = false;
      notice.textContent = droppedTotal + " line" + (droppedTotal === 1 ? " was" : "s were") +
        " not shown: this page fell behind the live tail. Reload to see every stored line.";
    });
  }

  function startTap(el) {
    var url = el.getAttribute("data-stream-url");
    if (!url || el.vfSource) { return; }
    var list = el.querySelector("[data-tap-events]");
    var status = el.querySelector("[data-tap-status]");
    var source = new EventSource(url, { withCredentials: true });
    el.vfSource = source;
    source.addEventListener("open", function () { status.setAttribute("data-state", "live"); });
    source.addEventListener("events", function (event) {
      JSON.parse(event.data).forEach(function (item) {
        var li = document.createElement("li");
        li.appendChild(text("pre", "code", JSON.stringify(item)));
        list.appendChild(li);
      });
      while (list.children.length > MAX_EVENTS) { list.removeChild(list.firstElementChild); }
    });
    source.addEventListener("stopped", function (event) {
      source.close();
      var reason = JSON.parse(event.data).reason || "stopped";
      setState(status, "stopped", "The tap stopped (" + reason + ").");
      var stop = el.querySelector("form");
      if (stop) { stop.hidden = true; }
    });
  }

  var SELECTOR = "[data-log-tail], [data-tap]";

  function each(root, fn) {
    if (!root || !root.querySelectorAll) { return; }
    if (root.matches && root.matches(SELECTOR)) { fn(root); }
    Array.prototype.forEach.call(root.querySelectorAll(SELECTOR), fn);
  }

  function start(el) { if (el.hasAttribute("data-tap")) { startTap(el); } else { startTail(el); } }
  function stop(el) { if (el.vfSource) { el.vfSource.close(); el.vfSource = null; } }

  document.addEventListener("DOMContentLoaded", function () { each(document, start); });
  document.addEventListener("htmx:load", function (event) { each(event.detail.elt, start); });
  // Whatever a swap replaces stops streaming (a tap's server side then stops the tap).
  document.addEventListener("htmx:beforeSwap", function (event) { each(event.detail.target, stop); });
  window.addEventListener("pagehide", function () { each(document, stop); });
})();
