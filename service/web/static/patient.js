// The patient page, for a phone: pick an exercise, place the phone, then the camera preview with the
// live skeleton, the count, the hold timer and the cues drawn over it (WebSocket /v1/live) and the
// cues spoken by the phone's own offline voice; record a set and upload it for a full assessment.
//
// Who the patient is comes from the link the clinic sent (#link=<signed token>, POST
// /v1/patients/{id}/link): nothing is typed. An app may still open the page with an API key (#key=).
// Frames go only to this server; the browser keeps nothing but the link in this tab's sessionStorage.

import { api, ApiError, drawSkeleton, el, fmt, showError, takeKey } from "./common.js";
import { fmtValue, label, loadCatalogue, patientAdvice, qualityNotes } from "./labels.js";
import { SensorReplay } from "./sensors.js";

const SEND_MAX_PX = 640;       // long side of the JPEG sent to /v1/live (the model sees 256 px anyway)
const MIN_INTERVAL_MS = 50;    // at most ~20 frames/s (the assessment's 6 Hz filter needs > 12); one frame in flight
const COUNTED = { rep: "repetitions", initial_contact: "steps", single_leg_stance: "single-leg stances" };
const ANSWER_TIMEOUT_MS = 5000;
const POLL_MS = 1500;
const REPEAT_CUE_MS = 8000;    // the same cue is spoken again at most this often
const LINK_ITEM = "motionscript.patient-link";

const root = document.getElementById("root");
const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

/** The patient link from #link= (then removed from the address bar), else this tab's copy of it. */
function takeLink() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const given = hash.get("link");
  if (given) {
    sessionStorage.setItem(LINK_ITEM, given.trim());
    hash.delete("link");
    const h = hash.toString();
    history.replaceState(null, "", location.pathname + location.search + (h ? "#" + h : ""));
  }
  return sessionStorage.getItem(LINK_ITEM);
}

function noLink(message) {
  root.replaceChildren(el("section", { class: "card", "data-testid": "no-link" },
    el("h2", {}, "Open the link from your clinic"),
    el("p", {}, message),
    el("p", { class: "hint" }, "Your clinic sends you a personal link to this page. It records your exercise " +
      "for your clinician; you do not need to type anything.")));
}

async function start() {
  const link = takeLink();
  const key = link || takeKey();  // an app (or a test) may open the page with an API key
  if (!key) return noLink("This page needs the personal link your clinic sent you.");
  let me, exercises;
  try {
    [me, exercises] = await Promise.all([api(key, "/v1/auth/me"), api(key, "/v1/exercises"), loadCatalogue(key)]);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      sessionStorage.removeItem(LINK_ITEM);
      return noLink("This link has expired or is no longer valid. Ask your clinic for a new one.");
    }
    return showError(root, err);
  }
  render(key, me, exercises.items);
}

function render(key, me, exercises) {
  const select = el("select", { "data-testid": "exercise-select", id: "exercise" },
    exercises.map((x) => el("option", { value: x.name }, x.title)));
  const wanted = new URLSearchParams(location.hash.slice(1)).get("exercise");
  if (wanted && exercises.some((x) => x.name === wanted)) select.value = wanted;
  const placement = el("div", { "data-testid": "placement", class: "placement" });
  const showPlacement = () => {
    const x = exercises.find((e) => e.name === select.value);
    placement.replaceChildren(
      el("p", { class: "view-badge", "data-testid": "placement-view" }, `View: ${x.view}`),
      el("ol", {}, x.placement.map((line) => el("li", {}, line))),
      el("p", { class: "hint" }, `While you move, the page counts ${COUNTED[x.live_counted] || "nothing"}` +
        (x.live_hold ? " and times your holds." : ".") + " Your clinician sees the full measurement."));
  };
  select.addEventListener("change", () => { showPlacement(); if (live.ws) live.restart(); });
  showPlacement();

  const video = el("video", { playsinline: true, muted: true, autoplay: true, "data-testid": "preview" });
  const overlay = el("canvas", { class: "overlay", "data-testid": "overlay" });
  const voice = new Voice();
  const live = new Live(key, select, video, overlay, voice, exercises);
  const rec = new Recorder(key, select, live);
  // Wearables replayed from files beside the camera (sensors.js): a tool for the clinic and for apps
  // (opened with a key); a patient's link opens a page with nothing to pick or type but the exercise.
  const sensors = me.kind === "patient_link" ? null : new SensorReplay(live, voice);
  live.sensors = sensors;
  const who = me.kind === "patient_link"
    ? el("p", { class: "hint", "data-testid": "whoami" }, `From ${me.clinic_name}. Your recordings go to your clinician.`)
    : null;

  root.replaceChildren(...[
    el("section", { class: "card" }, el("h2", {}, "1. Exercise"), who,
      el("label", { for: "exercise" }, "Exercise "), select, placement),
    el("section", { class: "card", "data-testid": "camera-card" }, el("h2", {}, "2. Camera"),
      el("div", { class: "buttons camera-buttons" },
        el("button", { "data-testid": "start-camera", onclick: () => live.toggle() }, "Start camera"),
        el("button", { "data-testid": "record", onclick: () => rec.toggle(), disabled: true }, "Record set")),
      el("div", { class: "stage", "data-testid": "stage", "data-answered": "0" }, video, overlay,
        el("div", { class: "hud" },
          el("p", { class: "hud-cue", "data-testid": "cue-banner", "aria-live": "assertive", hidden: true }),
          el("p", { class: "hud-person", "data-testid": "person", "data-found": "unknown", hidden: true }),
          el("div", { class: "hud-counters" },
            hudCounter("Count", "reps"), hudCounter("Held (s)", "hold")))),
      el("ul", { class: "cues sr-only", "data-testid": "cues" }),
      el("p", { class: "hint", "data-testid": "live-status" }, "Camera off."),
      el("ul", { class: "live-angles small", "data-testid": "live-angles", "aria-live": "off" }),
      el("ul", { class: "live-quality hint small", "data-testid": "live-quality" }),
      el("div", { class: "buttons" },
        el("button", { class: "secondary", "data-testid": "reset-count", onclick: () => live.restart() }, "Reset count"),
        el("button", { class: "secondary", "data-testid": "voice-toggle", "aria-pressed": "true",
                       onclick: (ev) => voice.toggle(ev.currentTarget) }, "Voice: on")),
      el("p", { class: "hint small", "data-testid": "voice-status" }, voice.describe())),
    sensors ? sensors.card() : null,
    el("section", { class: "card" }, el("h2", {}, "3. Your recording"),
      el("p", { "data-testid": "upload-status", class: "hint" }, "Start the camera, then press Record set."),
      el("div", { "data-testid": "result-summary" })),
  ].filter(Boolean));
  voice.onchange = () => {  // no switch to offer without a voice of this device
    $("voice-status").textContent = voice.describe();
    $("voice-toggle").hidden = !voice.voice;
  };
  voice.onchange();
  const showCounters = () => {  // only what this exercise counts or times
    const x = exercises.find((e) => e.name === select.value);
    $("reps").closest(".hud-counter").hidden = !x.live_counted;
    $("hold").closest(".hud-counter").hidden = !x.live_hold;
  };
  select.addEventListener("change", showCounters);
  showCounters();
}

function hudCounter(label, id) {
  return el("div", { class: "hud-counter" }, el("span", { class: "value", "data-testid": id }, "–"), el("span", {}, label));
}

/**
 * Spoken cues with the Web Speech API, on a voice of the device itself only (`localService`): the
 * words never leave the phone. Without such a voice the page stays silent and says so.
 */
class Voice {
  constructor() {
    this.on = true;
    this.voice = null;
    this.last = new Map();  // text -> when it was last spoken
    this.spoken = [];       // what was handed to the synthesiser (the browser test reads it)
    this.onchange = null;
    if (!("speechSynthesis" in window)) return;
    const pick = () => {
      const local = speechSynthesis.getVoices().filter((v) => v.localService);
      const lang = (document.documentElement.lang || "en").toLowerCase();
      this.voice = local.find((v) => v.lang.toLowerCase().startsWith(lang) && v.default)
        || local.find((v) => v.lang.toLowerCase().startsWith(lang)) || null;
      if (this.onchange) this.onchange();
    };
    pick();
    speechSynthesis.addEventListener("voiceschanged", pick);
  }

  describe() {
    if (!("speechSynthesis" in window)) return "This browser cannot speak the cues; read them on the picture.";
    if (!this.voice) return "No offline voice on this device: the cues are shown on the picture only.";
    return this.on ? `Cues are spoken by this phone (${this.voice.name}), nothing is sent anywhere.` : "Voice off.";
  }

  toggle(button) {
    this.on = !this.on;
    if (!this.on && "speechSynthesis" in window) speechSynthesis.cancel();
    button.textContent = this.on ? "Voice: on" : "Voice: off";
    button.setAttribute("aria-pressed", String(this.on));
    if (this.onchange) this.onchange();
  }

  say(text, { force = false } = {}) {
    if (!this.on || !this.voice || !text) return;
    const now = performance.now();
    if (!force && now - (this.last.get(text) ?? -Infinity) < REPEAT_CUE_MS) return;
    if (speechSynthesis.speaking && !force) return;  // never a queue of stale cues
    this.last.set(text, now);
    const u = new SpeechSynthesisUtterance(text);
    u.voice = this.voice;
    u.lang = this.voice.lang;
    u.rate = 1.0;
    this.spoken.push(text);
    document.body.dataset.spoken = JSON.stringify(this.spoken.slice(-20));
    speechSynthesis.speak(u);
  }
}

function sentence(cue) {
  const s = cue.trim();
  return s ? s[0].toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? "" : ".") : s;
}

class Live {
  constructor(key, select, video, overlay, voice, exercises) {
    Object.assign(this, { key, select, video, overlay, voice, exercises, stream: null, ws: null, waiting: false,
                          sentAt: 0, answered: 0, dropped: 0, timer: null, reps: null });
    this.grab = document.createElement("canvas");
  }

  async toggle() {
    if (this.stream) return this.stop();
    const status = $("live-status");
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: false, video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 720 } } });
    } catch (err) {
      status.textContent = `The camera could not be opened (${err.name}): allow camera access for this page.`;
      return;
    }
    this.video.srcObject = this.stream;
    await this.video.play().catch(() => {});
    $("start-camera").textContent = "Stop camera";
    $("record").disabled = false;
    $("upload-status").textContent = "Ready: press Record set, do the set, then press Stop.";
    this.voice.say("Camera on.", { force: true });  // a spoken word on the user's tap also unlocks speech on iOS
    $("camera-card").scrollIntoView({ block: "start", behavior: "instant" });  // the picture, cues and count in view
    this.connect();
  }

  stop() {
    clearInterval(this.timer);
    if (this.ws) this.ws.close(1000, "camera stopped");
    this.ws = null;
    for (const t of this.stream.getTracks()) t.stop();
    this.stream = null;
    $("start-camera").textContent = "Start camera";
    $("record").disabled = true;
    $("live-status").textContent = "Camera off.";
    this.showCues([]);
    this.showMeasures({});
  }

  restart() {
    if (!this.stream) return;
    if (this.ws) this.ws.close(1000, "restart");
    this.connect();
  }

  connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const q = new URLSearchParams({ exercise: this.select.value, token: this.key });
    const ws = new WebSocket(`${proto}//${location.host}/v1/live?${q}`);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.waiting = false;
    this.ready = false;
    this.reps = null;
    this.t0 = performance.now();
    $("reps").textContent = "0";
    $("hold").textContent = "0.0";
    $("live-status").textContent = "Connecting…";
    ws.onmessage = (ev) => this.onMessage(JSON.parse(ev.data));
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      $("live-status").textContent = ev.code === 1000 ? "Live feedback stopped."
        : `Live feedback stopped: ${ev.reason || "connection lost"}. Press Stop camera, then Start camera.`;
    };
    clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(), 25);
  }

  showCues(cues) {
    const banner = $("cue-banner");
    const text = cues.map(sentence).join(" ");
    banner.hidden = !text;
    banner.textContent = text;
    $("cues").replaceChildren(...cues.map((c) => el("li", { "data-testid": "cue" }, c)));
    if (cues.length) this.voice.say(sentence(cues[0]));
  }

  onMessage(msg) {
    if (msg.type === "ready") {
      const x = this.exercises.find((e) => e.name === msg.exercise);
      $("live-status").textContent = `Live: ${x ? x.title : "camera only"}.`;
      this.ready = true;
      return;
    }
    if (this.sensors && this.sensors.handle(msg)) return;  // a sensor's answer: no frame was answered
    this.waiting = false;
    if (msg.type === "error") {
      $("live-status").textContent = `A frame could not be read (${msg.detail}); carrying on.`;
      return;
    }
    if (msg.type !== "frame") return;
    this.answered += 1;
    this.dropped += msg.dropped || 0;
    const stage = $("stage");
    stage.dataset.answered = String(this.answered);  // for the browser test; never shown
    stage.dataset.dropped = String(this.dropped);
    const ctx = this.overlay.getContext("2d");
    this.overlay.width = this.video.videoWidth || 360;
    this.overlay.height = this.video.videoHeight || 640;
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
    const drawn = msg.person_found ? drawSkeleton(ctx, msg.landmarks, { scale: this.overlay.width / 480 }) : 0;
    this.overlay.dataset.drawn = String(drawn);
    const reps = msg.reps === null ? null : Number(msg.reps);
    $("reps").textContent = reps === null ? "–" : String(reps);
    $("hold").textContent = msg.hold_s === null || msg.hold_s === undefined ? "–" : fmt(msg.hold_s, 1);
    $("reps").closest(".hud-counter").classList.toggle("active", Boolean(msg.in_rep));
    if (reps !== null && this.reps !== null && reps > this.reps) this.voice.say(String(reps), { force: true });
    this.reps = reps;
    const person = $("person");
    person.dataset.found = String(msg.person_found);
    person.hidden = true;  // "not in view" comes as a cue from the server
    this.showCues(msg.cues || []);
    this.showMeasures(msg);
  }

  /**
   * The newest run's angles: each a number, or "not measured." with what the patient can change (the
   * catalogue's patient advice for the offline pipeline's code, msg.not_measured), never a number for a
   * withheld one; angles with the same advice share one line. Below, the advice for what else limited
   * the run (its warnings), each said once. The clinician's wording of the same codes stays on their pages.
   */
  showMeasures(msg) {
    const exercise = this.select.value;
    const angles = msg.angles || {}, why = msg.not_measured || {};
    const measured = [], withheld = new Map();
    for (const [name, value] of Object.entries(angles)) {
      if (value !== null && value !== undefined) {
        measured.push(el("li", { "data-testid": "angle", "data-name": name }, `${label(name)}: ${fmtValue(value, "deg")}`));
      } else {
        const code = (why[name] || {}).code || "";
        const advice = patientAdvice(code, exercise) || "";
        if (!withheld.has(advice)) withheld.set(advice, { advice, codes: [], names: [] });
        const w = withheld.get(advice);
        if (!w.codes.includes(code)) w.codes.push(code);
        w.names.push(name);
      }
    }
    // nothing measured, for one reason: the advice alone (a list of every angle's name tells a patient nothing)
    const alone = measured.length === 0 && withheld.size === 1;
    const notMeasured = [...withheld.values()].map((w) => el("li",
      { "data-testid": "angle-not-measured", "data-names": w.names.join(" "), "data-code": w.codes.join(" ") },
      `${alone ? "Not measured" : w.names.map((n) => label(n)).join(", ") + ": not measured"}${w.advice ? ". " + w.advice : " yet."}`));
    $("live-angles").replaceChildren(...measured, ...notMeasured);
    const said = new Set(withheld.keys());
    const tips = [];
    // while nobody is in the picture, stepping into it is the one thing to do: the run's other advice
    // (its view, its light) was about frames before they left, and waits until they are back
    for (const q of msg.person_found === false ? [] : qualityNotes(msg.quality)) {
      const advice = q.severity === "info" ? null : patientAdvice(q.code, exercise);
      if (!advice || said.has(advice)) continue;  // nothing to change, or already said above
      said.add(advice);
      tips.push(el("li", { "data-testid": "live-quality-item", "data-code": q.code }, advice));
    }
    $("live-quality").replaceChildren(...tips);
  }

  tick() {
    const ws = this.ws, v = this.video;
    if (!ws || ws.readyState !== WebSocket.OPEN || !this.ready || !v.videoWidth) return;
    const now = performance.now();
    if (this.waiting && now - this.sentAt < ANSWER_TIMEOUT_MS) return;  // one frame in flight at a time
    if (now - this.sentAt < MIN_INTERVAL_MS) return;
    const s = Math.min(1, SEND_MAX_PX / Math.max(v.videoWidth, v.videoHeight));
    this.grab.width = Math.round(v.videoWidth * s);
    this.grab.height = Math.round(v.videoHeight * s);
    this.grab.getContext("2d").drawImage(v, 0, 0, this.grab.width, this.grab.height);
    const t_s = (now - this.t0) / 1000;
    this.waiting = true;
    this.sentAt = now;
    this.grab.toBlob((blob) => {
      if (!blob || this.ws !== ws || ws.readyState !== WebSocket.OPEN) { this.waiting = false; return; }
      ws.send(JSON.stringify({ t_s }));
      ws.send(blob);
    }, "image/jpeg", 0.75);
  }
}

class Recorder {
  constructor(key, select, live) {
    Object.assign(this, { key, select, live, media: null, chunks: [] });
  }

  toggle() {
    if (this.media) return this.media.stop();
    const type = ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm", "video/mp4"]
      .find((t) => window.MediaRecorder && MediaRecorder.isTypeSupported(t));
    if (!type || !this.live.stream) {
      $("upload-status").textContent = "This browser cannot record video here; use a recent Chrome, Firefox or Safari.";
      return;
    }
    this.chunks = [];
    this.media = new MediaRecorder(this.live.stream, { mimeType: type, videoBitsPerSecond: 4_000_000 });
    this.media.ondataavailable = (ev) => { if (ev.data.size) this.chunks.push(ev.data); };
    this.media.onstop = () => {
      const blob = new Blob(this.chunks, { type });
      this.media = null;
      $("record").textContent = "Record set";
      this.upload(blob, type.startsWith("video/mp4") ? "set.mp4" : "set.webm");
    };
    this.media.start(1000);
    this.startedAt = performance.now();
    $("record").textContent = "Stop and upload";
    $("record").dataset.recording = "true";
    $("upload-status").textContent = "Recording… do the set, then press Stop and upload.";
    this.live.voice.say("Recording.", { force: true });
  }

  async upload(blob, name) {
    $("record").dataset.recording = "false";
    const status = $("upload-status");
    const form = new FormData();
    form.append("video", blob, name);
    form.append("exercise", this.select.value);
    status.textContent = `Sending your recording (${(blob.size / 1e6).toFixed(1)} MB)…`;
    status.dataset.state = "uploading";
    let accepted;
    try {
      accepted = await api(this.key, "/v1/assessments", { method: "POST", body: form,
                                                            headers: { "Idempotency-Key": crypto.randomUUID() } });
    } catch (err) {
      status.dataset.state = "failed";
      status.textContent = `The recording was not accepted: ${err.message}`;
      return;
    }
    for (;;) {
      status.dataset.state = accepted.status;
      status.textContent = accepted.status === "queued" ? "Sent. Waiting for the analysis…" : "Analysing…";
      const a = await api(this.key, accepted.url).catch((err) => ({ status: "failed", reason: err.message }));
      if (a.status === "done" || a.status === "failed") return this.summary(a);
      accepted.status = a.status;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  summary(a) {
    const status = $("upload-status");
    status.dataset.state = a.status;
    const out = $("result-summary");
    out.dataset.assessmentId = a.id || "";
    if (a.status === "failed") {
      status.textContent = "The recording could not be analysed.";
      out.replaceChildren(el("p", { class: "error" }, a.reason || "no reason given"));
      return;
    }
    status.textContent = "Done: your clinician has it.";
    const reps = (a.metrics || []).find((m) => m.name === "rep_count");
    const findings = a.findings || [];
    out.replaceChildren(...[
      el("p", {}, "Repetitions: ", el("strong", { "data-testid": "result-reps" },
        reps && reps.measurable ? String(reps.value) : "could not be counted")),
      (a.coaching || []).length ? el("div", {}, el("h3", {}, "To film it better next time"),
        el("ul", { "data-testid": "coaching" }, a.coaching.map((c) => el("li", {}, c.message)))) : null,
      findings.length ? el("div", {}, el("h3", {}, "From your clinician"),
        el("ul", { "data-testid": "result-findings" }, findings.map((f) => el("li", {}, f.message)))) : null,
      !findings.length && a.findings_filter === "signed_off_only"
        ? el("p", { "data-testid": "awaiting-review" }, "Your clinician will go through the results with you.") : null,
      el("p", { class: "hint" }, "These observations support your clinician's judgement; they are not a diagnosis."),
    ].filter(Boolean));
  }
}

// A new link opened in this tab (only the fragment changes, so the page does not reload by itself)
window.addEventListener("hashchange", () => {
  if (new URLSearchParams(location.hash.slice(1)).get("link")) location.reload();
});

start();
