// Small progressive enhancements; every page works without JavaScript.
(function () {
  // A form marked data-once disables its submit button after the first submit (the server is
  // idempotent anyway: a second submit of the same confirmation never charges twice).
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        b.disabled = true;
        b.textContent = "Processing…";
      });
    });
  });
  // Destructive actions ask first; without JavaScript the server still refuses what is unsafe.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
})();
