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
  document.addEventListener("change", function (event) {
    var field = event.target.closest("[data-autosubmit]");
    if (field && field.form) { field.form.requestSubmit ? field.form.requestSubmit() : field.form.submit(); }
  });
})();
