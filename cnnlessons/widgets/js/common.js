/* Shared helpers of the static explorers (cnnlessons/widgets/static.py): number formatting that
   matches Python's, and labelled range sliders. Plain ES5, no libraries, nothing fetched. */
(function () {
  "use strict";
  var S = window.cnnlessonsStatic = window.cnnlessonsStatic || {};
  if (S.common) { return; }
  S.common = {
    /* f"{n:,}" for an integer */
    commas: function (n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); },
    /* Python's round(): halves go to the even integer */
    roundHalfEven: function (x) {
      var f = Math.floor(x), d = x - f;
      if (d > 0.5) { return f + 1; }
      if (d < 0.5) { return f; }
      return f % 2 === 0 ? f : f + 1;
    },
    escape: function (text) {
      return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    },
    el: function (tag, attrs, children) {
      var node = document.createElement(tag);
      Object.keys(attrs || {}).forEach(function (k) {
        if (k === "text") { node.textContent = attrs[k]; } else if (k === "style") { node.style.cssText = attrs[k]; }
        else { node.setAttribute(k, attrs[k]); }
      });
      (children || []).forEach(function (c) { node.appendChild(c); });
      return node;
    },
    /* A labelled slider: the label in full (never cut), the value beside it. */
    slider: function (name, min, max, value, onChange) {
      var c = S.common;
      var input = c.el("input", {type: "range", min: String(min), max: String(max), step: "1", value: String(value),
                                 name: name, "aria-label": name, style: "flex: 1 1 auto; min-width: 8em"});
      var shown = c.el("output", {text: String(value), style: "min-width: 3em; text-align: right; font-variant-numeric: tabular-nums"});
      input.addEventListener("input", function () { shown.textContent = input.value; onChange(); });
      var row = c.el("label", {style: "display: flex; align-items: center; gap: 0.6em; margin: 0.15em 0"},
                     [c.el("span", {text: name, style: "min-width: 7em; white-space: nowrap"}), input, shown]);
      row.input = input;
      return row;
    }
  };
})();
