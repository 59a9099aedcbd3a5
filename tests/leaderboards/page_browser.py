"""Headless Chromium for the page tests: find it, open a page at a window width and read back measurements
that a script injected into the page writes into the DOM (``--dump-dom``; no network, no DevTools)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

# the measurement script: boxes of the page, its figures, tables, points and heat-map cells (CSS pixels),
# then the forest plot's header after scrolling to the middle of the plot (is it still at the top?)
MEASURE = r"""
(function () {
  function box(e) { var r = e.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height}; }
  function all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  var main = document.querySelector("main") || document.body, cs = getComputedStyle(main);
  var mb = box(main);
  var content = mb.width - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
  var out = {innerWidth: window.innerWidth, clientWidth: document.documentElement.clientWidth,
    scrollWidth: document.documentElement.scrollWidth, scrollHeight: document.documentElement.scrollHeight,
    content: content, main: mb, figures: [], tables: [],
    cells: {min_width: 1e9, min_height: 1e9, count: 0}, points_outside: [], texts_outside: []};
  all("svg").forEach(function (svg) {
    var b = box(svg), fig = {cls: svg.getAttribute("class"), task: svg.getAttribute("data-task"), box: b,
      points: 0};
    all("circle, g.mark rect", svg).forEach(function (c) {
      fig.points++;
      var p = box(c);
      if (p.left < b.left - 0.5 || p.right > b.right + 0.5 ||
          p.top < b.top - 0.5 || p.bottom > b.bottom + 0.5)
        out.points_outside.push({svg: fig.cls, task: fig.task, box: p, svgbox: b});
    });
    all("text", svg).forEach(function (t) {
      var p = box(t);
      if (p.width && (p.left < b.left - 1 || p.right > b.right + 1 ||
                      p.top < b.top - 1 || p.bottom > b.bottom + 1))
        out.texts_outside.push({svg: fig.cls, text: t.textContent.slice(0, 40), box: p, svgbox: b});
    });
    out.figures.push(fig);
  });
  all("rect.cell").forEach(function (c) {
    var p = box(c);
    out.cells.count++;
    out.cells.min_width = Math.min(out.cells.min_width, p.width);
    out.cells.min_height = Math.min(out.cells.min_height, p.height);
  });
  all("table").forEach(function (t) {
    var holder = t.parentElement;
    out.tables.push({id: t.id, table: box(t), holder: box(holder),
      overflow: getComputedStyle(holder).overflowX});
  });
  var head = document.querySelector(".forest-head"), body = document.querySelector("svg.forest");
  if (head && body) {
    var top = body.getBoundingClientRect().top + window.scrollY;
    window.scrollTo(0, top + body.getBoundingClientRect().height / 2);
    out.sticky = {position: getComputedStyle(head).position, head: box(head), body: box(body),
      scrollY: window.scrollY};
    window.scrollTo(0, 0);
  }
  var pre = document.createElement("pre");
  pre.id = "layout-measure";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
"""


def chromium() -> str | None:
    """The path of Debian's chromium (or chromium-browser), or None."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
        if path:
            return path
    return None


def browser_command(browser: str, profile: Path, width: int, height: int = 1200) -> list[str]:
    """Headless chromium with no network services, a throwaway profile and a window of ``width``."""
    return [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--force-device-scale-factor=1",
        f"--window-size={width},{height}",
        f"--user-data-dir={profile}",
    ]


# the page that holds one frame per width: each frame measures itself, the page gathers what they wrote
FRAMES = """<!DOCTYPE html><html><body>{frames}<pre id="layout-measure"></pre><script>
window.addEventListener("load", function () {{
  var out = {{}};
  Array.prototype.forEach.call(document.querySelectorAll("iframe"), function (f) {{
    var found = f.contentDocument.getElementById("layout-measure");
    out[f.getAttribute("width")] = found ? JSON.parse(found.textContent) : null;
  }});
  document.getElementById("layout-measure").textContent = JSON.stringify(out);
}});
</script></body></html>"""


def measure(
    browser: str, page: Path, widths: list[int], work: Path, script: str = MEASURE, height: int = 1200
) -> dict[int, dict[str, Any]]:
    """Open ``page`` with ``script`` appended once per width (each in a frame of that width, one browser
    start for all) and return what the script measured, by width."""
    text = page.read_text(encoding="utf-8").replace("</body>", f"<script>{script}</script></body>")
    frames = "".join(
        f'<iframe width="{w}" height="{height}" style="border:0;display:block" '
        f'srcdoc="{html.escape(text, quote=True)}"></iframe>'
        for w in widths
    )
    probe = work / "probe.html"
    probe.write_text(FRAMES.format(frames=frames), encoding="utf-8")
    command = [*browser_command(browser, work / "profile", max(widths) + 40), "--dump-dom", probe.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'<pre id="layout-measure">(.*?)</pre>', done.stdout, re.S)
    assert found and found.group(1), f"no measurement: {done.stderr[-2000:]}"
    measured = json.loads(html.unescape(found.group(1)))
    return {w: measured[str(w)] for w in widths}


def screenshot(browser: str, page: Path, out: Path, width: int, height: int, work: Path) -> None:
    """A PNG of ``page`` at ``width`` x ``height``."""
    command = [
        *browser_command(browser, work / f"profile_shot_{width}", width, height),
        f"--screenshot={out}",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert out.is_file(), done.stderr[-2000:]


# exports the first figure as SVG and as PNG (through a canvas) and writes what came out into the DOM
EXPORT_PROBE = r"""
window.addEventListener("load", function () {
  var fig = document.querySelector("figure.fig"), svg = window.ecglabFigures.svg(fig);
  window.ecglabFigures.png(fig, function (url, width, height) {
    var pre = document.createElement("pre");
    pre.id = "layout-measure";
    pre.textContent = JSON.stringify({name: fig.getAttribute("data-name"), svg_width: svg.width,
      svg_height: svg.height, svg_start: svg.text.slice(0, 200),
      n_svg: (svg.text.match(/<svg/g) || []).length,
      png_start: url.slice(0, 22), png_length: url.length, png_width: width, png_height: height});
    document.body.appendChild(pre);
  });
});
"""


def run_script(browser: str, page: Path, work: Path, script: str, width: int = 1400) -> dict[str, Any]:
    """Open a copy of ``page`` with ``script`` appended, let it run (up to 20 s of virtual time, for an
    image to load) and return the JSON it wrote into ``<pre id="layout-measure">``."""
    probe = work / "script_probe.html"
    text = page.read_text(encoding="utf-8")
    probe.write_text(text.replace("</body>", f"<script>{script}</script></body>"), encoding="utf-8")
    command = [
        *browser_command(browser, work / "profile_script", width),
        "--virtual-time-budget=20000",
        "--dump-dom",
        probe.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'<pre id="layout-measure">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the script wrote nothing: {done.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))
