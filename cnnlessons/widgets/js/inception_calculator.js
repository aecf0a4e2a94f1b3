/* The Inception calculator without a kernel: cnnlessons.models.inception.branch_costs and
   cnnlessons.widgets.inception_calculator.calculate / render_html, the same formulas. */
(function () {
  "use strict";
  var S = window.cnnlessonsStatic = window.cnnlessonsStatic || {};
  var c = S.common;
  var BRANCHES = ["1x1", "3x3", "5x5", "pool"];
  var COLORS = {"1x1": "#4c72b0", "3x3": "#dd8452", "5x5": "#c44e52", "pool": "#55a868"};
  var LIMITS = [["in_channels", 1, 1024], ["size", 1, 112], ["c1x1", 1, 512], ["c3x3", 1, 512],
                ["c5x5", 1, 512], ["bottleneck", 0, 512]];

  /* One convolution: H W C_out k k C_in multiply-adds, C_out k k C_in + C_out parameters. */
  function term(branch, size, k, cin, cout) {
    return {branch: branch, macs: size * size * cout * k * k * cin, params: cout * k * k * cin + cout};
  }

  function branchCosts(cin, c1, c3, c5, b, size) {
    var terms = [term("1x1", size, 1, cin, c1)];
    [["3x3", 3, c3], ["5x5", 5, c5]].forEach(function (t) {
      if (b !== null) { terms.push(term(t[0], size, 1, cin, b)); }
      terms.push(term(t[0], size, t[1], b === null ? cin : b, t[2]));
    });
    if (b !== null) { terms.push(term("pool", size, 1, cin, b)); }
    var depths = {"1x1": c1, "3x3": c3, "5x5": c5, "pool": b === null ? cin : b};
    var cost = {terms: terms, depths: depths, macs: 0, params: 0, out: 0, branch: {}};
    BRANCHES.forEach(function (br) { cost.branch[br] = 0; cost.out += depths[br]; });
    terms.forEach(function (t) { cost.macs += t.macs; cost.params += t.params; cost.branch[t.branch] += t.macs; });
    return cost;
  }

  function calculate(v) {
    var b = v.bottleneck === 0 || v.bottleneck === null || v.bottleneck === undefined ? null : v.bottleneck;
    return {chosen: branchCosts(v.in_channels, v.c1x1, v.c3x3, v.c5x5, b, v.size),
            naive: branchCosts(v.in_channels, v.c1x1, v.c3x3, v.c5x5, null, v.size), bottleneck: b};
  }

  /* millions with one decimal, rounded half up on the exact integer (as render_html does) */
  function millions(n) {
    var tenths = Math.floor((n + 50000) / 100000);
    return c.commas(Math.floor(tenths / 10)) + "." + (tenths % 10);
  }

  function render(calc, widthPx) {
    widthPx = widthPx || 360;
    var scale = Math.max.apply(null, BRANCHES.map(function (br) { return calc.naive.branch[br]; }));
    var rows = BRANCHES.map(function (br) {
      var px = Math.floor((2 * widthPx * calc.chosen.branch[br] + scale) / (2 * scale));
      return "<tr><td>" + br + "</td><td><div style='background:" + COLORS[br] + ";width:" + px + "px;height:14px'></div></td>" +
        "<td style='text-align:right'>" + millions(calc.chosen.branch[br]) + " M</td>" +
        "<td style='text-align:right;color:#777'>naive " + millions(calc.naive.branch[br]) + " M</td>" +
        "<td style='text-align:right'>+" + calc.chosen.depths[br] + " ch</td></tr>";
    });
    var permille = Math.floor((2000 * calc.chosen.macs + calc.naive.macs) / (2 * calc.naive.macs));
    var label = calc.bottleneck === null ? "no bottleneck" : "bottleneck " + calc.bottleneck;
    var summary = "<p><b>" + label + "</b>: " + c.commas(calc.chosen.macs) + " multiply-adds (" +
      Math.floor(permille / 10) + "." + (permille % 10) + "% of the naive " + c.commas(calc.naive.macs) + "); " +
      c.commas(calc.chosen.params) + " parameters; output depth <b>" + calc.chosen.out + "</b> (naive " + calc.naive.out + ")</p>";
    return "<table>" + rows.join("") + "</table>" + summary;
  }

  function mount(root, state) {
    var sliders = {};
    var readout = c.el("div", {"class": "cnnlessons-static-readout"});
    function update() {
      var v = {};
      LIMITS.forEach(function (l) { v[l[0]] = parseInt(sliders[l[0]].input.value, 10); });
      readout.innerHTML = render(calculate(v));
    }
    var columns = [c.el("div", {style: "flex: 1 1 20em"}), c.el("div", {style: "flex: 1 1 20em"})];
    LIMITS.forEach(function (l, i) {
      sliders[l[0]] = c.slider(l[0], l[1], l[2], state[l[0]], update);
      columns[i < 3 ? 0 : 1].appendChild(sliders[l[0]]);
    });
    root.insertBefore(c.el("div", {style: "display: flex; flex-wrap: wrap; gap: 0 2em"}, columns), root.firstChild);
    root.insertBefore(readout, root.children[1] || null);
    update();
  }

  S.inception_calculator = {calculate: calculate, render: render, mount: mount};
})();
