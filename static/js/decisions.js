// The publish form, made quicker: the evidence filter narrows the ticked lists as one types
// (the "Filter" button asks the server the same without JavaScript), and "Add more rows" adds
// one empty commitment row in place instead of sending the form.
(function () {
  "use strict";

  var picker = document.querySelector("[data-evidence-picker]");
  var filter = picker && picker.querySelector("input[type=search]");
  if (filter) {
    filter.addEventListener("input", function () {
      var needle = filter.value.trim().toLowerCase();
      picker.querySelectorAll("[data-evidence-item]").forEach(function (item) {
        var box = item.querySelector("input");
        var shown = box.checked || item.textContent.toLowerCase().indexOf(needle) !== -1;
        item.hidden = !shown;
      });
    });
    filter.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); }
    });
  }

  var rows = document.querySelector("[data-commitment-rows]");
  var more = rows && rows.querySelector("[data-add-commitment]");
  if (more) {
    more.addEventListener("click", function (event) {
      var all = rows.querySelectorAll("[data-commitment-row]");
      var last = all[all.length - 1];
      var next = all.length;
      var copy = last.cloneNode(true);
      copy.querySelectorAll(".error").forEach(function (error) { error.remove(); });
      copy.querySelectorAll(".field--error").forEach(function (box) {
        box.classList.remove("field--error");
      });
      copy.querySelectorAll("input").forEach(function (input) {
        var name = input.name.replace(/-\d+-/, "-" + next + "-");
        input.name = name;
        input.id = name;
        input.value = "";
        input.removeAttribute("aria-invalid");
        input.removeAttribute("aria-describedby");
      });
      copy.querySelectorAll("label").forEach(function (label) {
        label.htmlFor = label.htmlFor.replace(/-\d+-/, "-" + next + "-");
        var hidden = label.querySelector(".visually-hidden");
        if (hidden) { hidden.textContent = hidden.textContent.replace(/\d+/, String(next + 1)); }
      });
      last.after(copy);
      copy.querySelector("input").focus();
      event.preventDefault();
    });
  }
}());
