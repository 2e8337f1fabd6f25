// The clinician page: patients -> sessions -> assessments; one assessment's angle plot, events,
// findings with their evidence and review (sign off / correct / reject), and the video.

import { api, ApiError, el, fmt, forgetKey, logout, requireLogin, showError, takeKey } from "./common.js";
import { renderPlot } from "./plot.js";
import { attachVideo } from "./video.js";

const root = document.getElementById("root");
let key;

async function start() {
  key = takeKey();  // an API key given as #key= (scripts, tests); else the person's login (cookie)
  const me = key ? null : await requireLogin();
  if (me) {
    document.querySelector("header").append(el("p", { class: "whoami", "data-testid": "whoami" },
      `${me.name} · ${me.role} · ${me.clinic_name} `,
      el("button", { class: "link light", "data-testid": "logout", onclick: logout }, "Log out")));
  }
  const nav = el("div", { class: "nav" });
  const detail = el("div", { class: "detail", "data-testid": "detail" },
    el("section", { class: "card" }, el("p", { class: "hint" }, "Choose a patient or an assessment.")));
  root.replaceChildren(el("div", { class: "layout" }, nav, detail));
  const idBox = el("input", { "data-testid": "assessment-id-input", placeholder: "assessment id", size: 38,
                              autocomplete: "off" });
  nav.append(
    el("section", { class: "card" }, el("h2", {}, "Open an assessment"),
      el("form", { onsubmit: (ev) => { ev.preventDefault(); openAssessment(idBox.value.trim()); } },
        idBox, " ", el("button", { type: "submit", "data-testid": "open-assessment" }, "Open"))),
    el("section", { class: "card" }, el("h2", {}, "Patients"), el("div", { "data-testid": "patients" }, "Loading…")),
    el("section", { class: "card" }, el("h2", {}, "Recent assessments"),
      el("div", { "data-testid": "recent" }, "Loading…")));
  try {
    await Promise.all([loadPatients(), loadRecent()]);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      if (key) forgetKey();
      return key ? start() : requireLogin();
    }
    showError(nav, err);
  }
  const wanted = new URLSearchParams(location.hash.slice(1)).get("a");
  if (wanted) openAssessment(wanted);
}

const detail = () => document.querySelector('[data-testid="detail"]');
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");

function assessmentLink(a, label) {
  return el("li", {}, el("button", { class: "link", "data-testid": "assessment-link", "data-id": a.id,
                                     onclick: () => openAssessment(a.id) },
    label || `${a.exercise || "no exercise"} · ${a.status} · ${when(a.created_at)}`));
}

async function loadPatients() {
  const box = document.querySelector('[data-testid="patients"]');
  const page = await api(key, "/v1/patients?limit=100");
  box.replaceChildren(page.items.length ? el("ul", { class: "list" }, page.items.map((p) =>
    el("li", {}, el("button", { class: "link", "data-testid": "patient", "data-id": p.id,
                                onclick: () => openPatient(p.id) }, p.code))))
    : el("p", { class: "hint" }, "No patients yet."));
}

async function loadRecent() {
  const page = await api(key, "/v1/assessments?limit=20");
  document.querySelector('[data-testid="recent"]').replaceChildren(page.items.length
    ? el("ul", { class: "list" }, page.items.map(assessmentLink)) : el("p", { class: "hint" }, "None yet."));
}

async function openPatient(id) {
  const out = detail();
  try {
    const p = await api(key, `/v1/patients/${encodeURIComponent(id)}`);
    const byCode = await api(key, `/v1/assessments?limit=50&patient_id=${encodeURIComponent(p.code)}`);
    out.replaceChildren(el("section", { class: "card", "data-testid": "patient-detail" },
      el("h2", {}, `Patient ${p.code}`),
      el("p", { class: "meta" }, el("span", {}, `born ${p.birth_year ?? "–"}`), el("span", {}, `sex ${p.sex ?? "–"}`)),
      el("h3", {}, "Sessions"),
      p.sessions.length ? el("ul", { class: "list", "data-testid": "sessions" }, p.sessions.map((s) => el("li",
        { "data-testid": "session" }, el("strong", {}, s.date), s.notes ? ` – ${s.notes}` : "",
        el("ul", { class: "list" }, s.assessment_ids.map((aid) => assessmentLink({ id: aid }, `assessment ${aid.slice(0, 8)}…`))))))
        : el("p", { class: "hint" }, "No sessions."),
      el("h3", {}, "Assessments recorded under this code"),
      byCode.items.length ? el("ul", { class: "list" }, byCode.items.map(assessmentLink))
        : el("p", { class: "hint" }, "None.")));
  } catch (err) {
    showError(out, err);
  }
}

async function openAssessment(id) {
  if (!id) return;
  const out = detail();
  out.replaceChildren(el("section", { class: "card" }, el("p", { class: "hint" }, "Loading…")));
  let a;
  try {
    a = await api(key, `/v1/assessments/${encodeURIComponent(id)}`);
  } catch (err) {
    return showError(out, err);
  }
  history.replaceState(null, "", `${location.pathname}${location.search}#a=${encodeURIComponent(a.id)}`);
  const head = el("section", { class: "card", "data-testid": "assessment", "data-id": a.id, "data-status": a.status },
    el("h2", {}, `${a.exercise || "No exercise"} · ${a.status}`),
    el("p", { class: "meta" }, el("span", {}, `id ${a.id}`), el("span", {}, `patient ${a.patient_id || "–"}`),
      el("span", {}, `recorded ${when(a.created_at)}`),
      a.view ? el("span", { "data-testid": "view" }, `view ${a.view.view} (confidence ${fmt(a.view.confidence, 2)})`) : null),
    a.reason ? el("p", { class: "error" }, a.reason) : null);
  out.replaceChildren(head);
  if (a.status !== "done") {
    head.append(el("p", { class: "hint" }, "The result appears here once the analysis is done; reload then."));
    return;
  }
  const plot = renderPlot(a, { onSeek: (s) => video && video.seek(s) });
  const plotCard = el("section", { class: "card" }, el("h2", {}, "Angles over time"),
    el("p", { class: "hint" }, "Degrees against seconds from the first frame; shaded spans are the protocol's events. ",
      "Each series' sign convention is given next to its name; click the plot to move the video there."), plot.node);
  const metrics = (a.metrics || []).filter((m) => m.source === "protocol");
  const metricsCard = metrics.length ? el("section", { class: "card" }, el("h2", {}, "Protocol metrics"),
    el("table", { "data-testid": "metrics" }, el("tr", {}, el("th", {}, "metric"), el("th", {}, "value"), el("th", {}, "95 % interval")),
      metrics.map((m) => el("tr", {}, el("td", {}, m.name + (m.side ? ` (${m.side})` : "") + (m.pass_index != null ? ` · pass ${m.pass_index + 1}` : "")),
        el("td", {}, m.measurable ? withUnit(m.value, m.unit) : `not measurable: ${m.reason || ""}`),
        el("td", {}, m.ci95 ? `${withUnit(m.ci95[0], m.unit)} – ${withUnit(m.ci95[1], m.unit)}` : "–"))))) : null;
  const findingsCard = el("section", { class: "card" }, el("h2", {}, "Findings"),
    el("div", { "data-testid": "findings" }, "Loading…"));
  const coaching = (a.coaching || []).length ? el("section", { class: "card" }, el("h2", {}, "Coaching (no findings)"),
    el("ul", { "data-testid": "coaching" }, a.coaching.map((c) => el("li", {}, c.message)))) : null;
  const quality = (a.quality || []).filter((q) => q.severity !== "info");
  const qualityCard = quality.length ? el("section", { class: "card" }, el("h2", {}, "Recording quality"),
    el("ul", {}, quality.map((q) => el("li", {}, `${q.severity}: ${q.message}`)))) : null;
  const videoCard = el("section", { class: "card" }, el("h2", {}, "Recording"), el("div", { "data-testid": "video-box" }));
  out.append(...[plotCard, metricsCard, findingsCard, coaching, qualityCard, videoCard].filter(Boolean));
  const video = attachVideo(key, a, videoCard.querySelector('[data-testid="video-box"]'), { onTime: plot.setCursor });
  loadFindings(a);
}

async function loadFindings(a) {
  const box = document.querySelector('[data-testid="findings"]');
  let items, reviewable = true;
  try {
    items = (await api(key, `/v1/assessments/${a.id}/findings`)).items;
  } catch (err) {
    if (!(err instanceof ApiError) || ![404, 405].includes(err.status)) return showError(box, err);
    items = (a.findings || []).map((f, index) => ({ index, ...f, review: null }));  // no review API on this server
    reviewable = false;
  }
  if (!items.length) {
    box.replaceChildren(el("p", { class: "hint", "data-testid": "no-findings" },
      a.coaching?.length ? "No findings: the recording could not answer the question (see coaching)."
        : "This exercise gave no findings."));
    return;
  }
  box.replaceChildren(...items.map((f) => finding(a, f, reviewable)),
    el("p", { class: "hint" }, "Findings support your judgement; they never diagnose."));
}

function evidenceTable(evidence) {
  const rows = Object.entries(evidence || {});
  if (!rows.length) return null;
  const show = (v) => (v === null ? "–" : typeof v === "object" ? JSON.stringify(v) : String(v));
  return el("table", { "data-testid": "evidence" }, el("tr", {}, el("th", {}, "evidence"), el("th", {}, "value")),
    rows.map(([k, v]) => el("tr", {}, el("td", {}, k.replace(/_/g, " ")), el("td", {}, show(v)))));
}

/** A metric value with its unit; counts (unit "1") without decimals or unit. */
function withUnit(value, unit) {
  return unit === "1" ? fmt(value, 0) : `${fmt(value, 1)} ${unit}`;
}

const STATUS_WORDS = { signed_off: "Signed off", corrected: "Corrected", rejected: "Rejected" };

function reviewLine(review) {
  if (!review) return el("p", { class: "review-status", "data-testid": "review-status", "data-status": "none" }, "Not reviewed yet.");
  const c = review.correction;
  return el("p", { class: "review-status", "data-testid": "review-status", "data-status": review.status },
    `${STATUS_WORDS[review.status] || review.status} ${when(review.reviewed_at)} by key ${review.reviewer_key_id}`,
    review.note ? ` – “${review.note}”` : "",
    c ? ` (now: ${[c.severity, c.message].filter(Boolean).join(", ")})` : "");
}

function finding(a, f, reviewable) {
  const t = f.threshold;
  const node = el("div", { class: "finding", "data-testid": "finding", "data-index": f.index, "data-code": f.code,
                           "data-severity": f.severity },
    el("p", {}, el("strong", {}, f.severity), " · ", el("span", { "data-testid": "finding-message" }, f.message)),
    evidenceTable(f.evidence),
    t ? el("p", { class: "small", "data-testid": "threshold" },
      `Threshold ${t.name}: ${t.value} ${t.unit}. Source: ${t.source}${t.note ? ". " + t.note : ""}`) : null,
    f.source && f.source !== t?.source ? el("p", { class: "small hint" }, `Source: ${f.source}`) : null,
    reviewLine(f.review));
  if (!reviewable) {
    node.append(el("p", { class: "hint small" }, "Review is not available on this server."));
    return node;
  }
  const note = el("textarea", { "data-testid": "review-note", placeholder: "note (needed to correct or reject)",
                                maxlength: 2000 });
  const severity = el("select", { "data-testid": "correct-severity" },
    ["", "normal", "attention", "inconclusive", "info"].map((s) => el("option", { value: s }, s || "severity unchanged")));
  const message = el("input", { "data-testid": "correct-message", placeholder: "corrected wording (optional)" });
  const problem = el("p", { class: "error", "data-testid": "review-error", role: "alert" });
  const send = async (action) => {
    problem.textContent = "";
    const body = { action, note: note.value.trim() || null, correction: null };
    if (action === "correct") {
      body.correction = {};
      if (severity.value) body.correction.severity = severity.value;
      if (message.value.trim()) body.correction.message = message.value.trim();
    }
    try {
      const review = await api(key, `/v1/assessments/${a.id}/findings/${f.index}/review`, { method: "POST", json: body });
      node.querySelector('[data-testid="review-status"]').replaceWith(reviewLine(review));
      note.value = "";
    } catch (err) {
      problem.textContent = err.message;
    }
  };
  node.append(el("div", { class: "review" }, note,
    el("div", { class: "buttons" },
      el("button", { "data-testid": "sign-off", onclick: () => send("sign_off") }, "Sign off"),
      el("button", { class: "secondary", "data-testid": "reject", onclick: () => send("reject") }, "Reject")),
    el("details", {}, el("summary", {}, "Correct this finding"), severity, " ", message, " ",
      el("button", { class: "secondary", "data-testid": "correct", onclick: () => send("correct") }, "Save correction")),
    problem));
  return node;
}

start();
