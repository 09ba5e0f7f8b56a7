// Progressive enhancement only: every page works without this file.
// 1. Live countdowns: elements with data-deadline (ISO time) and data-now (the course clock
//    at render time) tick forward from the course clock, so a pinned demo clock still counts.
// 2. Confirm buttons: <button data-confirm="..."> asks before submitting.
// 3. Your time: every <time datetime> is shown in Berkeley time; when the browser's zone
//    differs, the same instant in the reader's zone follows it.
(function () {
  function fmt(ms) {
    var past = ms < 0; ms = Math.abs(ms);
    var d = Math.floor(ms / 86400000), h = Math.floor(ms / 3600000) % 24, m = Math.floor(ms / 60000) % 60;
    var text = d ? d + (d === 1 ? " day " : " days ") + h + " h" : h ? h + " h " + m + " min" : m + " min";
    return past ? text + " ago" : "in " + text;
  }
  var loaded = Date.now();
  function yourTime() {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone || zone === "America/Los_Angeles") return;
    document.querySelectorAll("time[datetime]").forEach(function (el) {
      var at = new Date(el.getAttribute("datetime"));
      if (isNaN(at.getTime())) return;
      var hint = document.createElement("span");
      hint.className = "your-time";
      hint.textContent = " (your time: " + at.toLocaleString(undefined, {
        weekday: "short", month: "short", day: "numeric", hour: "numeric", minute: "2-digit"
      }) + ")";
      el.after(hint);
    });
  }
  function tick() {
    document.querySelectorAll("[data-deadline][data-now]").forEach(function (el) {
      var now = Date.parse(el.dataset.now) + (Date.now() - loaded);
      el.textContent = fmt(Date.parse(el.dataset.deadline) - now);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick(); setInterval(tick, 30000);
    yourTime();
    document.querySelectorAll("button[data-confirm]").forEach(function (b) {
      b.addEventListener("click", function (e) { if (!window.confirm(b.dataset.confirm)) e.preventDefault(); });
    });
  });
})();
