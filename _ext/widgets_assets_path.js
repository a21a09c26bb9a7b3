// Make the ipywidgets HTML manager load its fonts and chunks from the copy served next to
// this file (_static/vendor/html-manager/), not from a CDN, so widgets render offline.
// It finds them from the RequireJS module path of "@jupyter-widgets/html-manager/dist".
(function () {
  var src = document.currentScript && document.currentScript.src;
  if (!src) return;
  var base = src.replace(/[^/]*$/, "html-manager");
  window.__jupyter_widgets_assets_path__ = base + "/";
  if (window.require && window.require.config) {
    window.require.config({ paths: { "@jupyter-widgets/html-manager/dist": base } });
  }
})();
