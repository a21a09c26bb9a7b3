"""HTML details of the book: everything served locally, and a clean browser console.

- Copies MathJax 3, RequireJS and the ipywidgets HTML manager from ``node_modules``
  (installed by ``make install`` from package.json) into ``_build/html/_static/vendor``
  and points Sphinx and myst-nb at those copies instead of their CDNs, so the book
  renders with no network.
- Gives the theme an explicit light/dark default (an empty one logs a console error).
- Drops script tags that an extension registered twice (sphinx-thebe's inline
  configuration is added twice under Jupyter Book 1, which is a JavaScript error).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[1]
MODULES = ROOT / "node_modules"
# source -> destination under _static/vendor
ASSETS = {
    MODULES / "mathjax/es5": "mathjax",
    MODULES / "requirejs/require.js": "require.js",
    MODULES / "@jupyter-widgets/html-manager/dist": "html-manager",
    Path(__file__).with_name("widgets_assets_path.js"): "widgets_assets_path.js",
}


def _config_inited(app: Sphinx, config) -> None:
    missing = [str(src.relative_to(ROOT)) for src in ASSETS if not src.exists()]
    if missing:
        raise ExtensionError(f"book_html: {', '.join(missing)} missing; run `make install` (npm ci)")
    config.mathjax_path = "vendor/mathjax/tex-chtml.js"
    config.nb_ipywidgets_js = {
        "vendor/require.js": {},
        "vendor/widgets_assets_path.js": {},
        "vendor/html-manager/embed-amd.js": {},
    }
    config.html_context.setdefault("default_mode", "light")


def _dedupe_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    seen, unique = set(), []
    for js in context.get("script_files", []):
        key = (getattr(js, "filename", str(js)) or None, tuple(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"][:] = unique


def _build_finished(app: Sphinx, exc: Exception | None) -> None:
    if exc is not None or app.builder.format != "html":
        return
    vendor = Path(app.outdir) / "_static" / "vendor"
    for source, dst in ASSETS.items():
        target = vendor / dst
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.map"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _config_inited, priority=900)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
