// The patient page: pick an exercise, place the phone, live skeleton + counters + cues over the
// camera preview (WebSocket /v1/live), then record a set and upload it for a full assessment.
// Frames go only to this server; nothing is stored in the browser beyond this tab's key.

import { api, ApiError, askKey, drawSkeleton, el, fmt, forgetKey, showError, takeKey } from "./common.js";

const SEND_MAX_PX = 640;       // long side of the JPEG sent to /v1/live (the model sees 256 px anyway)
const MIN_INTERVAL_MS = 50;    // at most ~20 frames/s (the assessment's 6 Hz filter needs > 12); one frame in flight
const COUNTED = { rep: "repetitions", initial_contact: "steps", single_leg_stance: "single-leg stances" };
const ANSWER_TIMEOUT_MS = 5000;
const POLL_MS = 1500;

const root = document.getElementById("root");
const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

async function start() {
  let key = takeKey() || await askKey(root);
  let exercises;
  try {
    exercises = (await api(key, "/v1/exercises")).items;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      forgetKey();
      showError(root, err);
      key = await askKey(root);
      return start();
    }
    return showError(root, err);
  }
  render(key, exercises);
}

function render(key, exercises) {
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
      el("p", { class: "hint" }, `Live: ${COUNTED[x.live_counted] || "skeleton and cues only"}, as the report will count them` +
        (x.live_hold ? "; the hold timer runs during a hold." : ".")));
  };
  select.addEventListener("change", () => { showPlacement(); if (live.ws) live.restart(); });
  showPlacement();

  const video = el("video", { playsinline: true, muted: true, autoplay: true, "data-testid": "preview" });
  const overlay = el("canvas", { class: "overlay", "data-testid": "overlay" });
  const live = new Live(key, select, video, overlay);
  const rec = new Recorder(key, select, live);

  root.replaceChildren(
    el("section", { class: "card" }, el("h2", {}, "1. Exercise"),
      el("label", { for: "exercise" }, "Exercise "), select, placement),
    el("section", { class: "card" }, el("h2", {}, "2. Camera"),
      el("div", { class: "stage" }, video, overlay),
      el("div", { class: "counters" },
        counter("Repetitions", "reps"), counter("Hold (s)", "hold"), counter("Landmarks", "landmark-count")),
      el("ul", { class: "cues", "data-testid": "cues", "aria-live": "polite" }),
      el("p", { class: "hint", "data-testid": "live-status" }, "Camera off."),
      el("p", { class: "hint small" }, "Person: ", el("span", { "data-testid": "person", "data-found": "unknown" }, "–"),
        " · view: ", el("span", { "data-testid": "view" }, "–"),
        " · answers: ", el("span", { "data-testid": "answered" }, "0"),
        " · skipped: ", el("span", { "data-testid": "dropped" }, "0")),
      el("div", { class: "buttons" },
        el("button", { "data-testid": "start-camera", onclick: () => live.toggle() }, "Start camera"),
        el("button", { "data-testid": "reset-count", onclick: () => live.restart() }, "Reset count"))),
    el("section", { class: "card" }, el("h2", {}, "3. Record a set"),
      el("label", {}, "Patient code (optional) ",
        el("input", { "data-testid": "patient-id", id: "patient-id", maxlength: 100, autocomplete: "off",
                      pattern: "[A-Za-z0-9._:\\-]{1,100}", placeholder: "from your clinic, no names" })),
      el("div", { class: "buttons" },
        el("button", { "data-testid": "record", onclick: () => rec.toggle(), disabled: true }, "Record set")),
      el("p", { "data-testid": "upload-status", class: "hint" }, "Start the camera first."),
      el("div", { "data-testid": "result-summary" })),
  );
}

function counter(label, id) {
  return el("div", { class: "counter" }, el("span", { class: "value", "data-testid": id }, "0"), el("span", {}, label));
}

class Live {
  constructor(key, select, video, overlay) {
    Object.assign(this, { key, select, video, overlay, stream: null, ws: null, waiting: false, sentAt: 0,
                          answered: 0, dropped: 0, timer: null });
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
    $("upload-status").textContent = "Ready to record.";
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
    this.answered = 0;
    this.t0 = performance.now();
    $("reps").textContent = "0";
    $("hold").textContent = "0.0";
    $("live-status").textContent = "Connecting…";
    ws.onmessage = (ev) => this.onMessage(JSON.parse(ev.data));
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      $("live-status").textContent = ev.code === 1000 ? "Live feedback stopped."
        : `Live feedback stopped: ${ev.reason || "connection lost"} (code ${ev.code}).`;
    };
    clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(), 25);
  }

  onMessage(msg) {
    if (msg.type === "ready") {
      $("live-status").textContent = `Live: ${msg.exercise || "no exercise"}.`;
      this.ready = true;
      return;
    }
    this.waiting = false;
    if (msg.type === "error") {
      $("live-status").textContent = `Frame refused: ${msg.detail}`;
      return;
    }
    if (msg.type !== "frame") return;
    this.answered += 1;
    this.dropped += msg.dropped || 0;
    const ctx = this.overlay.getContext("2d");
    this.overlay.width = this.video.videoWidth || 360;
    this.overlay.height = this.video.videoHeight || 640;
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
    const drawn = msg.person_found ? drawSkeleton(ctx, msg.landmarks, { scale: this.overlay.width / 480 }) : 0;
    this.overlay.dataset.drawn = String(drawn);
    $("landmark-count").textContent = String(drawn);
    $("reps").textContent = msg.reps === null ? "–" : String(msg.reps);
    $("hold").textContent = msg.hold_s === null ? "–" : fmt(msg.hold_s, 1);
    $("reps").closest(".counter").classList.toggle("active", Boolean(msg.in_rep));
    const person = $("person");
    person.dataset.found = String(msg.person_found);
    person.textContent = msg.person_found ? "in view" : "not in view";
    $("view").textContent = msg.view;
    $("answered").textContent = String(this.answered);
    $("dropped").textContent = String(this.dropped);
    $("cues").replaceChildren(...msg.cues.map((c) => el("li", { "data-testid": "cue" }, c)));
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
    $("upload-status").textContent = "Recording… do the set, then press Stop.";
  }

  async upload(blob, name) {
    $("record").dataset.recording = "false";
    const status = $("upload-status");
    const form = new FormData();
    form.append("video", blob, name);
    form.append("exercise", this.select.value);
    const patient = document.getElementById("patient-id").value.trim();
    if (patient) form.append("patient_id", patient);
    status.textContent = `Uploading ${(blob.size / 1e6).toFixed(1)} MB…`;
    status.dataset.state = "uploading";
    let accepted;
    try {
      accepted = await api(this.key, "/v1/assessments", { method: "POST", body: form,
                                                            headers: { "Idempotency-Key": crypto.randomUUID() } });
    } catch (err) {
      status.dataset.state = "failed";
      status.textContent = `Upload refused: ${err.message}`;
      return;
    }
    for (;;) {
      status.dataset.state = accepted.status;
      status.textContent = `Assessment ${accepted.status}…`;
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
    if (a.status === "failed") {
      status.textContent = "The recording could not be analysed.";
      out.replaceChildren(el("p", { class: "error" }, a.reason || "no reason given"));
      return;
    }
    status.textContent = "Done. Your clinician will review it.";
    const reps = (a.metrics || []).find((m) => m.name === "rep_count");
    out.replaceChildren(...[
      el("p", {}, "Assessment ", el("code", { "data-testid": "assessment-id" }, a.id)),
      el("p", {}, "Repetitions found: ", el("strong", { "data-testid": "result-reps" },
        reps && reps.measurable ? String(reps.value) : "not measurable")),
      (a.coaching || []).length ? el("div", {}, el("h3", {}, "To film it better next time"),
        el("ul", { "data-testid": "coaching" }, a.coaching.map((c) => el("li", {}, c.message)))) : null,
      (a.findings || []).length ? el("div", {}, el("h3", {}, "What was seen"),
        el("ul", { "data-testid": "result-findings" }, a.findings.map((f) => el("li", {}, f.message)))) : null,
      el("p", { class: "hint" }, "These observations support your clinician's judgement; they are not a diagnosis."),
    ].filter(Boolean));
  }
}

start();
