// Doorline console: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // A form posts once: disable its buttons on submit so a double click cannot decide twice.
  document.addEventListener("submit", function (ev) {
    var buttons = ev.target.querySelectorAll("button[type=submit]");
    window.setTimeout(function () {
      buttons.forEach(function (b) { b.disabled = true; });
    }, 0);
  });
  // Pages marked data-refresh="N" reload every N seconds while nobody is typing in them.
  var seconds = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  if (seconds > 0) {
    window.setInterval(function () {
      var el = document.activeElement;
      var typing = el && (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA");
      if (!typing && document.visibilityState === "visible") { window.location.reload(); }
    }, seconds * 1000);
  }
})();
