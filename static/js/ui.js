// Small page behaviours without inline scripts: <dialog> open/close and auto-submitting selects.
(function () {
  "use strict";

  // A dialog whose body has data-dialog-src fetches it on every open, so what it says is
  // current; its submit buttons stay disabled until the body (and its form fields) arrived.
  function loadBody(dialog) {
    var body = dialog.querySelector("[data-dialog-src]");
    if (!body) { return; }
    var submits = dialog.querySelectorAll('[type="submit"]');
    var setDisabled = function (disabled) {
      submits.forEach(function (button) { button.disabled = disabled; });
    };
    setDisabled(true);
    body.setAttribute("aria-busy", "true");
    fetch(body.getAttribute("data-dialog-src"), {
      headers: { "Accept": "text/html" }, credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.text();
    }).then(function (html) {
      body.innerHTML = html;
      setDisabled(false);
      var first = body.querySelector("textarea, input:not([type=hidden])");
      if (first) { first.focus(); }
    }).catch(function (error) {
      body.innerHTML = "";
      var message = document.createElement("p");
      message.className = "field-error";
      message.setAttribute("role", "alert");
      message.textContent = "Could not load the details (" + error.message + "). Close and try again.";
      body.appendChild(message);
    }).then(function () { body.removeAttribute("aria-busy"); });
  }

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
      if (dialog && typeof dialog.showModal === "function") {
        event.preventDefault();
        dialog.showModal();
        loadBody(dialog);
      }
      return;
    }
    var closer = event.target.closest("[data-dialog-close]");
    if (closer) {
      var parent = closer.closest("dialog");
      if (parent) { event.preventDefault(); parent.close(); }
    }
  });
  // Until presets: fill the datetime-local field with now + N minutes (local time); "" clears it.
  function localValue(date) {
    var pad = function (n) { return String(n).padStart(2, "0"); };
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      "T" + pad(date.getHours()) + ":" + pad(date.getMinutes());
  }
  document.addEventListener("click", function (event) {
    var preset = event.target.closest("[data-until-preset]");
    if (!preset) { return; }
    var field = preset.closest("form") && preset.closest("form").querySelector("[data-until-local]");
    if (!field) { return; }
    var minutes = preset.getAttribute("data-until-preset");
    field.value = minutes ? localValue(new Date(Date.now() + Number(minutes) * 60000)) : "";
    field.dispatchEvent(new Event("change", { bubbles: true }));
  });
  // Any form with a local until field sends it as UTC ISO 8601 (the server reads `until` first).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var local = form.querySelector && form.querySelector("[data-until-local]");
    var utc = form.querySelector && form.querySelector("[data-until-utc]");
    if (!local || !utc) { return; }
    var when = local.value ? new Date(local.value) : null;
    utc.value = when && !isNaN(when.getTime()) ? when.toISOString() : "";
  }, true);
  // Fleet table: the bulk bar's scope follows the selection (ticking a row selects "Selected rows").
  document.addEventListener("change", function (event) {
    var box = event.target.closest('input[type="checkbox"][form="bulk-form"]');
    if (!box) { return; }
    var rows = document.querySelector('#bulk-form input[name="scope"][value="ids"]');
    if (rows && box.checked) { rows.checked = true; }
  });

  // Teams: a member's role select enables its "Change" button only when another role is picked.
  function syncRoleForm(form) {
    var select = form.querySelector("select[data-current]");
    var save = form.querySelector("[data-role-save]");
    if (select && save) { save.hidden = select.value === select.getAttribute("data-current"); }
  }
  document.querySelectorAll("form[data-role-form]").forEach(syncRoleForm);
  document.addEventListener("change", function (event) {
    var form = event.target.closest("form[data-role-form]");
    if (form) { syncRoleForm(form); }
  });

  document.addEventListener("change", function (event) {
    var field = event.target.closest("[data-autosubmit]");
    if (field && field.form) { field.form.requestSubmit ? field.form.requestSubmit() : field.form.submit(); }
  });
})();
