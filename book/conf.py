"""Sphinx configuration of the course website (``python -m book``; see book/README.md).

The source folder is a temporary one that ``book/build.py`` writes (a generated landing page
and annotated copies of ``notebooks/*.ipynb``); this folder is only the configuration, the
templates and the static files. Nothing is executed: the pages show the committed outputs.
Everything a page loads is served from the site itself (no CDN), so it works offline.
"""
from __future__ import annotations

project = "cnnlessons"
author = "the cnnlessons authors"

html_title = "cnnlessons"

extensions = ["myst_nb"]
myst_enable_extensions = ["dollarmath", "amsmath"]

# The notebooks are committed executed: render them as they are, never run a kernel.
nb_execution_mode = "off"
nb_merge_streams = True
nb_output_stderr = "show"
# Markdown a cell displays (IPython.display.Markdown) is parsed like the pages' own Markdown, with
# tables (myst-nb's default, CommonMark, has no tables: a table would show as one paragraph).
nb_render_markdown_format = "myst"

exclude_patterns = ["**.ipynb_checkpoints", ".doctrees"]
# _static/vendor/ (the vendored JavaScript) comes from the library, which the slide decks share.
html_static_path = ["_static", "../cnnlessons/course/static"]
html_css_files = ["book.css"]

# Offline maths: a vendored MathJax 3 (MathJax 4, Sphinx's default, fetches fonts from a CDN).
mathjax_path = "vendor/mathjax/tex-chtml.js"
mathjax3_config = {"options": {"processHtmlClass": "tex2jax_process|mathjax_process|math|output_area"}}

# Saved ipywidgets: the @jupyter-widgets/html-manager embed bundle and require.js, vendored
# (myst-nb loads them from cdnjs/jsdelivr by default). Paths are relative to _static/.
# embed-amd.js bundles @jupyter-widgets/base, controls and output: the only widget modules
# the lessons use. The CDN attribute points at a local folder so that a widget from another
# package fails visibly (a 404 the browser test sees) instead of reaching the internet.
nb_ipywidgets_js = {
    "vendor/requirejs/require.js": {},
    "widgets-setup.js": {},  # where the bundle finds its fonts; MathJax 2 calls -> MathJax 3
    "vendor/html-manager/embed-amd.js": {"data-jupyter-widgets-cdn": "_static/vendor/npm/"},
}

html_theme = "sphinx_book_theme"
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "navigation_with_keys": True,
    # One search box per page: the sidebar's. The header's persistent search field would be a second.
    "navbar_persistent": [],
}
html_last_updated_fmt = None
html_show_sphinx = False
# Light by default (the saved widgets and the figures are drawn for a light background); the
# reader can still switch. Without a value the theme logs a console error on every page.
html_context = {"default_mode": "light"}
