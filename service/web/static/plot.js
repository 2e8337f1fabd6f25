// The angle series of an assessment over time, as inline SVG: axes with units, the zero line
// (each series' sign convention is in the legend), events as shaded spans, a time cursor.

import { el } from "./common.js";

const NS = "http://www.w3.org/2000/svg";
const W = 820, H = 330, M = { l: 52, r: 12, t: 12, b: 40 };
const COLOURS = ["#0b6bcb", "#d1495b", "#2a9d3f", "#8f5ac9", "#e08a00", "#00838f", "#6d4c41", "#c2185b"];

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function niceStep(span, target) {
  const raw = span / target, mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
}

function ticks(lo, hi, target) {
  const step = niceStep(hi - lo || 1, target), out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Math.round(v * 1e6) / 1e6);
  return out;
}

/** The angle series (unit deg) that were measured, in the document's order. */
export function angleSeries(a) {
  return Object.keys(a.series || {}).filter((name) => name !== "t_s" && Array.isArray(a.series[name])
    && a.conventions?.[name]?.unit === "deg" && a.series[name].some((v) => v !== null));
}

/** Build the plot; returns {node, setCursor(t_s)}. `onSeek(t_s)` is called when the plot is clicked. */
export function renderPlot(a, { onSeek, label = (n) => n, eventLabel = (t) => t.replace(/_/g, " ") } = {}) {
  const t = a.series.t_s;
  const names = angleSeries(a);
  const shown = new Set(names.filter((n) => n !== "body_yaw_deg"));
  const colour = Object.fromEntries(names.map((n, i) => [n, COLOURS[i % COLOURS.length]]));
  const box = el("div", { class: "plot", "data-testid": "plot" });
  const legend = el("div", { class: "legend", "data-testid": "legend" });
  let cursor = null, x = null;

  function draw() {
    const visible = names.filter((n) => shown.has(n));
    const vals = visible.flatMap((n) => a.series[n].filter((v) => v !== null));
    const t0 = t[0], t1 = t[t.length - 1] > t0 ? t[t.length - 1] : t0 + 1;
    let lo = Math.min(0, ...vals), hi = Math.max(0, ...vals);
    if (!vals.length) { lo = -10; hi = 10; }
    const pad = Math.max(2, (hi - lo) * 0.05);
    lo -= pad; hi += pad;
    x = (s) => M.l + ((s - t0) / (t1 - t0)) * (W - M.l - M.r);
    const y = (d) => H - M.b - ((d - lo) / (hi - lo)) * (H - M.t - M.b);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "data-testid": "plot-svg",
                              "aria-label": "joint angles in degrees over time in seconds" });
    for (const v of ticks(lo, hi, 6)) {
      root.append(svg("line", { class: "grid", x1: M.l, x2: W - M.r, y1: y(v), y2: y(v) }),
                  svg("text", { x: M.l - 6, y: y(v) + 4, "text-anchor": "end" }, v));
    }
    for (const v of ticks(t0, t1, 10)) {
      root.append(svg("line", { class: "grid", x1: x(v), x2: x(v), y1: M.t, y2: H - M.b }),
                  svg("text", { x: x(v), y: H - M.b + 16, "text-anchor": "middle" }, v));
    }
    for (const ev of a.events || []) {
      const end = ev.end_s ?? ev.start_s;
      const r = svg("rect", { class: "event", "data-testid": "event", "data-type": ev.type, x: x(ev.start_s), y: M.t,
                              width: Math.max(2, x(end) - x(ev.start_s)), height: H - M.t - M.b });
      r.append(svg("title", {}, `${eventLabel(ev.type)}${ev.side ? " (" + ev.side + ")" : ""}: ${ev.start_s}–${end} s`));
      root.append(r);
      if (ev.end_s !== null && ev.end_s !== undefined && x(end) - x(ev.start_s) > 40) {
        root.append(svg("text", { x: x(ev.start_s) + 3, y: M.t + 11, class: "event-label" }, eventLabel(ev.type)));
      }
    }
    root.append(svg("line", { class: "zero", x1: M.l, x2: W - M.r, y1: y(0), y2: y(0) }));
    for (const n of visible) {
      let d = "", pen = false, points = 0;
      a.series[n].forEach((v, i) => {
        if (v === null) { pen = false; return; }
        d += `${pen ? "L" : "M"}${x(t[i]).toFixed(1)},${y(v).toFixed(1)}`;
        pen = true;
        points += 1;
      });
      root.append(svg("path", { d, fill: "none", stroke: colour[n], "stroke-width": 1.6, "data-testid": "series-path",
                                "data-series": n, "data-points": points }));
    }
    const axis = svg("g", { class: "axis" },
      svg("line", { x1: M.l, x2: M.l, y1: M.t, y2: H - M.b }), svg("line", { x1: M.l, x2: W - M.r, y1: H - M.b, y2: H - M.b }),
      svg("text", { x: (M.l + W - M.r) / 2, y: H - 6, "text-anchor": "middle" }, "time (s)"),
      svg("text", { x: 12, y: (M.t + H - M.b) / 2, transform: `rotate(-90 12 ${(M.t + H - M.b) / 2})`,
                    "text-anchor": "middle" }, "angle (°)"));
    root.append(axis);
    cursor = svg("line", { class: "cursor", x1: M.l, x2: M.l, y1: M.t, y2: H - M.b, visibility: "hidden" });
    root.append(cursor);
    root.addEventListener("click", (ev) => {
      if (!onSeek) return;
      const rect = root.getBoundingClientRect(), px = ((ev.clientX - rect.left) / rect.width) * W;
      onSeek(t0 + ((px - M.l) / (W - M.l - M.r)) * (t1 - t0));
    });
    box.replaceChildren(root, legend);
  }

  legend.append(...names.map((n) => {
    const box = el("input", { type: "checkbox", checked: shown.has(n), "data-series": n });
    box.addEventListener("change", () => { box.checked ? shown.add(n) : shown.delete(n); draw(); });
    const conv = a.conventions[n];
    return el("label", { title: `${conv.plane || ""} plane; ${conv.reference}` }, box,
      el("span", { class: "swatch", style: null }), label(n), el("span", { class: "hint small" }, ` (${conv.convention})`));
  }));
  // colour swatches without inline style attributes (the CSP allows no inline styles)
  legend.querySelectorAll(".swatch").forEach((s, i) => { s.style.background = colour[names[i]]; });
  draw();
  return {
    node: box,
    setCursor(s) {
      if (!cursor || !x) return;
      cursor.setAttribute("x1", x(s));
      cursor.setAttribute("x2", x(s));
      cursor.setAttribute("visibility", "visible");
    },
  };
}
