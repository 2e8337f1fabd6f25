// The uploaded recording with an overlay. The stored assessment keeps the hip joint centre
// trajectories (series hip_centre_*_px, pixels of the upright frame), not every landmark: those
// are drawn continuously. For the whole skeleton of one frame, pause and ask: the frame goes to
// POST /v1/frames on this server (analysed, nothing stored).

import { api, drawSkeleton, el } from "./common.js";

const HIP = "rgb(255, 64, 160)";

function nearest(t, s) {
  let lo = 0, hi = t.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (t[mid] < s) lo = mid; else hi = mid;
  }
  return Math.abs(t[lo] - s) <= Math.abs(t[hi] - s) ? lo : hi;
}

/** Fill `box` with the video and its overlay; returns {seek(t_s)} or null. `onTime(t_s)` follows playback. */
export function attachVideo(key, a, box, { onTime } = {}) {
  if (a.input_kind !== "video") {
    box.replaceChildren(el("p", { class: "hint", "data-testid": "video-note" },
      `No video to show: the input was ${a.input_kind === "landmarks" ? "landmarks computed on the phone" : "an image"}.`));
    return null;
  }
  const video = el("video", { controls: true, playsinline: true, muted: true, preload: "auto", "data-testid": "video" });
  const canvas = el("canvas", { class: "overlay", "data-testid": "video-overlay" });
  const note = el("p", { class: "hint small", "data-testid": "video-note" }, "Loading the recording…");
  const frameButton = el("button", { class: "secondary", "data-testid": "frame-skeleton", disabled: true },
    "Skeleton at this frame");
  box.replaceChildren(el("div", { class: "stage video-stage" }, video, canvas), note, el("div", { class: "buttons" }, frameButton));

  const s = a.series, t = s.t_s;
  const hips = ["left", "right", "mid"].every((side) => Array.isArray(s[`hip_centre_${side}_x_px`]));
  let still = null;  // the skeleton of the paused frame, until playback moves on

  function draw() {
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (still) drawSkeleton(ctx, still, { scale: canvas.width / 480 });
    if (!hips || !t.length) return;
    const i = nearest(t, video.currentTime);
    const sx = canvas.width / (a.input.width || canvas.width), sy = canvas.height / (a.input.height || canvas.height);
    const p = (side) => [s[`hip_centre_${side}_x_px`][i], s[`hip_centre_${side}_y_px`][i]];
    const [l, r, m] = [p("left"), p("right"), p("mid")];
    ctx.strokeStyle = HIP;
    ctx.fillStyle = HIP;
    ctx.lineWidth = Math.max(2, canvas.width / 200);
    if (l[0] !== null && r[0] !== null) {
      ctx.beginPath();
      ctx.moveTo(l[0] * sx, l[1] * sy);
      ctx.lineTo(r[0] * sx, r[1] * sy);
      ctx.stroke();
    }
    for (const q of [l, r, m]) {
      if (q[0] === null) continue;
      ctx.beginPath();
      ctx.arc(q[0] * sx, q[1] * sy, Math.max(4, canvas.width / 120), 0, 2 * Math.PI);
      ctx.fill();
    }
    canvas.dataset.frame = String(i);
  }

  function follow() {
    if (still && !video.paused) still = null;
    draw();
    if (onTime) onTime(video.currentTime);
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(follow);
  }

  video.addEventListener("loadedmetadata", () => {
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    note.textContent = hips
      ? "Overlay: hip joint centres and the hip line from the assessment (it stores hip trajectories, not every "
        + "landmark). Pause and press “Skeleton at this frame” for the whole skeleton of that frame."
      : "No overlay: this assessment has no hip trajectories in image pixels. Pause and press “Skeleton at this frame”.";
    frameButton.disabled = false;
    draw();
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(follow);
  });
  video.addEventListener("timeupdate", () => { draw(); if (onTime) onTime(video.currentTime); });
  video.addEventListener("seeked", () => { still = null; draw(); });
  video.addEventListener("error", () => {
    note.textContent = "This browser cannot play the recording's format; the plot and findings above are unaffected.";
  });

  frameButton.addEventListener("click", async () => {
    video.pause();
    const grab = document.createElement("canvas");
    grab.width = video.videoWidth;
    grab.height = video.videoHeight;
    grab.getContext("2d").drawImage(video, 0, 0);
    const blob = await new Promise((r) => grab.toBlob(r, "image/jpeg", 0.85));
    const form = new FormData();
    form.append("image", blob, "frame.jpg");
    try {
      const res = await api(key, "/v1/frames", { method: "POST", body: form });
      still = res.person_found ? res.landmarks : null;
      canvas.dataset.skeleton = String(still ? still.filter((q) => q[3] >= 0.5).length : 0);
      note.textContent = still ? `Skeleton of the frame at ${video.currentTime.toFixed(2)} s (estimated now, not stored).`
        : "No person found in this frame.";
      draw();
    } catch (err) {
      note.textContent = `The frame could not be analysed: ${err.message}`;
    }
  });

  (async () => {
    try {
      const res = await api(key, `/v1/assessments/${a.id}/input`);
      video.src = URL.createObjectURL(await res.blob());
    } catch (err) {
      note.textContent = `The recording cannot be shown: ${err.message}`;
    }
  })();
  return { seek: (sec) => { video.currentTime = Math.max(0, sec); } };
}
