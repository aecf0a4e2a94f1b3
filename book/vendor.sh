#!/usr/bin/env bash
# Re-create cnnlessons/course/static/vendor/: the JavaScript the course website (make book) and
# the slide decks (make slides) need, so that both work offline (no CDN). The website serves the
# folder as _static/vendor/ (book/conf.py); each deck folder gets a copy (cnnlessons.course.slides).
# Fetched from the npm registry with `npm pack` (needs npm and the registry, only when you update
# the versions below; the result is committed).
#   bash book/vendor.sh
set -euo pipefail

HTML_MANAGER=1.0.15   # @jupyter-widgets/html-manager: renders saved ipywidgets (ipywidgets 8)
REQUIREJS=2.3.8       # requirejs: the AMD loader embed-amd.js expects
MATHJAX=3.2.2         # mathjax 3: self-contained (MathJax 4 fetches its fonts from a CDN)
REVEAL=4.0.2          # reveal.js: the version nbconvert's slides template is written for
JQUERY=3.7.1          # jquery: nbconvert's slides template sizes scrolling slides with it

here="$(cd "$(dirname "$0")" && pwd)"
vendor="$(cd "$here/.." && pwd)/cnnlessons/course/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "@jupyter-widgets/html-manager@$HTML_MANAGER" "requirejs@$REQUIREJS" "mathjax@$MATHJAX" \
  "reveal.js@$REVEAL" "jquery@$JQUERY" >/dev/null
for f in *.tgz; do mkdir -p "x/${f%.tgz}"; tar xzf "$f" -C "x/${f%.tgz}"; done

rm -rf "$vendor"
mkdir -p "$vendor/html-manager" "$vendor/requirejs" "$vendor/mathjax/output/chtml/fonts" \
  "$vendor/reveal.js/dist/theme" "$vendor/reveal.js/plugin/notes" "$vendor/jquery"

# html-manager: only the AMD embed bundle (it contains @jupyter-widgets/base, controls and output).
hm="x/jupyter-widgets-html-manager-$HTML_MANAGER/package"
cp "$hm/dist/embed-amd.js" "$vendor/html-manager/"
# Its Font Awesome fonts (webpack-hashed names, found next to the AMD modules: _static/widgets-setup.js
# maps @jupyter-widgets/* there). Only woff2: every browser that runs the bundle reads it.
cp "$hm"/dist/*.woff2 "$vendor/html-manager/"
cp "$hm/dist/embed.js.LICENSE.txt" "$vendor/html-manager/THIRD-PARTY-LICENSES.txt"
# The npm package ships no LICENSE file; it is ipywidgets' (BSD-3-Clause, package.json "license").
"${PYTHON:-$(cd "$here/.." && pwd)/.venv/bin/python}" - "$vendor/html-manager/LICENSE" <<'EOF'
import sys, urllib.parse
from importlib import metadata
try:
    text = next(f for f in metadata.files("ipywidgets") if f.name == "LICENSE").read_text()
except Exception:
    text = "BSD 3-Clause License, Copyright (c) 2015 Project Jupyter Contributors.\n" \
           "See https://github.com/jupyter-widgets/ipywidgets/blob/main/LICENSE\n"
open(sys.argv[1], "w").write(text)
EOF

# requirejs: require.js (MIT; the npm package has no LICENSE file, the header names the licence).
cp "x/requirejs-$REQUIREJS/package/require.js" "$vendor/requirejs/"
cat > "$vendor/requirejs/LICENSE" <<'EOF'
MIT License

Copyright jQuery Foundation and other contributors, https://jquery.org/

Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
EOF

# MathJax 3: the TeX -> CommonHTML component and its woff-v2 fonts (loaded relative to the script).
mj="x/mathjax-$MATHJAX/package"
cp "$mj/es5/tex-chtml.js" "$vendor/mathjax/"
cp -r "$mj/es5/output/chtml/fonts/woff-v2" "$vendor/mathjax/output/chtml/fonts/"
cp "$mj/LICENSE" "$vendor/mathjax/LICENSE"

# reveal.js: the UMD build, its CSS, the "simple" theme nbconvert uses and the speaker-notes plugin.
# The theme's Google Fonts @import lines are dropped (offline, the browser falls back to its own
# sans-serif), and so are the source-map comments (nothing to fetch).
rv="x/reveal.js-$REVEAL/package"
cp "$rv/dist/reveal.js" "$rv/dist/reveal.css" "$vendor/reveal.js/dist/"
grep -v '^@import url(https://' "$rv/dist/theme/simple.css" > "$vendor/reveal.js/dist/theme/simple.css"
cp "$rv/plugin/notes/notes.js" "$vendor/reveal.js/plugin/notes/"
sed -i '/^\/\/# sourceMappingURL=/d' "$vendor/reveal.js/dist/reveal.js" "$vendor/reveal.js/plugin/notes/notes.js"
cp "$rv/LICENSE" "$vendor/reveal.js/LICENSE"

# jQuery (MIT).
cp "x/jquery-$JQUERY/package/dist/jquery.min.js" "$vendor/jquery/"
sed -i '/sourceMappingURL=/d' "$vendor/jquery/jquery.min.js"
cp "x/jquery-$JQUERY/package/LICENSE.txt" "$vendor/jquery/LICENSE.txt"

printf 'html-manager %s\nrequirejs %s\nmathjax %s\nreveal.js %s\njquery %s\n' \
  "$HTML_MANAGER" "$REQUIREJS" "$MATHJAX" "$REVEAL" "$JQUERY" > "$vendor/VERSIONS"
du -sh "$vendor"
