/* Loaded between require.js and the @jupyter-widgets/html-manager embed bundle, on pages with
 * saved widgets (book/conf.py: nb_ipywidgets_js). Keeps the widgets working offline. */
(function () {
  "use strict";
  // The bundle finds its Font Awesome files relative to the AMD module URLs of @jupyter-widgets/*,
  // by default next to the page: point them at the vendored copy.
  var root = (document.documentElement.dataset.content_root || "./") + "_static/vendor/html-manager";
  window.require.config({paths: {"@jupyter-widgets/html-manager/dist": root, "@jupyter-widgets": root}});

  // ipywidgets' typeset() calls the MathJax 2 API (MathJax.Hub.Queue); the site loads MathJax 3,
  // only on pages with maths. Translate, so that a widget on such a page does not throw.
  var mj = window.MathJax;
  if (mj === undefined || mj.version) {
    return;
  }
  function hub() {
    return {
      Queue: function () {
        for (var i = 0; i < arguments.length; i++) {
          var cmd = arguments[i];
          if (Array.isArray(cmd) && cmd[0] === "Typeset" && window.MathJax.typesetPromise) {
            window.MathJax.typesetPromise([cmd[2]]).catch(function () {});
          }
        }
      },
    };
  }
  mj.Hub = hub(); // while MathJax is loading (window.MathJax is still its configuration)
  mj.startup = mj.startup || {};
  mj.startup.ready = function () {
    window.MathJax.startup.defaultReady();
    window.MathJax.Hub = hub();
  };
})();
