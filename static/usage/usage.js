// The usage report's small enhancements; every page works without JavaScript.
(function () {
  // Custom dates matter only for a custom range: hide them otherwise (they stay in the form).
  document.querySelectorAll("[data-report-form]").forEach(function (form) {
    var range = form.querySelector("select[name=range]");
    if (!range) { return; }
    function sync() {
      var custom = range.value === "custom";
      form.querySelectorAll(".custom-range").forEach(function (el) { el.hidden = !custom; });
    }
    range.addEventListener("change", sync);
    sync();
  });

  // A new API key: a Copy button beside the field, and "Copied" said in the live region next to it.
  // Without JavaScript the button stays hidden and the read-only field is selected by hand.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    var status = document.getElementById(button.getAttribute("data-copy-status"));
    if (!field || !status) { return; }
    var say = function (text) {
      // Emptied first, so a second click is announced again.
      status.textContent = "";
      setTimeout(function () { status.textContent = text; }, 100);
    };
    var copyBySelection = function () {
      field.focus();
      field.select();
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
      say(copied ? "Copied" : "The key is selected: press Ctrl+C (⌘C on a Mac) to copy it.");
    };
    field.addEventListener("focus", function () { field.select(); });
    button.hidden = false;
    button.addEventListener("click", function () {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(function () { say("Copied"); }, copyBySelection);
      } else {
        copyBySelection();
      }
    });
  });

  // An export being built: follow its progress and offer the file when it is ready.
  var box = document.querySelector("[data-export-status]");
  if (box) {
    var url = box.getAttribute("data-export-status");
    var bar = box.querySelector("[data-export-progress]");
    var label = box.querySelector("[data-export-label]");
    var done = box.querySelector("[data-export-done]");
    var message = box.querySelector("[data-export-message]");
    var link = box.querySelector("[data-export-link]");
    var poll = function () {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          bar.value = s.percent;
          bar.textContent = s.percent + "%";
          label.textContent = s.status_label;
          done.textContent = s.rows_done.toLocaleString("en-US");
          if (s.status === "done") {
            message.textContent = "Ready to download.";
            link.hidden = false;
          } else if (s.status === "failed") {
            message.textContent = s.error + " Try again from the report.";
          } else {
            setTimeout(poll, 1500);
          }
        })
        .catch(function () { setTimeout(poll, 5000); });
    };
    if (label.textContent !== "Ready" && label.textContent !== "Failed") { setTimeout(poll, 1000); }
  }
})();
