/* The receptive-field explorer without a kernel: the recurrence of cnnlessons.analysis
   (r_l = r_{l-1} + d_l (k_l - 1) j_{l-1}, j_l = j_{l-1} s_l, P_l = P_{l-1} + p_l j_{l-1}), the
   input size, centre unit and dependency mask of cnnlessons.widgets.receptive_explorer, and its
   picture, for a plain stack of convolutions (each followed by a ReLU) and pools. */
(function () {
  "use strict";
  var S = window.cnnlessonsStatic = window.cnnlessonsStatic || {};
  var c = S.common;
  var KINDS = ["conv", "maxpool", "avgpool"];
  var MAX_DRAWN_INPUT = 72;  /* as receptive_explorer.MAX_DRAWN_INPUT */
  var LIMITS = {kernel: [1, 7], stride: [1, 3], dilation: [1, 4]};  /* the live widget's sliders */

  /* LayerSpec.pad: padding, or d (k - 1) // 2 ("same"), at most k // 2 for pools */
  function pad(l) {
    if (l.padding !== null && l.padding !== undefined) { return l.padding; }
    var same = Math.floor(l.dilation * (l.kernel - 1) / 2);
    return l.kind === "conv" ? same : Math.min(same, Math.floor(l.kernel / 2));
  }
  function span(l) { return (l.kind === "avgpool" ? 1 : l.dilation) * (l.kernel - 1) + 1; }

  function analyse(layers, channels) {
    var r = 1, j = 1, P = 0, convs = 0, weights = 0;
    layers.forEach(function (l) {
      r += (span(l) - 1) * j;
      P += pad(l) * j;
      j *= l.stride;
      if (l.kind === "conv") { convs += 1; weights += l.kernel * l.kernel * channels * channels; }
    });
    var n = r + 2 * Math.max(2, j);  /* ReceptiveExplorer.input_size */
    var sizes = [n];
    layers.forEach(function (l) {
      sizes.push(Math.floor((sizes[sizes.length - 1] + 2 * pad(l) - span(l)) / l.stride) + 1);
    });
    var last = sizes[sizes.length - 1];
    var u = c.roundHalfEven(((n - 1) / 2 + P - (r - 1) / 2) / j);  /* erf.centre_unit */
    u = Math.min(Math.max(u, 0), last - 1);
    var top = u * j - P;
    var mask = null;
    if (n <= MAX_DRAWN_INPUT) {  /* which input pixels (per axis) can change the centre unit */
      var seen = [u];
      for (var i = layers.length - 1; i >= 0; i--) {
        var l = layers[i], d = l.kind === "avgpool" ? 1 : l.dilation, before = {};
        seen.forEach(function (x) {
          for (var t = 0; t < l.kernel; t++) {
            var p = x * l.stride - pad(l) + t * d;
            if (p >= 0 && p < sizes[i]) { before[p] = true; }
          }
        });
        seen = Object.keys(before).map(Number);
      }
      mask = [];
      for (var p = 0; p < n; p++) { mask.push(seen.indexOf(p) >= 0); }
    }
    var text = layers.length + " layer(s): receptive field " + r + "x" + r + ", jump " + j + ", " +
      c.commas(weights) + " weights, " + convs + " ReLU(s)";
    var title = "r = " + r + ", jump = " + j + ", " + c.commas(weights) + " weights" +
      (mask ? "" : "\n(input too large to shade the pixels)");
    return {size: r, jump: j, padding: P, parameters: weights, layers: layers.length, nonlinearities: convs,
            inputSize: n, unit: [u, u], region: [top, top, top + r - 1, top + r - 1], mask: mask, text: text, title: title};
  }

  function drawing(a) {
    var px = 340, n = a.inputSize, cell = px / n, parts = [];
    parts.push("<rect x='0' y='0' width='" + px + "' height='" + px + "' fill='#f7fbff'/>");
    if (a.mask) {
      for (var y = 0; y < n; y++) {
        if (!a.mask[y]) { continue; }
        for (var x = 0; x < n; x++) {
          if (a.mask[x]) {
            parts.push("<rect x='" + (x * cell).toFixed(2) + "' y='" + (y * cell).toFixed(2) + "' width='" +
                       cell.toFixed(2) + "' height='" + cell.toFixed(2) + "' fill='#4a98c9'/>");
          }
        }
      }
      if (n <= 48) {
        for (var g = 0; g <= n; g++) {
          var at = (g * cell).toFixed(2);
          parts.push("<line x1='" + at + "' y1='0' x2='" + at + "' y2='" + px + "' stroke='#d9d9d9' stroke-width='0.5'/>");
          parts.push("<line x1='0' y1='" + at + "' x2='" + px + "' y2='" + at + "' stroke='#d9d9d9' stroke-width='0.5'/>");
        }
      }
    }
    var t = a.region;
    parts.push("<rect x='" + (t[1] * cell).toFixed(2) + "' y='" + (t[0] * cell).toFixed(2) + "' width='" +
               (a.size * cell).toFixed(2) + "' height='" + (a.size * cell).toFixed(2) +
               "' fill='none' stroke='crimson' stroke-width='2'/>");
    return "<svg xmlns='http://www.w3.org/2000/svg' width='" + px + "' height='" + px + "' viewBox='0 0 " + px + " " + px +
      "' role='img' aria-label='" + c.escape(a.title.replace("\n", " ")) + "' style='overflow:hidden'>" + parts.join("") + "</svg>";
  }

  function mount(root, state) {
    var layers = state.layers.map(function (l) {
      return {kind: l.kind, kernel: l.kernel, stride: l.stride, dilation: l.dilation,
              padding: l.padding === undefined ? null : l.padding};
    });
    var channels = state.channels;
    var list = c.el("div", {"class": "cnnlessons-static-layers"});
    var info = c.el("p", {"class": "cnnlessons-static-readout", style: "font-weight: bold"});
    var title = c.el("p", {style: "margin: 0.3em 0 0.1em; white-space: pre-line"});
    var picture = c.el("div");
    function redraw() {
      var a = analyse(layers, channels);
      info.textContent = a.text;
      title.textContent = a.title;
      picture.innerHTML = drawing(a);
    }
    function rebuild() {
      list.innerHTML = "";
      layers.forEach(function (l, i) {
        var kind = c.el("select", {"aria-label": "layer " + (i + 1) + " kind"});
        KINDS.forEach(function (k) {
          var option = c.el("option", {value: k, text: k});
          if (k === l.kind) { option.selected = true; }
          kind.appendChild(option);
        });
        var row = c.el("div", {style: "display: flex; flex-wrap: wrap; align-items: center; gap: 0 1em; margin: 0.2em 0"},
                       [c.el("span", {text: "layer " + (i + 1), style: "min-width: 4.5em; font-weight: bold"}), kind]);
        var sliders = {};
        ["kernel", "stride", "dilation"].forEach(function (name) {
          sliders[name] = c.slider(name, LIMITS[name][0], LIMITS[name][1], l[name], function () {
            l[name] = parseInt(sliders[name].input.value, 10);
            redraw();
          });
          sliders[name].style.minWidth = "13em";
          row.appendChild(sliders[name]);
        });
        sliders.dilation.input.disabled = l.kind === "avgpool";
        kind.addEventListener("change", function () {
          l.kind = kind.value;
          if (l.kind === "avgpool") { l.dilation = 1; }  /* average pooling has no dilation */
          rebuild();
        });
        var remove = c.el("button", {type: "button", text: "remove"});
        remove.disabled = layers.length === 1;  /* the stack keeps at least one layer */
        remove.addEventListener("click", function () { layers.splice(i, 1); rebuild(); });
        row.appendChild(remove);
        list.appendChild(row);
      });
      redraw();
    }
    var add = c.el("button", {type: "button", text: "add layer"});
    add.addEventListener("click", function () {
      layers.push({kind: "conv", kernel: 3, stride: 1, dilation: 1, padding: null});
      rebuild();
    });
    var panel = c.el("div", {}, [list, add, info, title, picture]);
    root.insertBefore(panel, root.firstChild);
    rebuild();
  }

  S.receptive_explorer = {analyse: analyse, mount: mount};
})();
