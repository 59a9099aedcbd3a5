"""SVG figures of the leaderboard's HTML page as data: a ``Figure`` is one or more stacked ``Panel``s (the
forest plot's sticky axis header and its body are two), shown in the page with buttons that download it
as SVG or PNG, and written as one standalone SVG file for a paper (:func:`standalone_svg`). Every panel
has a ``viewBox``: the page scales wide figures to its width, and nothing drawn lies outside the box."""

from __future__ import annotations

from dataclasses import dataclass, field

from ecglab.leaderboards.formatting import escape

FONT = "Helvetica, Arial, sans-serif"
SVG_NS = "http://www.w3.org/2000/svg"


@dataclass
class Panel:
    """One ``<svg>`` of a figure: its content (without the ``<svg>`` element) and size in SVG units."""

    body: str
    width: float
    height: float
    cls: str
    attrs: str = ""
    sticky: bool = False  # an axis header that stays at the top of the window while the figure scrolls


@dataclass
class Figure:
    """A figure of the page: ``name`` is its file stem (``forest-TASK``), ``wide`` fills the page width
    (else its natural size, shrunk to fit)."""

    name: str
    label: str
    panels: list[Panel] = field(default_factory=list)
    wide: bool = True


def panel_svg(panel: Panel, wide: bool) -> str:
    """The panel as an inline ``<svg>`` of the page."""
    cls = f"{panel.cls} {'wide' if wide else 'natural'}"
    return (
        f'<svg class="{cls}" xmlns="{SVG_NS}" viewBox="0 0 {panel.width:.0f} {panel.height:.0f}" '
        f'width="{panel.width:.0f}" height="{panel.height:.0f}" font-family="{FONT}" '
        f'role="img"{panel.attrs}>{panel.body}</svg>'
    )


def figure_html(fig: Figure) -> str:
    """The figure in the page: its panels (a sticky one in a header box) and SVG / PNG download buttons."""
    parts = [f'<figure class="fig" id="fig-{escape(fig.name)}" data-name="{escape(fig.name)}">']
    for panel in fig.panels:
        svg = panel_svg(panel, fig.wide)
        parts.append(f'<div class="sticky-head forest-head">{svg}</div>' if panel.sticky else svg)
    parts.append(
        f'<figcaption><span class="note">{escape(fig.label)}</span> '
        '<button type="button" data-export="svg" title="download this figure as SVG">SVG</button>'
        '<button type="button" data-export="png" title="download this figure as PNG (2x)">PNG</button>'
        "</figcaption></figure>"
    )
    return "".join(parts)


def standalone_svg(fig: Figure) -> str:
    """The figure as one SVG file: its panels stacked top to bottom on a white background."""
    width = max(p.width for p in fig.panels)
    height = sum(p.height for p in fig.panels)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<svg xmlns="{SVG_NS}" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
        f'height="{height:.0f}" font-family="{FONT}">',
        f"<title>{escape(fig.label)}</title>",
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
    ]
    y = 0.0
    for panel in fig.panels:
        parts.append(f'<g transform="translate(0 {y:.0f})">{panel.body}</g>')
        y += panel.height
    parts.append("</svg>\n")
    return "".join(parts)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (the full text goes in a title tooltip)."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def text_width(text: str, size: float) -> float:
    """A generous estimate of the width of ``text`` at font ``size`` in a sans-serif font."""
    return len(text) * size * 0.6


EXPORT_SCRIPT = """
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  function figureSvg(fig) {
    var svgs = fig.querySelectorAll("svg"), width = 0, height = 0, parts = [];
    Array.prototype.forEach.call(svgs, function (s) {
      var vb = s.viewBox.baseVal;
      parts.push([s, height, vb.width, vb.height]);
      width = Math.max(width, vb.width);
      height += vb.height;
    });
    var out = document.createElementNS(NS, "svg");
    out.setAttribute("xmlns", NS);
    out.setAttribute("viewBox", "0 0 " + width + " " + height);
    out.setAttribute("width", width);
    out.setAttribute("height", height);
    out.setAttribute("font-family", svgs.length ? svgs[0].getAttribute("font-family") : "sans-serif");
    var bg = document.createElementNS(NS, "rect");
    bg.setAttribute("width", width); bg.setAttribute("height", height); bg.setAttribute("fill", "#ffffff");
    out.appendChild(bg);
    parts.forEach(function (p) {
      var c = p[0].cloneNode(true);
      c.removeAttribute("class"); c.removeAttribute("style");
      c.setAttribute("x", 0); c.setAttribute("y", p[1]);
      c.setAttribute("width", p[2]); c.setAttribute("height", p[3]);
      out.appendChild(c);
    });
    return {text: new XMLSerializer().serializeToString(out), width: width, height: height};
  }
  function svgUrl(text) { return "data:image/svg+xml;charset=utf-8," + encodeURIComponent(text); }
  function toPng(fig, done) {
    var svg = figureSvg(fig), img = new Image(), scale = 2;
    img.onload = function () {
      var canvas = document.createElement("canvas");
      canvas.width = Math.ceil(svg.width * scale); canvas.height = Math.ceil(svg.height * scale);
      var ctx = canvas.getContext("2d");
      ctx.fillStyle = "#ffffff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
      done(canvas.toDataURL("image/png"), canvas.width, canvas.height);
    };
    img.onerror = function () { done("", 0, 0); };
    img.src = svgUrl(svg.text);
  }
  function save(name, url) {
    var a = document.createElement("a");
    a.href = url; a.download = name; document.body.appendChild(a); a.click(); a.remove();
  }
  document.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("button[data-export]") : null;
    if (!b) return;
    var fig = b.closest("figure"), name = fig.getAttribute("data-name");
    if (b.getAttribute("data-export") === "svg") save(name + ".svg", svgUrl(figureSvg(fig).text));
    else toPng(fig, function (url) { if (url) save(name + ".png", url); });
  });
  window.ecglabFigures = {svg: figureSvg, png: toPng};
})();
"""
