// Spectra console: the colour theme before the first paint (loaded without defer, so no flash).
// The choice ("light"/"dark") is remembered in localStorage; without one the system's wins
// (and console.js follows the system when it changes).
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  var chosen = null;
  try { chosen = window.localStorage.getItem("spectra-theme"); } catch (e) { chosen = null; }
  if (chosen !== "light" && chosen !== "dark") {
    var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    chosen = dark ? "dark" : "light";
  }
  root.setAttribute("data-theme", chosen);
})();
