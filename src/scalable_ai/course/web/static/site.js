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
  // 4. Navigation menus (<details class="menu-group">): one open at a time; a click elsewhere
  //    or Escape closes them. Without this file each still opens and closes on its own.
  function menus() {
    var all = document.querySelectorAll("details.menu-group");
    all.forEach(function (d) {
      d.addEventListener("toggle", function () {
        if (d.open) all.forEach(function (o) { if (o !== d) o.open = false; });
      });
    });
    document.addEventListener("click", function (e) {
      all.forEach(function (d) { if (!d.contains(e.target)) d.open = false; });
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape") all.forEach(function (d) { d.open = false; });
    });
  }
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
    menus();
    document.querySelectorAll("button[data-confirm]").forEach(function (b) {
      b.addEventListener("click", function (e) { if (!window.confirm(b.dataset.confirm)) e.preventDefault(); });
    });
  });
})();
