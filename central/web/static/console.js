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

  function typing() {
    var el = document.activeElement;
    return !!el && (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA");
  }

  // Pages marked data-refresh="N" reload every N seconds while nobody is typing in them; the review queue
  // stops doing so once its live stream is connected.
  var seconds = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  var reloader = 0;
  if (seconds > 0) {
    reloader = window.setInterval(function () {
      if (!typing() && document.visibilityState === "visible") { window.location.reload(); }
    }, seconds * 1000);
  }

  if (!document.body.hasAttribute("data-queue")) { return; }

  // ---- review queue: keyboard (j/k next/previous, c confirm, d dismiss with a reason, o open, u undo)
  var current = null;
  function cards() { return Array.prototype.slice.call(document.querySelectorAll("article.alert")); }
  function select(card) {
    if (current) { current.classList.remove("current"); }
    current = card || null;
    if (current) {
      current.classList.add("current");
      current.focus({ preventScroll: true });
      current.scrollIntoView({ block: "nearest" });
    }
  }
  function move(step) {
    var list = cards();
    if (!list.length) { return; }
    var i = list.indexOf(current);
    select(list[Math.max(0, Math.min(list.length - 1, i < 0 ? 0 : i + step))]);
  }
  select(cards()[0]);
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    var el = document.activeElement;
    if (ev.key === "Escape" && typing()) { el.blur(); if (current) { current.focus(); } return; }
    if (typing()) { return; }
    var form;
    switch (ev.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "c":
        form = current && current.querySelector("form[data-action=confirm]");
        if (form) { form.requestSubmit(); }
        break;
      case "d":
        form = current && current.querySelector("form[data-action=dismiss] input[name=reason]");
        if (form) { form.focus(); }
        break;
      case "o":
        form = current && current.querySelector("a[data-key=open]");
        if (form) { window.location.href = form.href; }
        break;
      case "u":
        form = document.querySelector("form[data-undo]");
        if (form) { form.requestSubmit(); }
        break;
      default: return;
    }
    ev.preventDefault();
  });

  // ---- live: the server says when the queue changed (Server-Sent Events); the list is fetched again
  // without a reload, or, while someone is typing, a note offers it.
  if (!window.EventSource) { return; }
  var live = document.getElementById("live");
  var last = null;
  try { last = JSON.parse(live.getAttribute("data-snap") || "null"); } catch (e) { last = null; }
  function refresh() {
    var keep = current && current.getAttribute("data-case");
    return fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok || r.redirected) { throw new Error("status " + r.status); } return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        ["alerts", "queue-total"].forEach(function (id) {
          var fresh = doc.getElementById(id), old = document.getElementById(id);
          if (fresh && old) { old.replaceWith(fresh); }
        });
        var pagerOld = document.querySelector(".pager"), pagerNew = doc.querySelector(".pager");
        if (pagerOld && pagerNew) { pagerOld.replaceWith(pagerNew); }
        var again = keep && document.querySelector('article.alert[data-case="' + keep + '"]');
        select(again || cards()[0]);
        live.hidden = true;
      })
      .catch(function () { window.location.reload(); });
  }
  live.addEventListener("click", refresh);
  var source = new EventSource("/console/queue/stream");
  source.addEventListener("open", function () {
    if (reloader) { window.clearInterval(reloader); reloader = 0; }
  });
  source.addEventListener("queue", function (ev) {
    var snap = JSON.parse(ev.data);
    var seen = last;
    last = snap;
    if (seen === null || (seen.detected === snap.detected && seen.latest === snap.latest)) { return; }
    if (typing()) {
      live.textContent = live.getAttribute("data-text") || "↻";
      live.hidden = false;
    } else {
      refresh();
    }
  });
})();
