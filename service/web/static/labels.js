// Labels and units from the service's one catalogue (GET /v1/catalogue, service/catalogue.py): the
// same words the reports print. A name the catalogue does not know stays readable (unit suffix off,
// underscores to spaces), never raw snake_case.

import { api } from "./common.js";

let cat = { units: {}, exercises: {}, series: {}, metrics: {}, evidence: {}, events: {}, outcomes: {}, coaching: {},
            quality: {}, quality_intro: "", patient_advice: {}, severity: {} };

export async function loadCatalogue(key) {
  try {
    cat = await api(key, "/v1/catalogue");
  } catch {
    // an older server: guessed labels only
  }
  return cat;
}

const SUFFIXES = [["_steps_per_min", "1/min"], ["_deg_s", "deg/s"], ["_deg", "deg"], ["_mps", "m/s"],
                  ["_pct", "%"], ["_px", "px"], ["_m", "m"], ["_s", "s"]];

function guess(name) {
  let base = name, unit = "", side = null;
  for (const [suffix, u] of SUFFIXES) {
    if (base.endsWith(suffix)) { base = base.slice(0, -suffix.length); unit = u; break; }
  }
  const m = base.match(/_(left|right)(?=_|$)/);
  if (m) { side = m[1]; base = base.slice(0, m.index) + base.slice(m.index + m[0].length); }
  const words = base.replace(/_/g, " ").trim();
  return { label: words.charAt(0).toUpperCase() + words.slice(1), unit, side, digits: 1 };
}

export function entry(name) {
  return cat.metrics[name] || cat.series[name] || cat.evidence[name] || cat.outcomes[name] || guess(name);
}

/** "Hip flexion (left)" for hip_flexion_left_deg; side: false leaves the side out. */
export function label(name, { side = true, exercise = null } = {}) {
  const e = entry(name);
  const text = (cat.by_exercise?.[exercise] || {})[name] || e.label;
  return side && e.side ? `${text} (${e.side})` : text;
}

export function exerciseTitle(name) {
  return name ? (cat.exercises[name] || guess(name).label) : "No exercise";
}

export function eventLabel(type) {
  return cat.events[type] || type.replace(/_/g, " ");
}

export function unitText(unit) {
  return unit in cat.units ? cat.units[unit] : ({ deg: "°", "1": "" }[unit] ?? unit);
}

/**
 * x with d decimals as Python's format() prints it, so the page shows what the report shows: the
 * exact binary value is rounded (as toFixed does), and an exact tie goes to the even digit.
 */
export function fixed(x, d) {
  const v = Number(x);
  const exact = Math.abs(v).toFixed(Math.min(100, d + 40));  // every digit of the binary value
  const tail = exact.slice(exact.indexOf(".") + 1 + d);
  if (!/^50*$/.test(tail)) return v.toFixed(d);
  const down = (Math.trunc(Math.abs(v) * 10 ** d) / 10 ** d).toFixed(d);  // toward zero
  const last = Number(down.replace(".", "").slice(-1));
  const mag = last % 2 === 0 ? down : (Number(down) + 10 ** -d).toFixed(d);
  return (v < 0 ? "-" : "") + mag;
}

/** "6.1°", "0.62 s", "7" (a count). */
export function fmtValue(value, unit, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const u = unitText(unit);
  const n = fixed(value, unit === "1" ? 0 : digits).replace(/^-(0\.?0*)$/, "$1").replace("-", "\u2212");
  if (!u) return n;
  return ["°", "°/s", "%"].includes(u) ? `${n}${u}` : `${n} ${u}`;
}

export function fmtInterval(ci, unit, digits = 1) {
  if (!ci) return "";
  const u = unitText(unit);
  const tail = !u ? "" : ["°", "°/s", "%"].includes(u) ? u : ` ${u}`;
  const f = (x) => fixed(x, digits).replace("-", "\u2212");
  return `95 % interval ${f(ci[0])} to ${f(ci[1])}${tail}`;
}

/** A metric as "Pelvic drop 6.1° (95 % interval 2.0 to 10.2°)"; counts without a unit. */
export function fmtMetric(m, said = {}, kind = null) {
  const e = entry(m.name);
  if (!m.measurable || m.value === null) {
    // a reason that repeats a coaching message (patient voice) is given in the clinician's words
    const reason = m.reason && (m.reason in said ? asReason(said[m.reason]) : m.reason);
    return `not measurable${reason ? ": " + reason : ""}`;
  }
  const v = fmtValue(m.value, m.unit, e.digits ?? 1);
  return (m.ci95 ? `${v} (${fmtInterval(m.ci95, m.unit, e.digits ?? 1)})` : v) + restsOn(m, kind);
}

/** What a protocol value rests on (kinematics/protocols/evidence.py): "; 7 steps, 100% of frames measured, confidence 0.92". */
export function restsOn(m, kind = null) {
  if (m.coverage == null || m.confidence == null) return "";
  const parts = [];
  if (m.n_events != null && m.event_kind) {
    const kind = m.event_kind;
    parts.push(`${m.n_events} ${kind}${m.n_events === 1 ? "" : kind.endsWith("s") ? "es" : "s"}`);
  }
  // a camera's frames, or a sensor-only assessment's samples (input.kind "sensors")
  parts.push(`${Math.round(m.coverage * 100)}% of ${kind === "sensors" ? "samples valid" : "frames measured"}`,
    `confidence ${m.confidence.toFixed(2)}`);
  return "; " + parts.join(", ");
}

/** The evidence of a finding in words, its interval beside the value it belongs to. */
export function fmtEvidence(evidence, kind = null) {
  const parts = [];
  let unit = "", digits = 1, first = true;
  for (const [k, v] of Object.entries(evidence || {})) {
    if (k === "ci95") continue;
    if (k === "rests_on" && Array.isArray(v)) {
      for (const r of v) parts.push(`${label(r.metric).toLowerCase()}${r.side ? ` (${r.side})` : ""} rests on ${restsOn(r, kind).slice(2)}`);
      continue;
    }
    if (typeof v === "boolean") { parts.push(`${label(k).toLowerCase()}: ${v ? "yes" : "no"}`); continue; }
    if (typeof v !== "number") { parts.push(`${label(k).toLowerCase()}: ${v}`); continue; }
    if (k === "left" || k === "right") { parts.push(`${k} ${fmtValue(v, unit, digits)}`); continue; }
    const e = entry(k);
    let text = `${label(k)} ${fmtValue(v, e.unit, e.digits ?? 1)}`;
    if (first && evidence.ci95) { text += ` (${fmtInterval(evidence.ci95, e.unit, e.digits ?? 1)})`; unit = e.unit; digits = e.digits ?? 1; }
    first = false;
    parts.push(text);
  }
  return parts.join("; ");
}

/**
 * What a coaching code means for the clinician (the patient-voice message stays in the patient page), as
 * the reports word it (service/catalogue.py clinician_note): wrong_view names the views the exercise is
 * measured from and the one the recording shows.
 */
export function clinicianNote(code, a = {}) {
  if (code === "wrong_view") {
    const v = a.view || {};
    const base = v.view || "unknown";
    const key = v.facing === "back" && cat.seen?.[`${base}_back`] ? `${base}_back` : base;
    const needed = cat.views_needed?.[a.exercise], seen = cat.seen?.[key];
    if (!needed || !seen || !cat.coaching[code]) return "Not scored: the recording was not filmed from a view this exercise can measure.";
    return cat.coaching[code].replace("{needed}", needed).replace("{seen}", seen);
  }
  return cat.coaching[code] || `Not scored: the recording could not answer this exercise's question (${code}).`;
}

/** A clinician note without its "Not scored: ", for where a heading or "not measurable: " says it already. */
const unprefixed = (note) => note.replace(/^Not scored: /, "");

/** A clinician note as the reason of an unmeasured value (service/catalogue.py as_reason). */
export function asReason(note) {
  const text = unprefixed(note);
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** A clinician note as an item under a "Not scored" heading: the sentence alone, capitalised. */
export function notScoredItem(note) {
  const text = unprefixed(note);
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function outcomeLabel(measure) {
  return cat.outcomes[measure]?.label || measure;
}

const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 };

/**
 * An assessment's quality issues as the reports print them (service/catalogue.py quality_notes): the
 * catalogue's title, the analysis's sentence capitalised, errors then warnings then notes ("info").
 */
export function qualityNotes(quality) {
  const title = (code) => cat.quality[code] || guess(code || "").label;
  const cap = (s) => (s || "").trim().charAt(0).toUpperCase() + (s || "").trim().slice(1);
  return (quality || [])
    .map((q, i) => ({ code: q.code, severity: q.severity, title: title(q.code), text: cap(q.message), i }))
    .sort((a, b) => (SEVERITY_ORDER[a.severity] ?? 3) - (SEVERITY_ORDER[b.severity] ?? 3) || a.i - b.i);
}

/**
 * What a patient can change about a quality or not-measured code while filming (service/catalogue.py
 * PATIENT_ADVICE, the same codes as the clinician's titles); "{needed}" becomes the views the exercise is
 * measured from. null where there is nothing the patient could change.
 */
export function patientAdvice(code, exercise = null) {
  const text = cat.patient_advice?.[code];
  if (!text) return null;
  const needed = cat.views_needed?.[exercise] || "side-on or facing the camera, as the exercise asks";
  return text.replaceAll("{needed}", needed);
}

/** A finding severity's plain title (service/catalogue.py SEVERITY); the JSON keeps the code. */
export function severityTitle(code) {
  return cat.severity?.[code]?.title || guess(code || "").label;
}

/** The finding severity codes, in the catalogue's order (the order of its key under a list of findings). */
export function severityCodes() {
  const codes = Object.keys(cat.severity || {});
  return codes.length ? codes : ["attention", "inconclusive", "normal", "info"];
}

/** One sentence on what a finding severity means; "" for a code the catalogue does not know. */
export function severityMeaning(code) {
  return cat.severity?.[code]?.meaning || "";
}

export function qualityIntro() {
  return cat.quality_intro || "About the recording, not the patient. None of these is a finding.";
}
