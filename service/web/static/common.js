// Shared by the pages: the caller's credential, API calls, the skeleton drawing.
// A person logs in (/app/login): an HttpOnly session cookie, and the CSRF token in the ms_csrf
// cookie, echoed as X-CSRF-Token on every request that changes data. An app may still use an API
// key (#key=, kept in sessionStorage), and the patient page a patient link (#link=).
// No data is kept by the pages.

const KEY_ITEM = "motionscript.key";

/** The API key: from a #key= fragment or ?key= (then removed from the address bar), else sessionStorage. */
export function takeKey() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const query = new URLSearchParams(location.search);
  const given = hash.get("key") || query.get("key");
  if (given) {
    sessionStorage.setItem(KEY_ITEM, given.trim());
    hash.delete("key");
    query.delete("key");
    const q = query.toString(), h = hash.toString();
    history.replaceState(null, "", location.pathname + (q ? "?" + q : "") + (h ? "#" + h : ""));
  }
  return sessionStorage.getItem(KEY_ITEM);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_ITEM);
}

/** Show the key form in `root` until a key is entered; resolves with the key. */
export function askKey(root) {
  return new Promise((resolve) => {
    const form = el("form", { class: "card key-form", "data-testid": "key-form" },
      el("label", {}, "API key ", el("input", { type: "password", name: "key", autocomplete: "off",
                                               required: "", "data-testid": "key-input" })),
      el("button", { type: "submit" }, "Continue"),
      el("p", { class: "hint" }, "Your clinic gives you this key. It stays in this browser tab only."));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const key = form.elements.key.value.trim();
      sessionStorage.setItem(KEY_ITEM, key);
      form.remove();
      resolve(key);
    });
    root.replaceChildren(form);
  });
}

export class ApiError extends Error {
  constructor(status, detail, body) {
    super(detail);
    this.status = status;
    this.body = body;
  }
}

/** The CSRF token of this browser's login (readable cookie ms_csrf), or null. */
export function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)ms_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : null;
}

/**
 * The logged-in person (GET /v1/auth/me with the session cookie); without a login, go to the
 * login page, which comes back to this page afterwards. Resolves with the person.
 */
export async function requireLogin() {
  try {
    return await api(null, "/v1/auth/me");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      location.assign(`/app/login?next=${encodeURIComponent(location.pathname + location.hash)}`);
      return new Promise(() => {});  // the page is leaving
    }
    throw err;
  }
}

export async function logout() {
  await api(null, "/v1/auth/logout", { method: "POST" }).catch(() => {});
  location.assign("/app/login");
}

/**
 * fetch() against this server, JSON in and out; problem+json answers throw ApiError.
 * `key`: an API key or patient link sent as a Bearer token; null: the login cookie (+ CSRF header).
 */
export async function api(key, path, { method = "GET", json, body, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  else if (!["GET", "HEAD"].includes(method) && csrfToken()) h["X-CSRF-Token"] = csrfToken();
  if (json !== undefined) {
    h["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  const res = await fetch(path, { method, headers: h, body, credentials: "same-origin" });
  const type = res.headers.get("content-type") || "";
  const data = type.includes("json") ? await res.json() : res;
  if (!res.ok) {
    const detail = data && data.detail ? data.detail : `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, typeof detail === "string" ? detail : JSON.stringify(detail), data);
  }
  return data;
}

/** Tiny DOM builder: el("div", {class: "x", "data-testid": "y"}, child, "text", ...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function showError(target, err) {
  target.replaceChildren(el("p", { class: "error", role: "alert", "data-testid": "error" }, String(err.message || err)));
}

// BlazePose 33 landmarks: the segments drawn between them.
export const BONES = [
  [11, 12], [11, 13], [13, 15], [12, 14], [14, 16], [11, 23], [12, 24], [23, 24],
  [23, 25], [25, 27], [27, 29], [29, 31], [27, 31], [24, 26], [26, 28], [28, 30], [30, 32], [28, 32],
  [0, 11], [0, 12],
];
export const SKELETON_COLOUR = "rgb(0, 255, 128)";
const LEFT = new Set([11, 13, 15, 23, 25, 27, 29, 31]);

/**
 * Draw landmarks ([x, y, z, visibility], image-normalised, y down) over `ctx`'s whole canvas.
 * Returns how many landmarks were drawn (visibility >= minVis).
 */
export function drawSkeleton(ctx, landmarks, { minVis = 0.5, scale = 1 } = {}) {
  const { width: w, height: h } = ctx.canvas;
  if (!landmarks) return 0;
  const ok = (p) => p && p[3] >= minVis;
  ctx.lineWidth = Math.max(2, 3 * scale);
  ctx.strokeStyle = SKELETON_COLOUR;
  ctx.beginPath();
  for (const [a, b] of BONES) {
    if (!ok(landmarks[a]) || !ok(landmarks[b])) continue;
    ctx.moveTo(landmarks[a][0] * w, landmarks[a][1] * h);
    ctx.lineTo(landmarks[b][0] * w, landmarks[b][1] * h);
  }
  ctx.stroke();
  let drawn = 0;
  landmarks.forEach((p, i) => {
    if (!ok(p)) return;
    drawn += 1;
    ctx.fillStyle = LEFT.has(i) ? "rgb(255, 200, 0)" : "rgb(0, 200, 255)";  // left side amber, right side blue
    ctx.beginPath();
    ctx.arc(p[0] * w, p[1] * h, Math.max(3, 4 * scale), 0, 2 * Math.PI);
    ctx.fill();
  });
  return drawn;
}

export function fmt(value, digits = 1) {
  return value === null || value === undefined || Number.isNaN(value) ? "–" : Number(value).toFixed(digits);
}
