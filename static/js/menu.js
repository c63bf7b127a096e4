// The site header's menu: sent open, so that every link shows without scripts; folded here on
// narrow screens (the <summary> opens it, by mouse or keyboard), and always open on wide ones.
(function () {
  "use strict";
  var menu = document.querySelector("[data-site-menu]");
  if (!menu || !window.matchMedia) { return; }
  var narrow = window.matchMedia("(max-width: 40rem)");
  function fit() { menu.open = !narrow.matches; }
  fit();
  narrow.addEventListener("change", fit);
})();
