// The clinician app: the day's work in one page, offline-capable (every file from this server).
// Home: patients (search, create) and recent recordings. A patient: sessions, progress charts
// against MCID/MDC, FHIR download. A session: upload and link recordings, ODI and NRS forms,
// the report. A recording: the video beside its plot, findings to review, exercises to approve,
// CSV/.mot downloads. The address holds where you are (#p=, #p=&s=, #a=): back/forward and
// links work, and a changed hash is followed at once.

import { api, ApiError, el, forgetKey, logout, requireLogin, showError, takeKey } from "./common.js";
import {
  clinicianNote, entry, eventLabel, exerciseTitle, fmtEvidence, fmtMetric, fmtValue, label, loadCatalogue,
  notScoredItem, outcomeLabel, qualityIntro, qualityNotes, severityCodes, severityMeaning, severityTitle, unitText,
} from "./labels.js";
import { renderPlot } from "./plot.js";
import { attachVideo } from "./video.js";

const root = document.getElementById("root");
let key = null;  // an API key (#key=, scripts and apps); null: the person's login cookie
let exercises = [];
let current = null;  // the attached video of the open recording, to stop when leaving it

const when = (iso) => (iso ? new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "–");
const day = (iso) => (iso ? new Date(iso).toLocaleDateString([], { dateStyle: "medium" }) : "–");
const today = () => new Date().toISOString().slice(0, 10);
const enc = encodeURIComponent;
const card = (...children) => el("section", { class: "card" }, ...children);
const crumbs = (...items) => el("nav", { class: "crumbs", "data-testid": "crumbs" },
  ...items.flatMap((it, i) => [i ? " › " : "", it.href ? el("a", { href: it.href }, it.text) : el("span", {}, it.text)]));

async function start() {
  key = takeKey();  // an API key given as #key= (scripts, apps); else the person's login (cookie)
  const me = key ? null : await requireLogin();
  if (me) {
    document.querySelector("header").append(el("p", { class: "whoami", "data-testid": "whoami" },
      `${me.name} · ${me.role} · ${me.clinic_name} `,
      el("button", { class: "link light", "data-testid": "logout", onclick: logout }, "Log out")));
  }
  try {
    [, { items: exercises }] = await Promise.all([loadCatalogue(key), api(key, "/v1/exercises")]);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      if (key) { forgetKey(); location.hash = ""; }
      return requireLogin();
    }
    return showError(root, err);
  }
  window.addEventListener("hashchange", route);
  route();
}

/** Show what the address names. */
function route() {
  if (current) { current.stop?.(); current = null; }
  const h = new URLSearchParams(location.hash.slice(1));
  const view = h.get("a") ? showAssessment(h.get("a"))
    : h.get("p") && h.get("s") ? showSession(h.get("p"), h.get("s"))
      : h.get("p") ? showPatient(h.get("p")) : showHome();
  view.catch((err) => {
    if (err instanceof ApiError && err.status === 401) {  // logged out elsewhere, or the key was revoked
      if (key) forgetKey();
      requireLogin();
      return;
    }
    showError(root, err);
  });
  window.scrollTo(0, 0);
}

const go = (hash) => { location.hash = hash; };

// -- downloads: fetched with this page's credential, saved under the server's file name ------------

async function download(path, fallbackName, button) {
  const text = button.textContent;
  button.disabled = true;
  button.textContent = "Preparing…";
  try {
    const res = await fetch(path, { headers: key ? { Authorization: `Bearer ${key}` } : {}, credentials: "same-origin" });
    if (!res.ok) {
      const problem = await res.json().catch(() => ({}));
      throw new Error(problem.detail || `${res.status} ${res.statusText}`);
    }
    const blob = await res.blob();
    const m = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") || "");
    const a = el("a", { href: URL.createObjectURL(blob), download: m ? m[1] : fallbackName });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  } catch (err) {
    button.after(el("span", { class: "error", role: "alert" }, ` ${err.message}`));
  } finally {
    button.disabled = false;
    button.textContent = text;
  }
}

const downloadButton = (text, path, name, testid) => el("button", { class: "secondary", "data-testid": testid,
  onclick: (ev) => download(path, name, ev.currentTarget) }, text);

// -- home: patients and recent recordings -------------------------------------------------------

async function showHome() {
  const list = el("div", { "data-testid": "patients" }, "Loading…");
  const search = el("input", { type: "search", placeholder: "Search by code", "data-testid": "patient-search",
                               autocomplete: "off", "aria-label": "search patients by code" });
  const recent = el("div", { "data-testid": "recent" }, "Loading…");
  root.replaceChildren(el("div", { class: "home" },
    card(el("h2", {}, "Patients"), search, list, newPatientForm()),
    card(el("h2", {}, "Recent recordings"), recent)));
  const [patients, assessments] = await Promise.all([api(key, "/v1/patients?limit=100"),
                                                      api(key, "/v1/assessments?limit=20")]);
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const shown = patients.items.filter((p) => !q || p.code.toLowerCase().includes(q));
    list.replaceChildren(shown.length ? el("ul", { class: "list" }, shown.map((p) => el("li", {},
      el("a", { href: `#p=${enc(p.id)}`, "data-testid": "patient", "data-id": p.id }, p.code),
      el("span", { class: "hint small" }, `  ${[p.birth_year && `born ${p.birth_year}`, p.sex].filter(Boolean).join(", ")}`))))
      : el("p", { class: "hint" }, q ? "No patient with that code." : "No patients yet: add the first below."));
  };
  search.addEventListener("input", draw);
  draw();
  recent.replaceChildren(assessments.items.length
    ? el("ul", { class: "list" }, assessments.items.map((a) => assessmentItem(a)))
    : el("p", { class: "hint" }, "None yet."));
}

function assessmentItem(a) {
  return el("li", {}, el("a", { href: `#a=${enc(a.id)}`, "data-testid": "assessment-link", "data-id": a.id },
    `${exerciseTitle(a.exercise)} · ${when(a.created_at)}`),
    el("span", { class: `status status-${a.status}` }, ` ${a.status === "done" ? "" : a.status}`),
    a.patient_id ? el("span", { class: "hint small" }, ` · ${a.patient_id}`) : null);
}

function newPatientForm() {
  const problem = el("p", { class: "error", role: "alert", "data-testid": "patient-error" });
  const form = el("form", { class: "stack", "data-testid": "new-patient" },
    el("h3", {}, "New patient"),
    el("label", {}, "Code (the clinic's pseudonym, no names)",
      el("input", { name: "code", required: "", pattern: "[A-Za-z0-9._:\\-]{1,100}", "data-testid": "patient-code",
                    autocomplete: "off" })),
    el("div", { class: "row" },
      el("label", {}, "Birth year", el("input", { name: "birth_year", type: "number", min: 1900, max: 2100,
                                                   "data-testid": "patient-birth-year" })),
      el("label", {}, "Sex", el("select", { name: "sex", "data-testid": "patient-sex" },
        ["", "female", "male", "other"].map((s) => el("option", { value: s }, s || "–"))))),
    el("div", { class: "buttons" }, el("button", { type: "submit", "data-testid": "create-patient" }, "Add patient")),
    problem);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    problem.textContent = "";
    const f = form.elements;
    try {
      const p = await api(key, "/v1/patients", { method: "POST", json: {
        code: f.code.value.trim(), birth_year: f.birth_year.value ? Number(f.birth_year.value) : null,
        sex: f.sex.value || null } });
      go(`p=${enc(p.id)}`);
    } catch (err) {
      problem.textContent = err.message;
    }
  });
  return form;
}

// -- a patient: sessions and progress ------------------------------------------------------------

async function showPatient(pid) {
  root.replaceChildren(card(el("p", { class: "hint" }, "Loading…")));
  const [p, progress] = await Promise.all([api(key, `/v1/patients/${enc(pid)}`),
                                           api(key, `/v1/patients/${enc(pid)}/progress`)]);
  const sessions = [...p.sessions].sort((x, y) => (x.date < y.date ? 1 : -1));
  const odi = Object.fromEntries(p.outcomes.filter((o) => o.session_id).map((o) => [o.session_id + o.instrument + (o.site || ""), o]));
  root.replaceChildren(
    crumbs({ text: "Patients", href: "#" }, { text: p.code }),
    el("div", { class: "two" },
      card(el("h2", { "data-testid": "patient-title" }, `Patient ${p.code}`),
        el("p", { class: "meta" }, el("span", {}, `born ${p.birth_year ?? "–"}`), el("span", {}, `sex ${p.sex ?? "–"}`)),
        el("h3", {}, "Sessions"),
        sessions.length ? el("ul", { class: "list", "data-testid": "sessions" }, sessions.map((s) => el("li",
          { "data-testid": "session", "data-id": s.id },
          el("a", { href: `#p=${enc(pid)}&s=${enc(s.id)}`, "data-testid": "session-link" }, day(s.date)),
          el("span", { class: "hint small" }, ` · ${s.assessment_ids.length} recording${s.assessment_ids.length === 1 ? "" : "s"}`,
            odi[`${s.id}odi`] ? ` · ODI ${fmtValue(odi[`${s.id}odi`].score, "%", 1)}` : ""),
          s.notes ? el("div", { class: "small" }, s.notes) : null)))
          : el("p", { class: "hint" }, "No sessions yet."),
        newSessionForm(pid),
        patientLinkForm(p),
        el("h3", {}, "Downloads"),
        el("div", { class: "buttons" },
          downloadButton("FHIR bundle", `/v1/patients/${enc(pid)}/fhir`, `${p.code}-fhir.json`, "download-fhir"))),
      progressCard(progress, p)));
}

/** A signed, expiring link to the patient page that records for this patient (POST /v1/patients/{id}/link). */
function patientLinkForm(p) {
  const problem = el("p", { class: "error", role: "alert" });
  const result = el("div", { class: "stack", "data-testid": "patient-link-result" });
  const form = el("form", { class: "stack", "data-testid": "patient-link" },
    el("h3", {}, "Home exercise link"),
    el("p", { class: "hint small" }, "A personal link to the patient page: it records for this patient only, " +
      "nothing to type. Send it to the patient; anyone holding it can record for them until it expires."),
    el("div", { class: "row" },
      el("label", { class: "grow" }, "Opens on",
        el("select", { name: "exercise", "data-testid": "patient-link-exercise" },
          el("option", { value: "" }, "the patient's choice"),
          exercises.map((x) => el("option", { value: x.name }, x.title)))),
      el("label", {}, "Valid for (days)", el("input", { name: "days", type: "number", min: 1, max: 365, value: 14,
                                                        required: "", "data-testid": "patient-link-days" }))),
    el("div", { class: "buttons" }, el("button", { type: "submit", class: "secondary",
                                                   "data-testid": "create-patient-link" }, "Create link")),
    problem, result);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    problem.textContent = "";
    const f = form.elements;
    try {
      const link = await api(key, `/v1/patients/${enc(p.id)}/link`, { method: "POST", json: {
        expires_in_days: Number(f.days.value), exercise: f.exercise.value || null } });
      const url = el("input", { type: "text", readonly: "", value: link.url, "data-testid": "patient-link-url",
                                "aria-label": "Patient link", onfocus: (e) => e.target.select() });
      const copy = el("button", { type: "button", class: "secondary", "data-testid": "copy-patient-link",
        onclick: async () => {
          try { await navigator.clipboard.writeText(link.url); copy.textContent = "Copied"; }
          catch { url.focus(); copy.textContent = "Select and copy"; }
        } }, "Copy");
      result.replaceChildren(url, el("div", { class: "buttons centred" }, copy,
        el("span", { class: "hint small", "data-testid": "patient-link-expiry" }, `valid until ${when(link.expires_at)}`)));
    } catch (err) {
      problem.textContent = err instanceof ApiError && err.status === 403
        ? "Your role cannot create patient links; ask a clinician or an administrator." : err.message;
    }
  });
  return form;
}

function newSessionForm(pid) {
  const problem = el("p", { class: "error", role: "alert" });
  const form = el("form", { class: "stack", "data-testid": "new-session" },
    el("h3", {}, "New session"),
    el("div", { class: "row" },
      el("label", {}, "Date", el("input", { type: "date", name: "date", value: today(), max: today(), required: "",
                                            "data-testid": "session-date" })),
      el("label", { class: "grow" }, "Note (no names)", el("input", { name: "notes", "data-testid": "session-notes" }))),
    el("div", { class: "buttons" }, el("button", { type: "submit", "data-testid": "create-session" }, "Start session")),
    problem);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const s = await api(key, `/v1/patients/${enc(pid)}/sessions`, { method: "POST",
        json: { date: form.elements.date.value, notes: form.elements.notes.value.trim() || null } });
      go(`p=${enc(pid)}&s=${enc(s.id)}`);
    } catch (err) {
      problem.textContent = err.message;
    }
  });
  return form;
}

// -- progress charts: baseline ± MCID (questionnaires) or MDC (movement), 95 % intervals ----------

const NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) n.setAttribute(k, String(v));
  for (const c of children) n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return n;
}

function seriesLabel(s) {
  if (s.kind === "outcome") return outcomeLabel(s.measure);
  return `${label(s.metric, { exercise: s.exercise })}${s.side ? ` (${s.side})` : ""}, ${exerciseTitle(s.exercise).toLowerCase()}`;
}

const VERDICT = { improved: "improved", worse: "worse", unchanged: "no real change", inconclusive: "cannot tell" };

function niceTicks(lo, hi, target = 4) {
  const raw = (hi - lo) / target, mag = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((x) => x >= raw) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Math.round(v * 1e6) / 1e6);
  return out;
}

function progressChart(s, dates) {
  const W = 440, H = 210, M = { l: 40, r: 12, t: 28, b: 34 }, inset = 48;
  const pts = s.points;
  const t = s.threshold;
  const base = pts[0].value;
  const lows = pts.map((p) => (p.ci95 ? p.ci95[0] : p.value)), highs = pts.map((p) => (p.ci95 ? p.ci95[1] : p.value));
  let lo = Math.min(...lows, t ? base - t.points : Infinity), hi = Math.max(...highs, t ? base + t.points : -Infinity);
  const pad = Math.max(1, (hi - lo) * 0.12);
  lo -= pad; hi += pad;
  const x = (i) => M.l + inset + (pts.length === 1 ? 0.5 : i / (pts.length - 1)) * (W - M.l - M.r - 2 * inset);
  const y = (v) => H - M.b - ((v - lo) / (hi - lo)) * (H - M.t - M.b);
  const unit = s.kind === "outcome" ? (s.measure === "odi" ? "%" : "points") : unitText(s.unit);
  const bandUnit = s.kind === "outcome" ? " points" : ["°", "%"].includes(unitText(s.unit)) ? unitText(s.unit) : ` ${unitText(s.unit)}`;
  const node = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "data-testid": "progress-chart",
                            "data-measure": s.measure, "aria-label": `${seriesLabel(s)} by session` });
  if (t) {
    node.append(svg("rect", { class: "band", "data-testid": "progress-band", x: M.l, width: W - M.l - M.r,
                              y: y(base + t.points), height: y(base - t.points) - y(base + t.points) }),
      svg("text", { x: M.l + 4, y: y(base + t.points) - 4, class: "band-label" },
        `baseline ± ${Number(t.points)}${bandUnit} (${t.kind.toUpperCase()}): inside = no real change`));
  }
  for (const v of niceTicks(lo, hi)) {
    node.append(svg("line", { class: "grid", x1: M.l, x2: W - M.r, y1: y(v), y2: y(v) }),
      svg("text", { x: M.l - 6, y: y(v) + 4, "text-anchor": "end" }, v));
  }
  let d = "";
  pts.forEach((p, i) => { d += `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`; });
  node.append(svg("path", { d, class: "progress-line", fill: "none" }));
  pts.forEach((p, i) => {
    if (p.ci95) node.append(svg("line", { class: "progress-line", x1: x(i), x2: x(i), y1: y(p.ci95[0]), y2: y(p.ci95[1]) }));
    node.append(svg("circle", { class: "progress-point", "data-testid": "progress-point", cx: x(i), cy: y(p.value), r: 4.5 },
      svg("title", {}, `${dates(p)}: ${p.value}`)));
    node.append(svg("text", { x: x(i), y: H - M.b + 16, "text-anchor": "middle" }, dates(p)));
    node.append(svg("text", { x: x(i), y: y(p.value) - 9, "text-anchor": "middle", class: "value" },
      `${Math.round(p.value * 10) / 10}${unit === "%" ? "%" : ""}`));
    if (p.change?.judgement) {
      node.append(svg("text", { x: x(i), y: y(p.value) + 18, "text-anchor": "middle", class: `verdict verdict-${p.change.judgement}` },
        VERDICT[p.change.judgement] || p.change.judgement));
    }
  });
  node.append(svg("text", { x: M.l, y: 16, class: "chart-title" }, `${seriesLabel(s)} (${unit})`));
  return node;
}

function progressCard(progress, p) {
  const dates = Object.fromEntries(p.sessions.map((s) => [s.id, s.date]));
  const dateOf = (pt) => (pt.session_id && dates[pt.session_id]) || pt.at.slice(0, 10);
  const charted = progress.series.filter((s) => s.points.length >= 2 && (s.threshold || s.kind === "outcome"));
  const rest = progress.series.filter((s) => !charted.includes(s));
  const changeText = (s) => {
    const last = s.points[s.points.length - 1];
    if (s.points.length < 2 || !last.change) return "baseline only";
    const u = s.kind === "outcome" ? " points" : unitText(s.unit) === "°" ? "°" : ` ${unitText(s.unit)}`;
    const delta = `${last.change.delta > 0 ? "+" : ""}${Number(last.change.delta.toFixed(1))}${u}`.replace("-", "\u2212");
    return last.change.judgement ? `${delta}: ${VERDICT[last.change.judgement]}` : `${delta}: not judged`;
  };
  return card(el("h2", {}, "Progress"),
    el("p", { class: "hint small" }, "Each session against the first (baseline). Questionnaires: the shaded band is the ",
      "minimal clinically important difference (MCID; ODI 10 percentage points, NRS 2 points). Movement: the minimal ",
      "detectable change (MDC). A chart needs two sessions."),
    charted.length ? el("div", { class: "charts", "data-testid": "progress" }, charted.map((s) => progressChart(s, dateOf)))
      : el("p", { class: "hint", "data-testid": "progress-empty" },
        progress.series.length ? "One session so far: charts appear from the second." : "Nothing recorded yet."),
    rest.length ? el("details", { class: "small" }, el("summary", {}, `Other measures (${rest.length}): one value so far, or no published threshold`),
      el("table", { class: "small", "data-testid": "progress-table" },
      el("tr", {}, el("th", {}, "measure"), el("th", {}, "values"), el("th", {}, "change")),
      rest.map((s) => el("tr", {}, el("td", {}, seriesLabel(s)),
        el("td", {}, s.points.map((pt) => fmtValue(pt.value, s.kind === "outcome" ? (s.measure === "odi" ? "%" : "points") : s.unit,
          s.kind === "outcome" ? 0 : entry(s.metric || "").digits ?? 1)).join(", ")),
        el("td", {}, changeText(s)))))) : null,
    progress.sources.length ? el("details", { class: "small" }, el("summary", {}, "Sources"),
      el("ul", {}, progress.sources.map((x) => el("li", {}, x)))) : null);
}

// -- a session: recordings, questionnaires, the report ------------------------------------------

async function showSession(pid, sid) {
  root.replaceChildren(card(el("p", { class: "hint" }, "Loading…")));
  const p = await api(key, `/v1/patients/${enc(pid)}`);
  const s = p.sessions.find((x) => x.id === sid);
  if (!s) throw new Error(`no session ${sid} for patient ${p.code}`);
  const linked = await Promise.all(s.assessment_ids.map((id) => api(key, `/v1/assessments/${enc(id)}`)));
  const outcomes = p.outcomes.filter((o) => o.session_id === sid);
  const inSessions = new Set(p.sessions.flatMap((x) => x.assessment_ids));
  const unlinked = (await api(key, `/v1/assessments?limit=50&patient_id=${enc(p.code)}`)).items
    .filter((a) => !inSessions.has(a.id));
  const name = `${p.code}-${s.date}`;
  root.replaceChildren(
    crumbs({ text: "Patients", href: "#" }, { text: p.code, href: `#p=${enc(pid)}` }, { text: `Session ${day(s.date)}` }),
    el("div", { class: "two" },
      el("div", {},
        card(el("h2", { "data-testid": "session-title" }, `Session ${day(s.date)}`),
          s.notes ? el("p", { class: "notes" }, s.notes) : null,
          el("h3", {}, "Recordings"),
          linked.length ? el("ul", { class: "list", "data-testid": "session-assessments" }, linked.map((a) => el("li", {},
            el("a", { href: `#a=${enc(a.id)}`, "data-testid": "assessment-link", "data-id": a.id, "data-status": a.status },
              `${exerciseTitle(a.exercise)} · ${when(a.created_at)}`),
            a.status !== "done" ? el("span", { class: `status status-${a.status}` }, ` ${a.status}`) : null,
            a.status === "done" ? el("span", { class: "hint small" },
              ` · ${(a.findings || []).length} finding${(a.findings || []).length === 1 ? "" : "s"}`) : null)))
            : el("p", { class: "hint" }, "No recording linked yet."),
          unlinked.length ? el("div", { class: "stack", "data-testid": "unlinked" },
            el("h3", {}, "Recordings of this patient not in a session"),
            el("ul", { class: "list" }, unlinked.map((a) => el("li", { "data-testid": "unlinked-item", "data-id": a.id },
              `${exerciseTitle(a.exercise)} · ${when(a.created_at)}${a.status === "done" ? "" : ` · ${a.status}`} `,
              el("button", { class: "secondary", "data-testid": "link-assessment", onclick: async (ev) => {
                ev.currentTarget.disabled = true;
                try {
                  await api(key, `/v1/patients/${enc(p.id)}/sessions/${enc(s.id)}/assessments`, { method: "POST",
                    json: { assessment_ids: [a.id] } });
                  route();
                } catch (err) {
                  ev.target.after(el("span", { class: "error", role: "alert" }, ` ${err.message}`));
                }
              } }, "Link to this session"))))) : null,
          uploadForm(p, s)),
        card(el("h2", {}, "Report"),
          el("p", { class: "hint small" }, "Plots, findings with your reviews, approved exercises, questionnaires and progress up to this session."),
          el("div", { class: "buttons" },
            downloadButton("Report (PDF)", `/v1/patients/${enc(pid)}/sessions/${enc(sid)}/report.pdf`, `${name}.pdf`, "download-pdf"),
            downloadButton("Report (HTML)", `/v1/patients/${enc(pid)}/sessions/${enc(sid)}/report.html`, `${name}.html`, "download-html")))),
      card(el("h2", {}, "Questionnaires"),
        outcomes.length ? el("ul", { class: "list", "data-testid": "session-outcomes" }, outcomes.map((o) => el("li", {},
          o.instrument === "odi" ? `ODI ${fmtValue(o.score, "%", 1)} (${o.band})` + (o.missing_sections?.length ? `; unanswered: ${o.missing_sections.length}` : "")
            : `${outcomeLabel(o.site ? `nrs_${o.site}` : "nrs")}: ${o.score}/10`)))
          : el("p", { class: "hint" }, "None in this session yet."),
        outcomes.some((o) => o.instrument === "odi")
          ? el("details", {}, el("summary", {}, "Enter another ODI in this session"), odiForm(p, s)) : odiForm(p, s),
        outcomes.some((o) => o.instrument === "nrs")
          ? el("details", {}, el("summary", {}, "Enter another pain rating"), nrsForm(p, s)) : nrsForm(p, s))));
}

function recordedAt(s) {
  // answered on the session's day (noon UTC), never in the future
  const at = `${s.date}T12:00:00Z`;
  return new Date(at) <= new Date() ? at : null;
}

function uploadForm(p, s) {
  const status = el("p", { class: "hint", "data-testid": "upload-status", role: "status" });
  const form = el("form", { class: "stack", "data-testid": "upload-form" },
    el("h3", {}, "Add a recording"),
    el("label", {}, "Exercise", el("select", { name: "exercise", required: "", "data-testid": "upload-exercise" },
      el("option", { value: "" }, "choose…"), exercises.map((x) => el("option", { value: x.name }, x.title)))),
    el("label", {}, "Video file", el("input", { type: "file", name: "video", accept: "video/*", required: "",
                                                "data-testid": "upload-file" })),
    el("div", { class: "buttons" }, el("button", { type: "submit", "data-testid": "upload-submit" }, "Upload and analyse")),
    status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    status.className = "hint";
    try {
      const body = new FormData();
      body.append("video", form.elements.video.files[0]);
      body.append("exercise", form.elements.exercise.value);
      body.append("patient_id", p.code);
      status.textContent = "Uploading…";
      const a = await api(key, "/v1/assessments", { method: "POST", body });
      await api(key, `/v1/patients/${enc(p.id)}/sessions/${enc(s.id)}/assessments`, { method: "POST",
        json: { assessment_ids: [a.id] } });
      for (let i = 0; ; i++) {
        const now = await api(key, `/v1/assessments/${enc(a.id)}`);
        if (now.status === "done" || now.status === "failed") {
          if (now.status === "failed") throw new Error(`the analysis failed: ${now.reason || "no reason given"}`);
          return go(`a=${enc(a.id)}`);
        }
        status.textContent = `Analysing the recording (${now.status}, ${i * 2} s)…`;
        await new Promise((r) => setTimeout(r, 2000));
      }
    } catch (err) {
      status.className = "error";
      status.textContent = err.message;
      button.disabled = false;
    }
  });
  return form;
}

const ODI_SECTIONS = [
  ["pain_intensity", "Pain intensity"], ["personal_care", "Personal care"], ["lifting", "Lifting"],
  ["walking", "Walking"], ["sitting", "Sitting"], ["standing", "Standing"], ["sleeping", "Sleeping"],
  ["sex_life", "Sex life"], ["social_life", "Social life"], ["travelling", "Travelling"],
];

function odiForm(p, s) {
  const result = el("p", { "data-testid": "odi-result", role: "status" });
  const score = el("output", { "data-testid": "odi-preview" });
  const form = el("form", { class: "stack odi", "data-testid": "odi-form" },
    el("h3", {}, "Oswestry Disability Index (ODI 2.1a)"),
    el("p", { class: "hint small" }, "Each section 0-5 (the statement the patient ticked, first = 0). Score = sum ÷ (5 × sections answered) × 100 %. ",
      "Up to 2 sections may be left unanswered; more and the questionnaire is refused. Bands: 0-20 minimal, 21-40 moderate, 41-60 severe, 61-80 crippled, 81-100 bed-bound."),
    el("div", { class: "odi-grid" }, ODI_SECTIONS.map(([k, text]) => el("label", {}, text,
      el("select", { name: k, "data-testid": `odi-${k}` }, el("option", { value: "" }, "not answered"),
        [0, 1, 2, 3, 4, 5].map((v) => el("option", { value: v }, String(v))))))),
    el("p", {}, "Score: ", score),
    el("div", { class: "buttons" }, el("button", { type: "submit", "data-testid": "odi-submit" }, "Save ODI")),
    result);
  const answers = () => Object.fromEntries(ODI_SECTIONS.map(([k]) => [k, form.elements[k].value === "" ? null : Number(form.elements[k].value)]));
  const preview = () => {
    const v = Object.values(answers()).filter((x) => x !== null);
    const missing = 10 - v.length;
    score.textContent = !v.length ? "–" : missing > 2 ? `${missing} sections unanswered (at most 2)`
      : `${Math.round((v.reduce((a, b) => a + b, 0) / (5 * v.length)) * 1000) / 10} %` + (missing ? ` (${missing} unanswered)` : "");
  };
  form.addEventListener("change", preview);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    result.className = "";
    try {
      const o = await api(key, `/v1/patients/${enc(p.id)}/outcomes`, { method: "POST",
        json: { instrument: "odi", answers: answers(), session_id: s.id, recorded_at: recordedAt(s) } });
      result.textContent = `Saved: ODI ${fmtValue(o.score, "%", 1)} (${o.band}).`;
      setTimeout(route, 600);
    } catch (err) {
      result.className = "error";
      result.textContent = err.message;
    }
  });
  preview();
  return form;
}

function nrsForm(p, s) {
  const result = el("p", { "data-testid": "nrs-result", role: "status" });
  const form = el("form", { class: "stack", "data-testid": "nrs-form" },
    el("h3", {}, "Pain (NRS 0-10)"),
    el("p", { class: "hint small" }, "0 no pain, 10 worst imaginable; a whole number. Change of 2 points is the MCID; 0 counts as recovered."),
    el("div", { class: "row" },
      el("label", {}, "Rating", el("select", { name: "value", required: "", "data-testid": "nrs-value" },
        el("option", { value: "" }, "–"), [...Array(11).keys()].map((v) => el("option", { value: v }, String(v))))),
      el("label", {}, "Site", el("select", { name: "site", "data-testid": "nrs-site" },
        [["", "not given"], ["leg", "leg"], ["back", "back"]].map(([v, t]) => el("option", { value: v }, t))))),
    el("div", { class: "buttons" }, el("button", { type: "submit", "data-testid": "nrs-submit" }, "Save pain rating")),
    result);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api(key, `/v1/patients/${enc(p.id)}/outcomes`, { method: "POST", json: {
        instrument: "nrs", value: Number(form.elements.value.value), site: form.elements.site.value || null,
        session_id: s.id, recorded_at: recordedAt(s) } });
      result.textContent = "Saved.";
      setTimeout(route, 600);
    } catch (err) {
      result.className = "error";
      result.textContent = err.message;
    }
  });
  return form;
}

// -- a recording: the video beside its plot, findings, exercises --------------------------------

async function patientOf(a) {
  if (!a.patient_id) return null;
  const found = await api(key, `/v1/patients?code=${enc(a.patient_id)}`).catch(() => ({ items: [] }));
  return found.items[0] || null;
}

async function showAssessment(id) {
  root.replaceChildren(card(el("p", { class: "hint" }, "Loading…")));
  const a = await api(key, `/v1/assessments/${enc(id)}`);
  const p = await patientOf(a);
  const title = `${exerciseTitle(a.exercise)} · ${when(a.created_at)}`;
  const head = el("section", { class: "card", "data-testid": "assessment", "data-id": a.id, "data-status": a.status },
    el("h2", {}, title),
    el("p", { class: "meta" }, el("span", {}, `patient ${a.patient_id || "–"}`),
      a.view ? el("span", { "data-testid": "view" }, `camera view ${a.view.view}`) : null,
      el("span", { class: "small" }, `id ${a.id}`)),
    a.reason ? el("p", { class: "error" }, a.reason) : null);
  root.replaceChildren(crumbs({ text: "Patients", href: "#" },
    p ? { text: p.code, href: `#p=${enc(p.id)}` } : { text: a.patient_id || "no patient" }, { text: exerciseTitle(a.exercise) }), head);
  if (a.status !== "done") {
    head.append(el("p", { class: "hint" }, `The analysis is ${a.status}; this page updates when it is done.`));
    setTimeout(() => { if (new URLSearchParams(location.hash.slice(1)).get("a") === id) route(); }, 3000);
    return;
  }
  head.append(el("div", { class: "buttons compact" },
    downloadButton("Angles (CSV)", `/v1/assessments/${enc(a.id)}/series.csv`, `${a.id}.csv`, "download-csv"),
    downloadButton("OpenSim (.mot)", `/v1/assessments/${enc(a.id)}/series.mot`, `${a.id}.mot`, "download-mot")));
  const videoBox = el("div", { "data-testid": "video-box" });
  let video = null;
  const plot = renderPlot(a, { onSeek: (t) => video && video.seek(t), label, eventLabel });
  const said = Object.fromEntries((a.coaching || []).map((c) => [c.message, clinicianNote(c.code, a)]));
  const notScored = [...new Set(Object.values(said))];
  const quality = qualityNotes(a.quality);
  const metrics = (a.metrics || []).filter((m) => m.source === "protocol");
  const watch = el("div", { class: "watch" },
    el("section", { class: "card video-card" }, el("h2", {}, "Recording"), videoBox),
    el("section", { class: "card plot-card" }, el("h2", {}, "Angles over time"),
      el("p", { class: "hint small" }, "Shaded: the protocol's events. Click the plot to move the video there."), plot.node));
  const findingsBox = el("div", { "data-testid": "findings" }, "Loading…");
  const suggestionsBox = el("div", { "data-testid": "suggestions" }, "Loading…");
  root.append(watch,
    notScored.length ? card(el("h2", {}, "Not scored"), el("ul", { "data-testid": "coaching" }, notScored.map((c) => el("li", {}, notScoredItem(c))))) : "",
    quality.length ? qualityCard(quality) : "",
    el("div", { class: "two" },
      card(el("h2", {}, "Findings"), findingsBox),
      el("div", {},
        metrics.length ? card(el("h2", {}, "Measurements"), el("table", { "data-testid": "metrics" },
          el("tr", {}, el("th", {}, "measure"), el("th", {}, "value")),
          metrics.map((m) => el("tr", {}, el("td", {}, label(m.name, { exercise: a.exercise }) + (m.side ? ` (${m.side})` : "")
            + (m.pass_index != null ? `, pass ${m.pass_index + 1}` : "")), el("td", {}, fmtMetric(m, said, a.input?.kind)))))) : "",
        card(el("h2", {}, "Exercises to approve"), suggestionsBox))));
  video = attachVideo(key, a, videoBox, { onTime: plot.setCursor });
  current = video;
  await Promise.all([loadFindings(a, findingsBox), loadSuggestions(a, suggestionsBox)]);
}

/** What limits the recording's measurements, worded as the report words it; the notes ("info") folded away. */
function qualityCard(quality) {
  const item = (q) => el("li", { "data-testid": "quality-item", "data-code": q.code },
    el("strong", {}, `${q.title}. `), q.text);
  const main = quality.filter((q) => q.severity !== "info");
  const notes = quality.filter((q) => q.severity === "info");
  return el("section", { class: "card quality", "data-testid": "quality" },
    el("h2", {}, "Recording quality"),
    el("p", { class: "hint small" }, qualityIntro()),
    main.length ? el("ul", {}, main.map(item)) : "",
    notes.length ? el("details", { "data-testid": "quality-notes" },
      el("summary", {}, `${notes.length} note${notes.length > 1 ? "s" : ""} on how the recording was read`),
      el("ul", { class: "small" }, notes.map(item))) : "");
}

async function loadFindings(a, box) {
  const items = (await api(key, `/v1/assessments/${enc(a.id)}/findings`)).items;
  if (!items.length) {
    box.replaceChildren(el("p", { class: "hint", "data-testid": "no-findings" },
      a.coaching?.length ? "No findings: the recording could not be scored (see above)." : "This exercise gave no findings."));
    return;
  }
  const shown = new Set(items.flatMap((f) => [f.severity, f.review?.correction?.severity].filter(Boolean)));
  const legend = severityCodes().filter((c) => shown.has(c));
  box.replaceChildren(...items.map((f) => finding(a, f, box)),
    el("ul", { class: "hint small severity-key", "data-testid": "severity-key" },
      legend.map((c) => el("li", { "data-severity": c }, el("strong", {}, severityTitle(c)), `: ${severityMeaning(c)}`))),
    el("p", { class: "hint small" }, "Findings support your judgement; they never diagnose."));
}

/** "A. Physio" from "A. Physio <a@clinic.test>"; a key's stored label as it is. */
const personName = (stored) => (stored ? stored.replace(/\s*<[^>]*>\s*$/, "") || stored : null);

const STATUS_WORDS = { signed_off: "Signed off", corrected: "Corrected", rejected: "Rejected" };

function reviewLine(review) {
  if (!review) return el("p", { class: "review-status", "data-testid": "review-status", "data-status": "none" }, "Not reviewed yet.");
  const c = review.correction;
  const who = personName(review.reviewer_name) || `key ${review.reviewer_key_id.slice(0, 8)}`;
  return el("p", { class: "review-status", "data-testid": "review-status", "data-status": review.status },
    `${STATUS_WORDS[review.status] || review.status} by ${who}, ${when(review.reviewed_at)}`,
    review.note ? ` – “${review.note}”` : "",
    c?.severity ? ` (severity now ${severityTitle(c.severity)})` : "", c?.message ? ` (wording now: ${c.message})` : "");
}

function finding(a, f, box) {
  const t = f.threshold;
  const corrected = f.review?.status === "corrected" ? f.review.correction || {} : {};
  const severity = corrected.severity || f.severity;
  const node = el("div", { class: "finding", "data-testid": "finding", "data-index": f.index, "data-code": f.code,
                           "data-severity": severity },
    el("p", {}, el("strong", { "data-testid": "finding-severity", title: severityMeaning(severity) }, severityTitle(severity)),
      corrected.severity && corrected.severity !== f.severity ? el("span", { class: "hint small" }, ` (was ${severityTitle(f.severity)})`) : "",
      " · ", el("span", { "data-testid": "finding-message" }, f.message)),
    Object.keys(f.evidence || {}).length ? el("p", { class: "small", "data-testid": "evidence" }, `Evidence: ${fmtEvidence(f.evidence, a.input?.kind)}`) : null,
    t ? el("p", { class: "small", "data-testid": "threshold" },
      `Threshold: ${label(t.name)} ${Number(t.value)}${["deg", "%"].includes(t.unit) ? unitText(t.unit) : ` ${unitText(t.unit)}`}. `
      + `Source: ${t.source}${t.note ? ". " + t.note : ""}`) : null,
    f.source && f.source !== t?.source ? el("p", { class: "small hint" }, `Source: ${f.source}`) : null,
    reviewLine(f.review));
  const note = el("textarea", { "data-testid": "review-note", placeholder: "note (needed to correct or reject; no names)", maxlength: 2000,
                                "aria-label": "review note" });
  const sev = el("select", { "data-testid": "correct-severity", "aria-label": "corrected severity" },
    severityCodes().map((s) => el("option", { value: s, selected: s === severity }, severityTitle(s))));
  const message = el("input", { "data-testid": "correct-message", placeholder: "corrected wording (optional)" });
  const problem = el("p", { class: "error", "data-testid": "review-error", role: "alert" });
  const send = async (action) => {
    problem.textContent = "";
    const body = { action, note: note.value.trim() || null, correction: null };
    if (action === "correct") {
      body.correction = {};
      if (sev.value !== f.severity) body.correction.severity = sev.value;
      if (message.value.trim()) body.correction.message = message.value.trim();
    }
    try {
      await api(key, `/v1/assessments/${a.id}/findings/${f.index}/review`, { method: "POST", json: body });
      await loadFindings(a, box);
      const suggestions = document.querySelector('[data-testid="suggestions"]');
      if (suggestions) await loadSuggestions(a, suggestions);
    } catch (err) {
      problem.textContent = err.message;
    }
  };
  node.append(el("div", { class: "review" }, note,
    el("div", { class: "buttons" },
      el("button", { "data-testid": "sign-off", onclick: () => send("sign_off") }, "Sign off"),
      el("button", { class: "secondary", "data-testid": "reject", onclick: () => send("reject") }, "Reject")),
    el("details", { "data-testid": "correct-box" }, el("summary", {}, "Correct severity or wording"),
      el("div", { class: "row" }, el("label", {}, "Severity ", sev), el("label", { class: "grow" }, "Wording ", message)),
      el("div", { class: "buttons" }, el("button", { class: "secondary", "data-testid": "correct", onclick: () => send("correct") }, "Save correction"))),
    problem));
  return node;
}

function dose(x) {
  return `${x.sets} sets × ${x.reps} reps${x.hold_s ? `, hold ${x.hold_s} s` : ""}, rest ${x.rest_s} s`;
}

async function loadSuggestions(a, box) {
  const list = await api(key, `/v1/assessments/${enc(a.id)}/suggestions`);
  if (!list.items.length) {
    box.replaceChildren(el("p", { class: "hint", "data-testid": "no-suggestions" },
      list.notes?.length ? [...new Set(list.notes.map((n) => n.reason))].map((r) => r.charAt(0).toUpperCase() + r.slice(1)).join(" ")
        : "No exercise is suggested for these findings (only findings needing attention get exercises)."));
    return;
  }
  box.replaceChildren(...list.items.map((s) => {
    const note = el("input", { placeholder: "note (needed to reject)", "data-testid": "decision-note", "aria-label": "decision note" });
    const sets = el("input", { type: "number", min: 1, max: 10, value: s.exercise.sets, "data-testid": "decision-sets", "aria-label": "sets" });
    const reps = el("input", { type: "number", min: 1, max: 50, value: s.exercise.reps, "data-testid": "decision-reps", "aria-label": "repetitions" });
    const problem = el("p", { class: "error", role: "alert" });
    const decide = async (action) => {
      problem.textContent = "";
      const body = { action, note: note.value.trim() || null };
      if (action === "approve") {
        const o = {};
        if (Number(sets.value) !== s.proposed.sets) o.sets = Number(sets.value);
        if (Number(reps.value) !== s.proposed.reps) o.reps = Number(reps.value);
        if (Object.keys(o).length) body.overrides = o;
      }
      try {
        await api(key, `/v1/assessments/${a.id}/suggestions/${s.n}/decision`, { method: "POST", json: body });
        await loadSuggestions(a, box);
      } catch (err) {
        problem.textContent = err.message;
      }
    };
    const d = s.decision;
    const by = d ? personName(d.decided_by_name) || `key ${d.decided_by_key_id.slice(0, 8)}` : "";
    return el("div", { class: "suggestion", "data-testid": "suggestion", "data-n": s.n, "data-status": s.status },
      el("p", {}, el("strong", {}, s.exercise.name), ` · ${dose(s.exercise)}`),
      el("p", { class: "small" }, `For the finding “${(a.findings?.[s.finding_index]?.message || s.finding_code).split(". ")[0]}”. `,
        s.rationale),
      el("p", { class: "review-status", "data-testid": "decision-status", "data-status": s.status },
        s.status === "proposed" ? "Proposed: not given to the patient until you approve it."
          : `${s.status === "approved" ? "Approved" : "Rejected"} by ${by}, ${when(d.decided_at)}${d.note ? ` – “${d.note}”` : ""}`),
      el("div", { class: "row" }, el("label", {}, "Sets ", sets), el("label", {}, "Reps ", reps), el("label", { class: "grow" }, "Note ", note)),
      el("div", { class: "buttons" },
        el("button", { "data-testid": "approve", onclick: () => decide("approve") }, "Approve"),
        el("button", { class: "secondary", "data-testid": "reject-suggestion", onclick: () => decide("reject") }, "Reject")),
      problem);
  }));
}

start();
