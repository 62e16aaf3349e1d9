// The owner's page: live countdown to the deadline, the recheck result without a reload, Web Push opt-in.
(function () {
  const token = document.body.dataset.token;
  function pad(n) { return String(n).padStart(2, "0"); }
  function tick() {
    document.querySelectorAll(".countdown").forEach(el => {
      const left = Math.floor((Date.parse(el.dataset.deadline) - Date.now()) / 1000);
      if (left <= 0) { el.textContent = el.dataset.overdue; return; }
      const h = Math.floor(left / 3600), m = Math.floor(left % 3600 / 60), s = left % 60;
      el.textContent = (h ? h + ":" : "") + pad(m) + ":" + pad(s);
    });
  }
  tick();
  setInterval(tick, 1000);

  async function poll() {
    const waiting = document.querySelector('section.case[data-state="rechecking"]');
    if (!waiting) return;
    try {
      const r = await fetch(`/owner/${token}/status`, {cache: "no-store"});
      const data = await r.json();
      for (const c of data.cases) {
        const sec = document.querySelector(`section.case[data-case="${c.id}"]`);
        if (!sec) continue;
        sec.dataset.state = c.state;
        if (c.text) sec.querySelector(".recheck").textContent = c.text;
      }
    } catch (e) { /* offline for a moment: try again */ }
    setTimeout(poll, 2000);
  }
  poll();

  function b64u(s) {
    const pad = "=".repeat((4 - s.length % 4) % 4);
    const raw = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, c => c.charCodeAt(0));
  }
  const push = document.getElementById("push");
  if (push && "serviceWorker" in navigator && "PushManager" in window) {
    push.addEventListener("click", async () => {
      const reg = await navigator.serviceWorker.register("/owner/sw.js", {scope: "/owner/"});
      const sub = await reg.pushManager.subscribe({userVisibleOnly: true,
                                                   applicationServerKey: b64u(document.body.dataset.vapid)});
      await fetch(`/owner/${token}/push-subscription`, {method: "POST", body: JSON.stringify(sub),
                                                       headers: {"Content-Type": "application/json"}});
      push.disabled = true;
    });
  } else if (push) { push.hidden = true; }
})();
