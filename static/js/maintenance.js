// Maintenance dialogs: send the form with fetch, then re-render that node's fragments in place.
// ui.js opens the <dialog>; without JavaScript the toggle is a GET form to the confirmation page
// and the form posts normally.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function setBusy(nodeId, busy) {
    // Only this node's toggles are disabled while its request is in flight.
    document.querySelectorAll('[data-maintenance-toggle="' + nodeId + '"]').forEach(function (el) {
      el.disabled = busy;
      if (busy) { el.setAttribute("aria-busy", "true"); } else { el.removeAttribute("aria-busy"); }
    });
  }

  function refreshNode(nodeId) {
    // Re-fetch every fragment of this node on the page (fleet row, node banner, history...).
    var targets = document.querySelectorAll('[data-maintenance-node="' + nodeId + '"][data-maintenance-refresh]');
    return Promise.all(Array.prototype.map.call(targets, function (el) {
      return fetch(el.getAttribute("data-maintenance-refresh"), {
        headers: { "Accept": "text/html" }, credentials: "same-origin"
      }).then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      }).then(function (html) {
        // Through htmx when present, so the new fragment keeps its live-update triggers.
        if (el.isConnected) { window.htmx ? htmx.swap(el, html, { swapStyle: "outerHTML" }) : (el.outerHTML = html); }
      });
    }));
  }

  // For the live-update code: re-render a node's maintenance fragments after an event.
  window.VectorFlow = window.VectorFlow || {};
  window.VectorFlow.refreshNodeFragments = refreshNode;

  function utcFromLocal(form) {
    // datetime-local has no zone: read it in the browser's zone and send UTC ISO 8601.
    var local = form.querySelector("[data-until-local]");
    var utc = form.querySelector("[data-until-utc]");
    if (!local || !utc) { return; }
    utc.value = "";
    if (local.value) {
      var when = new Date(local.value);
      if (!isNaN(when.getTime())) { utc.value = when.toISOString(); }
    }
  }

  function showError(form, message) {
    var box = form.querySelector("[data-maintenance-error]");
    if (box) { box.textContent = message; box.hidden = false; }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-maintenance-form]");
    if (!form || !window.fetch) { return; }
    event.preventDefault();
    var nodeId = form.getAttribute("data-maintenance-form");
    var submit = form.querySelector("[data-maintenance-submit]");
    var dialog = form.closest("dialog");
    if (form.getAttribute("aria-busy") === "true") { return; }
    utcFromLocal(form);
    form.setAttribute("aria-busy", "true");
    if (submit) { submit.disabled = true; }
    setBusy(nodeId, true);
    var errorBox = form.querySelector("[data-maintenance-error]");
    if (errorBox) { errorBox.hidden = true; }

    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": csrfToken() }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { ok: response.ok, status: response.status, body: body };
      });
    }).then(function (result) {
      if (!result.ok) {
        var message = (result.body && result.body.error) || ("Request failed (HTTP " + result.status + ")");
        if (result.status === 409) {
          // Coverage changed since the dialog was drawn: confirming again enters anyway.
          var force = form.querySelector('input[name="force"]');
          if (!force) {
            force = document.createElement("input");
            force.type = "hidden"; force.name = "force"; form.appendChild(force);
          }
          force.value = "1";
          message += " Confirm again to enter anyway.";
        }
        showError(form, message);
        return;
      }
      if (dialog && dialog.open) { dialog.close(); }
      return refreshNode(nodeId).catch(function () { window.location.reload(); });
    }).catch(function () {
      showError(form, "The server could not be reached. Try again.");
    }).then(function () {
      form.removeAttribute("aria-busy");
      if (submit && submit.isConnected) { submit.disabled = false; }
      setBusy(nodeId, false);
    });
  });
})();
