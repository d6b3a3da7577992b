// Support's Django admin: accessibility fixes the admin works without.
(function () {
  // An autocomplete field (select2) stands for its <select>, with a combobox named by an inner
  // "textbox" that has no name of its own: both take the field's label. Run after select2 is built:
  // jQuery's ready handlers run in order, and autocomplete.js registered its own before this script.
  if (!window.django || !window.django.jQuery) { return; }
  function nameFields(root) {
    root.querySelectorAll("select.admin-autocomplete").forEach(function (select) {
      var label = document.querySelector('label[for="' + select.id + '"]');
      var rendered = document.getElementById("select2-" + select.id + "-container");
      if (!label || !rendered) { return; }
      var name = label.textContent.replace(/:\s*$/, "").trim();
      rendered.setAttribute("aria-label", name);
      var combobox = rendered.closest("[role=combobox]");
      if (combobox) {
        combobox.removeAttribute("aria-labelledby");
        combobox.setAttribute("aria-label", name);
      }
    });
  }
  window.django.jQuery(function () { nameFields(document); });
  document.addEventListener("formset:added", function (event) { nameFields(event.target); });
})();
