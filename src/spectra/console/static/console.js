// Spectra console: confirmations, copy buttons, CSRF header for htmx, charts. No build step.
(function () {
  "use strict";
  var token = function () {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  };
  // Every destructive form carries data-confirm; ask before sending.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    // A double click sends once; the server is idempotent anyway.
    if (form.hasAttribute && form.hasAttribute("data-once")) {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
    }
  }, true);
  // A form with data-kind-switch shows the fieldsets of the chosen provider only; the others
  // are disabled, so their (possibly required) inputs are neither checked nor sent.
  function showKinds(form) {
    var select = form.querySelector('select[name="provider"]');
    if (!select) { return; }
    form.querySelectorAll("fieldset[data-kinds]").forEach(function (box) {
      var on = box.getAttribute("data-kinds").split(" ").indexOf(select.value) >= 0;
      box.hidden = !on;
      box.disabled = !on;
    });
  }
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form[data-kind-switch]");
    if (form && event.target.name === "provider") { showKinds(form); }
  });
  document.querySelectorAll("form[data-kind-switch]").forEach(showKinds);
  // The left navigation folds behind "Menu" on a phone.
  function toggleNav(button) {
    var nav = document.getElementById(button.getAttribute("aria-controls"));
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    if (nav) { nav.classList.toggle("open", open); }
  }
  // Dark mode: the system's choice until the person picks one (remembered; theme.js applies it
  // before the first paint).
  var root = document.documentElement;
  var darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  function remembered() {
    try { return window.localStorage.getItem("spectra-theme"); } catch (e) { return null; }
  }
  function isDark() {
    return root.getAttribute("data-theme") === "dark";
  }
  function showTheme() {
    var button = document.getElementById("theme-toggle");
    if (!button) { return; }
    var dark = isDark();
    button.setAttribute("aria-pressed", dark ? "true" : "false");
    button.textContent = dark ? (button.getAttribute("data-light-label") || "Light mode") : (button.getAttribute("data-dark-label") || "Dark mode");
  }
  function switchTheme() {
    var next = isDark() ? "light" : "dark";
    root.setAttribute("data-theme", next);
    try { window.localStorage.setItem("spectra-theme", next); } catch (e) { /* private mode */ }
    showTheme();
  }
  document.addEventListener("click", function (event) {
    var target = event.target.closest && event.target.closest("#nav-toggle, #theme-toggle");
    if (!target) { return; }
    if (target.id === "nav-toggle") { toggleNav(target); } else { switchTheme(); }
  });
  if (darkQuery && darkQuery.addEventListener) {
    darkQuery.addEventListener("change", function () {
      if (remembered()) { return; }
      root.setAttribute("data-theme", darkQuery.matches ? "dark" : "light");
      showTheme();
    });
  }
  document.addEventListener("DOMContentLoaded", showTheme);
  // Header search: Escape empties the results list.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var results = document.getElementById("search-results");
    if (!results) { return; }
    if (results.contains(document.activeElement) || event.target.id === "f-search-q") {
      results.innerHTML = "";
    }
  });
  // A table wider than the page scrolls in its wrapper; the wrapper takes keyboard focus then,
  // so the arrow keys can scroll it.
  function focusableScrollers() {
    document.querySelectorAll(".table-wrap, pre").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        if (!box.hasAttribute("tabindex")) { box.setAttribute("tabindex", "0"); }
      } else if (box.getAttribute("tabindex") === "0") {
        box.removeAttribute("tabindex");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", focusableScrollers);
  document.addEventListener("htmx:afterSettle", focusableScrollers);
  window.addEventListener("resize", focusableScrollers);
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["x-csrf-token"] = token();
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) { return; }
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      var label = button.textContent;
      button.textContent = document.documentElement.getAttribute("data-copied-label") || "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });
  var palette = ["#2452c7", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#1098ad", "#5c940d", "#e67700", "#495057", "#364fc7"];
  function drawCharts() {
    if (!window.Chart) { return; }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) { return; }
      var source = document.getElementById(canvas.getAttribute("data-chart"));
      if (!source) { return; }
      var spec = JSON.parse(source.textContent);
      (spec.datasets || []).forEach(function (set, i) {
        set.backgroundColor = set.backgroundColor || palette[i % palette.length];
        set.borderColor = set.borderColor || palette[i % palette.length];
      });
      canvas.dataset.drawn = "1";
      var style = window.getComputedStyle(document.documentElement);
      window.Chart.defaults.color = style.getPropertyValue("--muted").trim() || "#5b6470";
      window.Chart.defaults.borderColor = style.getPropertyValue("--line").trim() || "#d9dde3";
      // indexAxis "y" draws horizontal bars; a sparkline has neither axes nor legend.
      var spark = !!spec.sparkline;
      new window.Chart(canvas, {
        type: spec.type || "bar",
        data: { labels: spec.labels, datasets: spec.datasets },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          indexAxis: spec.indexAxis || "x",
          scales: { x: { display: !spark, stacked: !!spec.stacked }, y: { display: !spark, stacked: !!spec.stacked, beginAtZero: true,
            title: { display: !!spec.yTitle, text: spec.yTitle || "" } } },
          plugins: { legend: { display: !spark && spec.legend !== false, position: "bottom" },
            tooltip: { enabled: !spark } }
        }
      });
    });
  }
  document.addEventListener("DOMContentLoaded", drawCharts);
  document.addEventListener("htmx:afterSettle", drawCharts);
})();
