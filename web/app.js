// claimcheck upload page: hash each file (SHA-256), ask the API for upload URLs, PUT the bytes
// straight to S3 (one PUT, or parts in parallel), complete, follow the payload to `done`, and
// download it back. Plain ES module, no dependencies. Nothing here logs to the console: presigned
// URLs and tokens must not end up in logs.

/** Files up to this size are hashed with WebCrypto (which needs the whole file in memory). */
export const SUBTLE_MAX = 64 * 1024 * 1024;
const HASH_CHUNK = 4 * 1024 * 1024;
const PART_CONCURRENCY = 4;
const PART_RETRIES = 5;
const FILE_CONCURRENCY = 2;
const POLL_MS = 1000;
const POLL_ERRORS = 30;
/** Ledger states after which nothing more happens without an operator. */
const FINAL = new Set(["done", "quarantined", "dead", "expired"]);

// ---- SHA-256 (FIPS 180-4), incremental --------------------------------------------------------
// Written here rather than taken from a library: the page has no dependencies (a static file
// any host can serve), and WebCrypto's digest is one-shot, holding the whole file in memory.
// Checked against the FIPS 180-4 vectors and WebCrypto by tests/browser/unit.mjs.

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** Incremental SHA-256: `new Sha256().update(bytes).update(more).digest()` → 32 bytes. */
export class Sha256 {
  constructor() {
    this.h = new Uint32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]);
    this.w = new Uint32Array(64);
    this.buf = new Uint8Array(64);
    this.used = 0; // bytes waiting in buf
    this.length = 0; // bytes hashed in all
  }

  /** @param {Uint8Array} data */
  update(data) {
    let i = 0;
    const n = data.length;
    this.length += n;
    if (this.used > 0) {
      i = Math.min(64 - this.used, n);
      this.buf.set(data.subarray(0, i), this.used);
      this.used += i;
      if (this.used < 64) return this;
      this.block(this.buf, 0);
      this.used = 0;
    }
    for (; i + 64 <= n; i += 64) this.block(data, i);
    if (i < n) {
      this.buf.set(data.subarray(i), 0);
      this.used = n - i;
    }
    return this;
  }

  /** The digest (32 bytes); the hasher is spent afterwards. */
  digest() {
    const bits = this.length * 8;
    const tail = new Uint8Array(this.used < 56 ? 64 - this.used : 128 - this.used);
    tail[0] = 0x80;
    const view = new DataView(tail.buffer);
    view.setUint32(tail.length - 8, Math.floor(bits / 0x100000000));
    view.setUint32(tail.length - 4, bits >>> 0);
    this.update(tail);
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let j = 0; j < 8; j++) outView.setUint32(j * 4, this.h[j]);
    return out;
  }

  block(d, o) {
    const w = this.w;
    for (let t = 0; t < 16; t++, o += 4) {
      w[t] = (d[o] << 24) | (d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3];
    }
    for (let t = 16; t < 64; t++) {
      const a = w[t - 15], b = w[t - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    const h = this.h;
    let a = h[0], b = h[1], c = h[2], e = h[4], f = h[5], g = h[6], dd = h[3], hh = h[7];
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[t] + w[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g; g = f; f = e; e = (dd + t1) | 0;
      dd = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += dd; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
}

export function base64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/**
 * Base64 SHA-256 of a Blob. Up to `subtleMax` bytes through WebCrypto when available (secure
 * contexts only); above it, or without WebCrypto, read in chunks through `Sha256`, so memory
 * stays bounded whatever the file's size.
 */
export async function sha256Blob(blob, { subtleMax = SUBTLE_MAX, chunk = HASH_CHUNK, onProgress } = {}) {
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (subtle && blob.size <= subtleMax) {
    const digest = await subtle.digest("SHA-256", await blob.arrayBuffer());
    onProgress?.(blob.size);
    return base64(new Uint8Array(digest));
  }
  const hash = new Sha256();
  for (let at = 0; at < blob.size; at += chunk) {
    const end = Math.min(at + chunk, blob.size);
    hash.update(new Uint8Array(await blob.slice(at, end).arrayBuffer()));
    onProgress?.(end);
  }
  return base64(hash.digest());
}

// ---- Multipart arithmetic ---------------------------------------------------------------------

/** How many parts a body of `length` bytes takes (at least one). */
export function partCount(length, partSize) {
  return Math.max(1, Math.ceil(length / partSize));
}

/** Part `n`'s bytes (1-based) as `[start, end)`: every part but the last is `partSize` long. */
export function partRange(n, partSize, length) {
  const start = (n - 1) * partSize;
  return [start, Math.min(n * partSize, length)];
}

// ---- HTTP -------------------------------------------------------------------------------------

/** An error whose message is fit for the page (never a URL or a token). */
export class UploadError extends Error {
  constructor(message, { status = 0, code = null, retry = false } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.retry = retry;
  }
}

/** A readable error from an API answer: `{"error":{code,message}}`, API Gateway's `{message}`. */
export function apiError(status, text) {
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  const err = body && typeof body === "object" ? body.error : null;
  let message;
  let code = null;
  if (err && typeof err === "object" && err.code) {
    code = String(err.code);
    message = `${code}: ${err.message ?? ""} (HTTP ${status})`;
  } else if (body && typeof body.message === "string") {
    message = `${body.message} (HTTP ${status})`;
    if (status === 401) message += " — check the bearer token";
  } else {
    message = `HTTP ${status}`;
  }
  return new UploadError(message, { status, code, retry: status >= 500 || status === 429 });
}

/** A readable error from an S3 answer (XML `<Code>`/`<Message>`). */
function s3Error(what, status, text) {
  const tag = (name) => (text.match(new RegExp(`<${name}>([^<]*)</${name}>`)) || [])[1];
  const code = tag("Code");
  const detail = code ? `: ${code}${tag("Message") ? ` (${tag("Message")})` : ""}` : "";
  const message = status === 0
    ? `${what}: network error or refused by the bucket's CORS`
    : `${what}: S3 answered ${status}${detail}`;
  return new UploadError(message, {
    status,
    code,
    retry: status === 0 || status === 403 || status === 408 || status === 429 || status >= 500,
  });
}

// Headers a page may not set (the Fetch standard's forbidden request headers): the browser sets
// them itself (Content-Length from the body) and refuses them from scripts.
const FORBIDDEN = new Set([
  "accept-charset", "accept-encoding", "access-control-request-headers",
  "access-control-request-method", "connection", "content-length", "cookie", "cookie2", "date",
  "dnt", "expect", "host", "keep-alive", "origin", "referer", "set-cookie", "te", "trailer",
  "transfer-encoding", "upgrade", "via",
]);
const forbidden = (name) => {
  const n = name.toLowerCase();
  return FORBIDDEN.has(n) || n.startsWith("proxy-") || n.startsWith("sec-");
};

/** PUT `body` with XMLHttpRequest (for upload progress). Resolves `{etag}` on 2xx. */
function putBlob(url, headers, body, { what, onProgress, signal }) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    for (const [name, value] of Object.entries(headers || {})) {
      if (!forbidden(name)) xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (e) => onProgress?.(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress?.(body.size);
        resolve({ etag: xhr.getResponseHeader("ETag") });
      } else {
        reject(s3Error(what, xhr.status, xhr.responseText || ""));
      }
    };
    xhr.onerror = () => reject(s3Error(what, 0, ""));
    xhr.ontimeout = () => reject(s3Error(what, 0, ""));
    xhr.onabort = () => reject(new UploadError("cancelled"));
    if (signal) {
      if (signal.aborted) return xhr.abort();
      signal.addEventListener("abort", () => xhr.abort(), { once: true });
    }
    xhr.send(body);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The API as configured: base URL and bearer token (none under NONE authorization). */
export class Api {
  constructor(base, token) {
    this.base = String(base || "").replace(/\/+$/, "");
    this.token = token || "";
  }

  async call(method, path, body) {
    if (!this.base) throw new UploadError("no API URL: set it under Connection");
    const headers = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch {
      throw new UploadError("cannot reach the API (network error, or its CORS does not allow this page)", { retry: true });
    }
    const text = await res.text();
    if (!res.ok) throw apiError(res.status, text);
    try {
      return JSON.parse(text);
    } catch {
      throw new UploadError(`the API answered ${res.status} without JSON`);
    }
  }
}

// ---- One file ---------------------------------------------------------------------------------

/**
 * Uploads `file` through `api`; `ui` receives progress (`progress(fraction)`, `state(state,
 * text)`, `payload(id)`). Resolves the payload id once the upload is complete.
 */
export async function uploadFile(api, file, ui) {
  ui.state("hashing", "computing SHA-256…");
  const sha256 = await sha256Blob(file, {
    onProgress: (done) => {
      ui.progress(file.size ? done / file.size : 1);
      ui.state("hashing", `computing SHA-256… ${percent(done, file.size)}`);
    },
  });
  ui.progress(0);
  ui.state("requesting", "asking for an upload URL…");
  const ticket = await api.call("POST", "/uploads", {
    content_type: file.type || "application/octet-stream",
    content_length: file.size,
    sha256,
  });
  ui.payload(ticket.id);
  if (ticket.multipart) {
    await uploadParts(api, file, ticket, ui);
  } else {
    ui.state("uploading", "uploading…");
    await putBlob(ticket.url, ticket.headers, file, {
      what: "upload",
      onProgress: (loaded) => {
        ui.progress(loaded / file.size);
        ui.state("uploading", `uploading… ${percent(loaded, file.size)}`);
      },
    });
  }
  ui.progress(1);
  return ticket.id;
}

async function uploadParts(api, file, ticket, ui) {
  const id = encodeURIComponent(ticket.id);
  const m = ticket.multipart;
  const count = partCount(file.size, m.part_size);
  if (m.part_count != null && m.part_count !== count) {
    throw new UploadError(`the API planned ${m.part_count} parts, this file needs ${count}`);
  }
  // Part number → {url, headers, size, until}: `until` is when the URL expires, on this
  // machine's clock (from `expires_in`, so a skewed clock does not matter), less a margin for
  // the PUT itself.
  const urls = new Map();
  const remember = (parts, expiresIn) => {
    const seconds = Number(expiresIn) || 900;
    const until = Date.now() + (seconds - Math.min(30, seconds / 10)) * 1000;
    for (const p of parts || []) urls.set(p.part_number, { ...p, until });
  };
  const fresh = (n) => urls.has(n) && urls.get(n).until > Date.now();
  remember(m.parts, ticket.expires_in);
  let refreshing = null; // one GET …/parts at a time, shared by the workers waiting for it
  const refresh = (from) => {
    refreshing ??= api.call("GET", `/uploads/${id}/parts?from=${from}`)
      .then((answer) => remember(answer.parts, answer.expires_in))
      .finally(() => { refreshing = null; });
    return refreshing;
  };

  const loaded = new Array(count + 1).fill(0);
  const showProgress = () => {
    const sum = loaded.reduce((a, b) => a + b, 0);
    ui.progress(sum / file.size);
    ui.state("uploading", `uploading ${count} parts… ${percent(sum, file.size)}`);
  };
  const etags = new Array(count + 1);
  const stop = new AbortController();
  let next = 1;

  const putPart = async (n) => {
    const [start, end] = partRange(n, m.part_size, file.size);
    for (let attempt = 0; ; attempt++) {
      let part;
      try {
        // Past the URLs at hand, expired, or refused: sign more, from this part on. The
        // first refresh may be another worker's from an earlier part, hence a second one.
        if (!fresh(n)) await refresh(n);
        if (!fresh(n)) await refresh(n);
        part = urls.get(n);
        if (!part) throw new UploadError(`the API gave no URL for part ${n}`);
        if (part.size != null && part.size !== end - start) {
          throw new UploadError(`the API sized part ${n} ${part.size} bytes, not ${end - start}`);
        }
        const { etag } = await putBlob(part.url, part.headers, file.slice(start, end), {
          what: `part ${n}`,
          signal: stop.signal,
          onProgress: (bytes) => { loaded[n] = bytes; showProgress(); },
        });
        if (!etag) {
          throw new UploadError(`part ${n}: no ETag in S3's answer (the bucket's CORS must expose ETag)`);
        }
        return etag;
      } catch (e) {
        loaded[n] = 0;
        showProgress();
        if (!e.retry || attempt >= PART_RETRIES || stop.signal.aborted) throw e;
        // 403: the URL expired (or its signature no longer holds); 0: no readable answer
        // (S3 errors without CORS headers look like this): sign it again.
        if ((e.status === 403 || e.status === 0) && part && urls.get(n) === part) urls.delete(n);
        await sleep(500 * 2 ** attempt * (0.75 + Math.random() / 2));
      }
    }
  };

  const worker = async () => {
    while (next <= count && !stop.signal.aborted) {
      const n = next++;
      etags[n] = await putPart(n);
    }
  };
  showProgress();
  try {
    await Promise.all(Array.from({ length: Math.min(PART_CONCURRENCY, count) }, worker));
  } catch (e) {
    stop.abort();
    // Best effort: free the parts S3 holds (the bucket's lifecycle rule would do it later).
    api.call("DELETE", `/uploads/${id}`).catch(() => {});
    throw e;
  }
  ui.state("completing", "completing the upload…");
  const parts = [];
  for (let n = 1; n <= count; n++) parts.push({ part_number: n, etag: etags[n] });
  await api.call("POST", `/uploads/${id}/complete`, { parts });
}

/** Polls the payload every second until a final state; resolves its last answer. */
export async function follow(api, id, ui) {
  let errors = 0;
  for (;;) {
    try {
      const p = await api.call("GET", `/payloads/${encodeURIComponent(id)}?download=false`);
      errors = 0;
      ui.status(p.status);
      if (FINAL.has(p.status)) return p;
      ui.state("processing", p.last_error ? `${p.status}: ${p.last_error}` : `${p.status}…`);
    } catch (e) {
      if (!e.retry || ++errors >= POLL_ERRORS) throw e;
      ui.state("processing", `status unavailable, retrying (${e.message})`);
    }
    await sleep(POLL_MS);
  }
}

function percent(done, total) {
  return `${total ? Math.floor((100 * done) / total) : 100} %`;
}

export function formatSize(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

// ---- The page ---------------------------------------------------------------------------------

function limiter(max) {
  let running = 0;
  const waiting = [];
  return async (task) => {
    while (running >= max) await new Promise((r) => waiting.push(r));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

async function loadConfig() {
  try {
    const res = await fetch("./config.json", { cache: "no-store" });
    if (!res.ok) return {};
    const c = await res.json();
    return c && typeof c === "object" ? c : {};
  } catch {
    return {};
  }
}

async function main() {
  const $ = (sel) => document.querySelector(sel);
  const apiInput = $("#api-url");
  const tokenInput = $("#token");
  const connection = $("#connection");
  // Enter in a field must not reload the page (and lose the uploads in flight).
  $("#connection-form").addEventListener("submit", (e) => e.preventDefault());
  const config = await loadConfig();
  apiInput.value = typeof config.api === "string" ? config.api : "";
  tokenInput.value = typeof config.token === "string" ? config.token : "";
  const configured = Boolean(apiInput.value && tokenInput.value);
  $("#connection-note").textContent = configured
    ? "from config.json"
    : "enter the API URL and a bearer token (JWT; leave empty under NONE authorization)";
  connection.open = !configured;
  document.body.dataset.ready = "true";

  const slot = limiter(FILE_CONCURRENCY);
  const rows = $("#rows");

  const addFile = (file) => {
    const row = $("#row-template").content.firstElementChild.cloneNode(true);
    const bar = row.querySelector("progress");
    const stateText = row.querySelector(".state");
    const button = row.querySelector("button.download");
    row.dataset.fileName = file.name;
    row.querySelector(".name").textContent = file.name;
    row.querySelector(".size").textContent = formatSize(file.size);
    const ui = {
      progress: (f) => { bar.value = Math.max(0, Math.min(1, f)); },
      state: (state, text) => { row.dataset.state = state; stateText.textContent = text; },
      payload: (id) => { row.dataset.payloadId = id; row.title = `payload ${id}`; },
      status: (status) => { row.dataset.status = status; },
    };
    ui.state("waiting", "waiting…");
    rows.append(row);
    // Read at the start, so a file added later uses the connection as it is then.
    slot(async () => {
      const api = new Api(apiInput.value.trim(), tokenInput.value.trim());
      const id = await uploadFile(api, file, ui);
      return { api, id };
    })
      .then(async ({ api, id }) => {
        ui.state("processing", "uploaded, waiting for the pipeline…");
        const p = await follow(api, id, ui);
        if (p.status !== "done") {
          ui.state("failed", `${p.status}${p.last_error ? `: ${p.last_error}` : ""}`);
          return;
        }
        ui.state("done", `done: payload ${id}`);
        button.hidden = false;
        button.onclick = async () => {
          button.disabled = true;
          try {
            const answer = await api.call("GET", `/payloads/${encodeURIComponent(id)}`);
            if (!answer.download) throw new UploadError(`no download available (${answer.status})`);
            // An attachment: the browser saves it and this page stays.
            window.location.assign(answer.download.url);
          } catch (e) {
            stateText.textContent = `download: ${e.message}`;
          } finally {
            button.disabled = false;
          }
        };
      })
      .catch((e) => {
        ui.state("error", e instanceof UploadError ? e.message : `unexpected error: ${e}`);
      });
  };

  const input = $("#files");
  input.addEventListener("change", () => {
    for (const f of input.files) addFile(f);
    input.value = "";
  });
  const drop = $("#drop");
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    for (const f of e.dataTransfer?.files ?? []) addFile(f);
  });
  // A file dropped beside the zone must not navigate away from the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
}

if (typeof document !== "undefined" && document.querySelector("#rows")) main();
