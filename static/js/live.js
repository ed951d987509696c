// Live updates: the one place that opens the page's EventSource (through htmx's SSE extension).
//
// A page opts in from its template (see templates/base.html): <body hx-ext="sse"
// sse-connect="/events?lastEventId=N">. Elements then re-fetch their own fragment on their
// events, e.g. hx-get="/fleet/rows/ID" hx-trigger="sse:node-ID, sse:resync" hx-swap="outerHTML".
(function () {
  "use strict";
  if (!window.htmx) { return; }

  // The newest event id this page has seen. The browser resends it by itself on its own
  // reconnects (Last-Event-ID), but htmx's extension replaces a closed EventSource with a new
  // one that has no id (htmx-extensions#184): put it in the URL so nothing is missed.
  var lastId = null;

  function remember(event) {
    var id = event.detail && event.detail.lastEventId;
    if (id) { lastId = id; }
  }
  document.addEventListener("htmx:sseBeforeMessage", remember);
  document.addEventListener("htmx:sseMessage", remember);

  htmx.createEventSource = function (url) {
    if (lastId !== null) {
      var resume = new URL(url, window.location.href);
      resume.searchParams.set("lastEventId", lastId);
      url = resume.toString();
    }
    return new EventSource(url, { withCredentials: true });
  };

  // The small live / reconnecting badge in the top bar.
  function indicate(state, text) {
    var badge = document.getElementById("live-indicator");
    if (!badge) { return; }
    badge.hidden = false;
    badge.setAttribute("data-state", state);
    badge.textContent = text;
  }
  document.addEventListener("htmx:sseOpen", function () { indicate("live", "Live"); });
  document.addEventListener("htmx:sseError", function () { indicate("reconnecting", "Reconnecting…"); });

  // Never re-render parts of the page under an open <dialog> (a maintenance reason being
  // typed): a request caused by a stream event waits until every dialog is closed.
  var deferred = new Map();  // element -> its latest deferred request
  document.addEventListener("htmx:confirm", function (event) {
    var cause = event.detail.triggeringEvent;
    if (!cause || String(cause.type).indexOf("sse:") !== 0 || !document.querySelector("dialog[open]")) {
      return;
    }
    event.preventDefault();
    deferred.set(event.detail.elt, event.detail.issueRequest);
  });
  document.addEventListener("close", function () {
    if (document.querySelector("dialog[open]")) { return; }
    var waiting = deferred;
    deferred = new Map();
    waiting.forEach(function (issue, elt) { if (elt.isConnected) { issue(true); } });
  }, true);  // "close" does not bubble: listen in the capture phase

  // A fragment that answers 404 is gone (a deleted node): drop it when it asks for that.
  document.addEventListener("htmx:responseError", function (event) {
    var elt = event.detail.elt;
    if (event.detail.xhr.status === 404 && elt && elt.hasAttribute("data-live-remove-on-404")) {
      elt.remove();
    }
  });
})();
