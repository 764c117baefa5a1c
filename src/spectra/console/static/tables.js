// Spectra console tables (console/tables.py, templates/_table.html): the column choice is
// remembered per table in localStorage, hides those cells, and rides along in the CSV link so
// the export holds exactly the columns shown. Sorting, filtering and paging are links and forms.
(function () {
  "use strict";
  if (window.spectraTables) { return; }
  window.spectraTables = true;
  var storageKey = function (id) { return "spectra.columns." + id; };
  function hiddenOf(table) {
    try {
      var saved = window.localStorage.getItem(storageKey(table.id));
      if (saved !== null) { return JSON.parse(saved); }
    } catch (e) { /* private mode: defaults */ }
    var given = table.getAttribute("data-hidden");
    return given ? given.split(",") : [];
  }
  function apply(table, hidden) {
    var keys = Array.prototype.map.call(table.tHead.rows[0].cells, function (th) {
      return th.getAttribute("data-col");
    });
    Array.prototype.forEach.call(table.rows, function (row) {
      if (row.cells.length !== keys.length) { return; }
      Array.prototype.forEach.call(row.cells, function (cell, i) {
        cell.hidden = hidden.indexOf(keys[i]) >= 0;
      });
    });
    var tools = document.querySelector('[data-table-tools="' + table.id + '"]');
    if (!tools) { return; }
    tools.querySelectorAll("input[data-col]").forEach(function (box) {
      box.checked = hidden.indexOf(box.getAttribute("data-col")) < 0;
    });
    var link = tools.querySelector("a.table-csv");
    if (link) {
      var url = new URL(link.href, window.location.href);
      var shown = [];
      tools.querySelectorAll("input[data-col]").forEach(function (box) {
        if (box.checked) { shown.push(box.getAttribute("data-col")); }
      });
      if (hidden.length) { url.searchParams.set("cols", shown.join(",")); } else { url.searchParams.delete("cols"); }
      link.href = url.pathname + url.search;
    }
  }
  function setUp() {
    document.querySelectorAll("table[data-table]").forEach(function (table) {
      if (table.dataset.ready) { return; }
      table.dataset.ready = "1";
      apply(table, hiddenOf(table));
    });
  }
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("[data-table-tools] input[data-col]")) { return; }
    var id = box.closest("[data-table-tools]").getAttribute("data-table-tools");
    var table = document.getElementById(id);
    if (!table) { return; }
    var hidden = [];
    box.closest("[data-table-tools]").querySelectorAll("input[data-col]").forEach(function (b) {
      if (!b.checked) { hidden.push(b.getAttribute("data-col")); }
    });
    try { window.localStorage.setItem(storageKey(id), JSON.stringify(hidden)); } catch (e) { /* ignore */ }
    apply(table, hidden);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
  document.addEventListener("htmx:afterSettle", setUp);
})();
