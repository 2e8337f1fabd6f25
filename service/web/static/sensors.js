// Wearable sensors on the live socket, replayed from files: a sacral IMU and surface EMG recorded
// earlier (the generic CSVs of docs/wearables.md) are streamed in real time beside the camera's
// frames, each on its own clock, in the binary block form of docs/sdk.md ("Sensors beside the
// frames"). The server answers with its causal analysis: pelvic angles, EMG onsets and the
// abdominals' timing against each movement, shown and spoken as cues.

import { el, fmt } from "./common.js";

const BLOCK_MS = 50;          // one block per sensor every 50 ms of the recording
const EMG_UNITS = { v: 1000, mv: 1, uv: 0.001 };
const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

/** A generic sensor CSV: "# key: value" comments, a header, numeric rows. */
export function parseCsv(name, text) {
  const meta = {};
  const rows = [];
  let header = null;
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    if (line.startsWith("#")) {
      const m = line.slice(1).match(/^\s*([A-Za-z_]+)\s*:\s*(.*)$/);
      if (m) meta[m[1].toLowerCase()] = m[2].trim();
      continue;
    }
    if (!header) { header = line.split(",").map((s) => s.trim()); continue; }
    rows.push(line.split(",").map(Number));
  }
  if (!header || header[0] !== "t_s" || !rows.length) throw new Error(`${name}: expected a t_s column and samples`);
  const t = rows.map((r) => r[0]);
  const rate = Number(meta.sampling_rate_hz) || (t.length > 1 ? (t.length - 1) / (t[t.length - 1] - t[0]) : 0);
  const cols = header.slice(1);
  if (cols.some((c) => /^(acc|gyr)_[xyz]_/.test(c))) {
    const unit = (kind) => {
      const units = new Set(cols.filter((c) => c.startsWith(kind)).map((c) => c.split("_")[2]));
      if (units.size !== 1) throw new Error(`${name}: the ${kind} columns must share one unit`);
      return [...units][0];
    };
    const order = ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"].map((p) => cols.findIndex((c) => c.startsWith(p)));
    if (order.includes(-1)) throw new Error(`${name}: acc and gyr need x, y and z columns`);
    return { kind: "imu", name, rate, t, meta, accUnit: unit("acc"), gyrUnit: unit("gyr"),
             samples: rows.map((r) => order.map((i) => r[i + 1])) };
  }
  const channels = cols.map((c) => {
    const parts = c.split("_");
    const scale = EMG_UNITS[parts[parts.length - 1].toLowerCase()];
    if (!scale) throw new Error(`${name}: column ${c} needs a unit V, mV or uV`);
    const side = ["left", "right"].includes(parts[parts.length - 2]) ? parts[parts.length - 2] : null;
    const site = parts.slice(0, side ? -2 : -1).join("_");
    return { name: c, site, side, scale };
  });
  return { kind: "emg", name, rate, t, meta, channels,
           samples: rows.map((r) => channels.map((c, j) => r[j + 1] * c.scale)) };
}

/** One block in the binary form: "MSS1", kind, name, t0_s (f64), samples (u32), columns (u16), f32 rows. */
export function encodeBlock(kind, sensor, t0, rows) {
  const name = new TextEncoder().encode(sensor);
  const cols = rows[0].length;
  const buf = new ArrayBuffer(6 + name.length + 14 + 4 * rows.length * cols);
  const v = new DataView(buf);
  [77, 83, 83, 49].forEach((b, i) => v.setUint8(i, b));  // "MSS1"
  v.setUint8(4, kind === "imu" ? 1 : 2);
  v.setUint8(5, name.length);
  new Uint8Array(buf, 6, name.length).set(name);
  let at = 6 + name.length;
  v.setFloat64(at, t0, true);
  v.setUint32(at + 8, rows.length, true);
  v.setUint16(at + 12, cols, true);
  at += 14;
  for (const row of rows) for (const x of row) { v.setFloat32(at, x, true); at += 4; }
  return buf;
}

export class SensorReplay {
  constructor(live, voice) {
    Object.assign(this, { live, voice, files: [], timer: null, sent: 0, answers: 0 });
  }

  card() {
    return el("section", { class: "card", "data-testid": "sensor-card" }, el("h2", {}, "Sensors (optional)"),
      el("p", { class: "hint" }, "Replay a sacral IMU and EMG recorded with this exercise (CSV files), beside the camera."),
      el("input", { type: "file", multiple: true, accept: ".csv,.txt", "data-testid": "sensor-files",
                    onchange: (ev) => this.load(ev.currentTarget.files) }),
      el("label", {}, "IMU axes ", el("input", { "data-testid": "sensor-axes", value: "mobilised", size: 24 })),
      el("div", { class: "buttons" },
        el("button", { "data-testid": "replay-sensors", disabled: true, onclick: () => this.toggle() }, "Replay sensors")),
      el("p", { class: "hint", "data-testid": "sensor-status" }, "No sensor file chosen."),
      el("p", { class: "timing-cue", "data-testid": "timing-cue", "aria-live": "polite" }),
      el("ul", { class: "cues", "data-testid": "sensor-cues" }));
  }

  async load(fileList) {
    const status = $("sensor-status");
    try {
      this.files = await Promise.all([...fileList].map(async (f) => parseCsv(f.name, await f.text())));
      status.textContent = this.files.map((f) => `${f.name}: ${f.kind.toUpperCase()}, ${fmt(f.rate, 0)} Hz, ` +
        `${fmt(f.t[f.t.length - 1] - f.t[0], 1)} s`).join("; ");
      $("replay-sensors").disabled = !this.files.length;
    } catch (err) {
      this.files = [];
      status.textContent = String(err.message || err);
      $("replay-sensors").disabled = true;
    }
  }

  toggle() {
    if (this.timer) return this.stop("Sensor replay stopped.");
    const ws = this.live.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      $("sensor-status").textContent = "Start the camera first: the sensors stream on its connection.";
      return;
    }
    const imu = this.files.find((f) => f.kind === "imu");
    const emg = this.files.find((f) => f.kind === "emg");
    if (imu) {
      ws.send(JSON.stringify({ type: "sensor_start", sensor: "imu", kind: "imu", sampling_rate_hz: imu.rate,
        placement: imu.meta.placement || "lower_back", axes: $("sensor-axes").value,
        acc_unit: imu.accUnit === "g" ? "g" : "mps2", gyr_unit: imu.gyrUnit === "dps" ? "dps" : "rads" }));
    }
    if (emg) {  // the replayed file's 0.5-1.5 s is taken as the quiet stand (the EMG baseline)
      ws.send(JSON.stringify({ type: "sensor_start", sensor: "emg", kind: "emg", sampling_rate_hz: emg.rate,
        channels: emg.channels.map(({ name, site, side }) => ({ name, site, side })),
        baseline_s: [emg.t[0] + 0.5, emg.t[0] + 1.5], ...(imu ? { clock: "imu" } : {}) }));
    }
    this.streams = [imu, emg].filter(Boolean).map((f) => ({ f, next: 0, sensor: f.kind }));
    this.started = performance.now();
    $("replay-sensors").textContent = "Stop sensors";
    $("sensor-status").textContent = "Replaying…";
    this.timer = setInterval(() => this.tick(), BLOCK_MS);
  }

  stop(text) {
    clearInterval(this.timer);
    this.timer = null;
    $("replay-sensors").textContent = "Replay sensors";
    $("sensor-status").textContent = text;
  }

  tick() {
    const ws = this.live.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return this.stop("The live connection closed: sensor replay stopped.");
    const elapsed = (performance.now() - this.started) / 1000;
    let left = 0;
    for (const s of this.streams) {
      const { f } = s;
      const due = f.t[0] + elapsed;
      let end = s.next;
      while (end < f.t.length && f.t[end] <= due) end++;
      if (end > s.next) {
        ws.send(encodeBlock(f.kind, s.sensor, f.t[s.next], f.samples.slice(s.next, end)));
        this.sent += 1;
        s.next = end;
      }
      left += f.t.length - s.next;
    }
    if (!left) this.stop("Sensor replay finished.");
  }

  /** A message of the socket meant for the sensors; true when it was one. */
  handle(msg) {
    if (!["sensor", "sensor_ready"].includes(msg.type) && !(msg.type === "error" && msg.sensor !== undefined)) return false;
    if (msg.type === "error") { $("sensor-status").textContent = `Sensor ${msg.sensor}: ${msg.detail}`; return true; }
    if (msg.type === "sensor_ready") return true;
    this.answers += 1;
    $("sensor-card").dataset.answered = String(this.answers);  // for the browser test; never shown
    if (msg.kind === "imu" && msg.obliquity_deg !== undefined && msg.obliquity_deg !== null) {
      $("sensor-status").textContent = `Pelvis: obliquity ${fmt(msg.obliquity_deg, 1)}°, tilt ${fmt(msg.tilt_deg, 1)}°` +
        (msg.hold_s ? `, held ${fmt(msg.hold_s, 1)} s` : "");
    }
    const cues = msg.cues || [];
    if (cues.length) $("sensor-cues").replaceChildren(...cues.map((c) => el("li", { "data-testid": "sensor-cue" }, c)));
    const timing = cues.find((c) => c.includes(" the movement"));
    if (timing) {
      $("timing-cue").textContent = timing[0].toUpperCase() + timing.slice(1) + ".";
      this.voice.say($("timing-cue").textContent, { force: true });
    }
    return true;
  }
}
