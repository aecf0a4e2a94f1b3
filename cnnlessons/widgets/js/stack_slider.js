/* Lesson 00's stack slider without a kernel: n stacked k x k stride-1 convolutions see
   r_n = n (k - 1) + 1 pixels (cnnlessons.widgets.stack_demo.describe_stack). */
(function () {
  "use strict";
  var S = window.cnnlessonsStatic = window.cnnlessonsStatic || {};
  var c = S.common;

  function describe(layers, kernel) {
    var r = layers * (kernel - 1) + 1;
    return layers + " stacked " + kernel + "x" + kernel + " conv(s) see a " + r + "x" + r + " window of the input";
  }

  function mount(root, state) {
    var label = c.el("p", {"class": "cnnlessons-static-readout"});
    var slider = c.slider("layers", 1, state.max_layers, state.value, function () {
      label.textContent = describe(parseInt(slider.input.value, 10), state.kernel);
    });
    label.textContent = describe(state.value, state.kernel);
    root.insertBefore(c.el("div", {}, [slider, label]), root.firstChild);
  }

  S.stack_slider = {describe: describe, mount: mount};
})();
