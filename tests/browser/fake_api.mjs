// A fake claimcheck API and bucket, in memory, for a quick check of the upload page in a real
// browser without building claimcheck (node upload_page.mjs --fake DIR). It follows the
// multipart contract and is stricter than needed where a browser could go wrong:
//
// - The "bucket" listens on another port, so every PUT and GET is cross-origin as with S3: it
//   answers preflights with the bucket's CORS rule as Terraform writes it (the allowed headers
//   from infra/defaults.json; a request header outside them is refused, as S3 refuses it) and
//   exposes ETag.
// - A single PUT must carry exactly the signed headers; the body must match its length and
//   SHA-256. Parts must have the announced sizes; complete checks ETags, order and SHA-256.
// - Faults the page must survive: part 2's first URL is expired (403), part 4's first PUT fails
//   (500), and part URLs come two at a time so the page has to ask for more.
// - The API wants `Authorization: Bearer <token>` (API Gateway's 401 otherwise); the page is
//   served from the API's origin with /config.json, as local mode serves it.
import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";

const root = new URL("../../", import.meta.url);
const web = (name) => readFileSync(new URL(`web/${name}`, root));
const BUCKET_HEADERS = JSON.parse(readFileSync(new URL("infra/defaults.json", root))).bucket_cors_allowed_headers;

function listen(handler) {
  const server = http.createServer((req, res) => {
    handler(req, res).catch((e) => {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(e));
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function body(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks);
}

const sha256 = (buf) => createHash("sha256").update(buf).digest("base64");

/** Starts the fake; resolves `{apiUrl, token, stats, close()}`. */
export async function startFake({
  threshold = 5 * 1024 * 1024, partSize = 5 * 1024 * 1024, batch = 2, token = "fake-token",
  brokenPart = null, // this part number always fails (500), to see the page give up
  corsOrigins = [], // other origins allowed to call the API and the bucket (cors_allowed_origins)
} = {}) {
  const payloads = new Map();
  const stats = { partPuts: 0, partRefreshes: 0, expired403: 0, failed500: 0, aborted: 0 };
  let apiOrigin;
  let s3Origin;

  const json = (res, status, value) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(value));
  };
  const error = (res, status, code, message) => json(res, status, { error: { code, message } });
  const s3error = (res, status, code, message, cors) => {
    res.writeHead(status, { "content-type": "application/xml", ...cors });
    res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
  };

  let urlSerial = 0;
  const partUrl = (p, n) => {
    const serial = ++urlSerial;
    // Part 2's first URL is "expired".
    if (n === 2 && !p.expiredGiven) {
      p.expiredGiven = true;
      p.expiredUrls.add(serial);
    }
    return {
      part_number: n,
      url: `${s3Origin}/part/${p.id}/${n}?partNumber=${n}&uploadId=upload-${p.id}&X-Amz-Signature=${serial}`,
      headers: { "content-length": String(partBytes(p, n)) },
      size: partBytes(p, n),
    };
  };
  const partBytes = (p, n) => Math.min(n * p.partSize, p.length) - (n - 1) * p.partSize;
  const partList = (p, from) => {
    const out = [];
    for (let n = from; n <= p.partCount && out.length < batch; n++) out.push(partUrl(p, n));
    return out;
  };
  // The pipeline: pending → queued → processing → done, a second apart, once the bytes are in.
  const arrived = (p, bytes) => {
    p.object = bytes;
    if (sha256(bytes) !== p.sha256) {
      p.status = "quarantined";
      p.last_error = "the uploaded object's SHA-256 is not the announced one";
      return;
    }
    for (const [i, s] of ["queued", "processing", "done"].entries()) {
      setTimeout(() => { p.status = s; p.updated_at = Math.floor(Date.now() / 1000); }, 1000 * (i + 1));
    }
  };

  const API_HEADERS = JSON.parse(readFileSync(new URL("infra/defaults.json", root))).api_cors_allowed_headers;
  const api = await listen(async (req, res) => {
    const url = new URL(req.url, apiOrigin);
    const path = url.pathname;
    // CORS as API Gateway applies `cors_configuration`: it answers preflights itself, before
    // any authorizer, and adds Access-Control-Allow-Origin to every answer for an allowed origin.
    const origin = req.headers.origin;
    if (origin && corsOrigins.includes(origin)) {
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("vary", "Origin");
      if (req.method === "OPTIONS" && req.headers["access-control-request-method"]) {
        const asked = (req.headers["access-control-request-headers"] || "").split(",").map((h) => h.trim().toLowerCase()).filter(Boolean);
        if (!["GET", "POST", "DELETE"].includes(req.headers["access-control-request-method"]) || asked.some((h) => !API_HEADERS.includes(h))) {
          res.removeHeader("access-control-allow-origin");
          return json(res, 403, { message: "Forbidden" });
        }
        res.writeHead(204, {
          "access-control-allow-methods": "GET, POST, DELETE",
          "access-control-allow-headers": asked.join(", "), "access-control-max-age": "3600",
        });
        return res.end();
      }
    }
    if (req.method === "GET" && (path === "/" || path === "/index.html")) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      return res.end(web("index.html"));
    }
    if (req.method === "GET" && path === "/app.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
      return res.end(web("app.js"));
    }
    if (req.method === "GET" && path === "/config.json") return json(res, 200, { api: apiOrigin, token });
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { "content-type": "application/json", "www-authenticate": "Bearer" });
      return res.end('{"message":"Unauthorized"}');
    }
    let m;
    if (req.method === "POST" && path === "/uploads") {
      if (!/^application\/json/.test(req.headers["content-type"] || "")) {
        return error(res, 415, "unsupported_media_type", "the request must be application/json");
      }
      let r;
      try {
        r = JSON.parse(await body(req));
      } catch {
        return error(res, 400, "invalid_json", "the body is not JSON");
      }
      if (!Number.isInteger(r.content_length) || r.content_length < 1) {
        return error(res, 400, "invalid_content_length", "content_length must be at least 1");
      }
      if (typeof r.sha256 !== "string" || Buffer.from(r.sha256, "base64").length !== 32) {
        return error(res, 400, "invalid_sha256", "sha256 must be the base64 of 32 bytes");
      }
      if (!/^[\w.+-]+\/[\w.+-]+$/.test(r.content_type || "")) {
        return error(res, 400, "invalid_content_type", "content_type must be type/subtype");
      }
      const now = Math.floor(Date.now() / 1000);
      const p = {
        id: randomUUID(), status: "pending", length: r.content_length, sha256: r.sha256,
        contentType: r.content_type, created_at: now, updated_at: now, last_error: null,
        partSize, parts: new Map(), expiredUrls: new Set(), failedOnce: false, closed: false,
      };
      payloads.set(p.id, p);
      const expires = { expires_at: now + 900, expires_in: 900 };
      if (p.length <= threshold) {
        return json(res, 201, {
          id: p.id, method: "PUT", url: `${s3Origin}/put/${p.id}?X-Amz-Signature=x`,
          headers: {
            "content-length": String(p.length), "content-type": p.contentType,
            "if-none-match": "*", "x-amz-checksum-sha256": p.sha256,
          },
          ...expires,
        });
      }
      p.partCount = Math.ceil(p.length / partSize);
      return json(res, 201, {
        id: p.id, method: "PUT", ...expires,
        multipart: {
          upload_id: `upload-${p.id}`, part_size: partSize, part_count: p.partCount,
          parts: partList(p, 1), expires_at: now + 86400,
        },
      });
    }
    if ((m = path.match(/^\/uploads\/([^/]+)\/parts$/)) && req.method === "GET") {
      const p = payloads.get(m[1]);
      if (!p) return error(res, 404, "not_found", "no such payload");
      if (!p.partCount) return error(res, 409, "not_multipart", "a single-PUT payload");
      if (p.closed) return error(res, 409, "upload_closed", "the upload is closed");
      const from = Number(url.searchParams.get("from") ?? 1);
      if (!Number.isInteger(from) || from < 1 || from > p.partCount) {
        return error(res, 400, "invalid_part_number", "from must be a part number");
      }
      stats.partRefreshes++;
      const now = Math.floor(Date.now() / 1000);
      return json(res, 200, {
        id: p.id, upload_id: `upload-${p.id}`, part_size: p.partSize, part_count: p.partCount,
        uploaded: [...p.parts].sort(([a], [b]) => a - b)
          .map(([n, part]) => ({ part_number: n, size: part.bytes.length, etag: part.etag })),
        parts: partList(p, from), expires_at: now + 900, expires_in: 900,
      });
    }
    if ((m = path.match(/^\/uploads\/([^/]+)\/complete$/)) && req.method === "POST") {
      const p = payloads.get(m[1]);
      if (!p || !p.partCount) return error(res, 404, "not_found", "no such multipart upload");
      if (p.closed) return error(res, 409, "upload_closed", "the upload is closed");
      const { parts } = JSON.parse(await body(req));
      if (!Array.isArray(parts) || parts.length !== p.partCount || parts.some((x, i) => x.part_number !== i + 1)) {
        return error(res, 400, "invalid_parts", "parts must be 1..n, each once, in order");
      }
      for (const { part_number: n, etag } of parts) {
        const got = p.parts.get(n);
        if (!got || got.etag !== etag) return error(res, 400, "etag_mismatch", `part ${n}: ETag does not match`);
        if (got.bytes.length !== partBytes(p, n)) return error(res, 400, "part_size_mismatch", `part ${n}: wrong size`);
      }
      const whole = Buffer.concat(parts.map(({ part_number: n }) => p.parts.get(n).bytes));
      if (sha256(whole) !== p.sha256) return error(res, 400, "sha256_mismatch", "the parts' SHA-256 is not the announced one");
      p.closed = true;
      arrived(p, whole);
      return json(res, 200, { id: p.id, size: whole.length, sha256: p.sha256, status: "pending" });
    }
    if ((m = path.match(/^\/uploads\/([^/]+)$/)) && req.method === "DELETE") {
      const p = payloads.get(m[1]);
      if (!p) return error(res, 404, "not_found", "no such payload");
      if (p.closed) return error(res, 409, "upload_closed", "the upload is closed");
      p.closed = true;
      p.status = "expired";
      stats.aborted++;
      return json(res, 200, { id: p.id, status: "expired" });
    }
    if ((m = path.match(/^\/payloads\/([^/]+)$/)) && req.method === "GET") {
      const p = payloads.get(m[1]);
      if (!p) return error(res, 404, "not_found", "no such payload");
      const download = url.searchParams.get("download") !== "false" && p.status === "done"
        ? { method: "GET", url: `${s3Origin}/get/${p.id}?X-Amz-Signature=y`, expires_at: p.updated_at + 300, expires_in: 300 }
        : null;
      return json(res, 200, {
        id: p.id, status: p.status, size: p.length, content_type: p.contentType, sha256: p.sha256,
        created_at: p.created_at, updated_at: p.updated_at, last_error: p.last_error, download,
      });
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end('{"message":"Not Found"}');
  });
  apiOrigin = `http://127.0.0.1:${api.address().port}`;

  const s3 = await listen(async (req, res) => {
    const origin = req.headers.origin;
    const corsOk = origin === apiOrigin || corsOrigins.includes(origin);
    const cors = corsOk ? { "access-control-allow-origin": origin, "access-control-expose-headers": "ETag", vary: "Origin" } : {};
    if (req.method === "OPTIONS") {
      const method = req.headers["access-control-request-method"];
      const asked = (req.headers["access-control-request-headers"] || "").split(",").map((h) => h.trim().toLowerCase()).filter(Boolean);
      const refused = asked.filter((h) => !BUCKET_HEADERS.includes(h));
      if (!corsOk || !["PUT", "GET"].includes(method) || refused.length) {
        return s3error(res, 403, "AccessForbidden", `CORSResponse: not allowed (headers ${refused.join(", ") || "-"})`, {});
      }
      res.writeHead(200, {
        "access-control-allow-origin": origin, "access-control-allow-methods": "PUT, GET",
        "access-control-allow-headers": asked.join(", "), "access-control-max-age": "3600", vary: "Origin",
      });
      return res.end();
    }
    const url = new URL(req.url, s3Origin);
    let m;
    if (req.method === "PUT" && (m = url.pathname.match(/^\/put\/([^/]+)$/))) {
      const p = payloads.get(m[1]);
      const bytes = await body(req);
      if (!p || p.partCount) return s3error(res, 403, "AccessDenied", "no such upload", cors);
      const h = req.headers;
      const mismatch = [
        ["content-type", p.contentType], ["if-none-match", "*"], ["x-amz-checksum-sha256", p.sha256],
        ["content-length", String(p.length)],
      ].find(([name, want]) => h[name] !== want);
      if (mismatch) return s3error(res, 403, "SignatureDoesNotMatch", `header ${mismatch[0]} is not the signed one`, cors);
      if (p.object) return s3error(res, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", cors);
      if (sha256(bytes) !== p.sha256) return s3error(res, 400, "BadDigest", "The SHA256 you specified did not match the calculated checksum.", cors);
      arrived(p, bytes);
      res.writeHead(200, { etag: `"${createHash("md5").update(bytes).digest("hex")}"`, ...cors });
      return res.end();
    }
    if (req.method === "PUT" && (m = url.pathname.match(/^\/part\/([^/]+)\/(\d+)$/))) {
      const p = payloads.get(m[1]);
      const n = Number(m[2]);
      const bytes = await body(req);
      stats.partPuts++;
      if (!p || p.closed) return s3error(res, 404, "NoSuchUpload", "The specified upload does not exist.", cors);
      if (p.expiredUrls.has(Number(url.searchParams.get("X-Amz-Signature")))) {
        stats.expired403++;
        return s3error(res, 403, "AccessDenied", "Request has expired", cors);
      }
      if (n === brokenPart || (n === 4 && !p.failedOnce)) {
        p.failedOnce = true;
        stats.failed500++;
        return s3error(res, 500, "InternalError", "We encountered an internal error. Please try again.", cors);
      }
      if (req.headers["content-length"] !== String(partBytes(p, n)) || bytes.length !== partBytes(p, n)) {
        return s3error(res, 403, "SignatureDoesNotMatch", "content-length is not the signed one", cors);
      }
      const etag = `"${createHash("md5").update(bytes).digest("hex")}"`;
      p.parts.set(n, { bytes, etag });
      res.writeHead(200, { etag, ...cors });
      return res.end();
    }
    if (req.method === "GET" && (m = url.pathname.match(/^\/get\/([^/]+)$/))) {
      const p = payloads.get(m[1]);
      if (!p || !p.object) return s3error(res, 404, "NoSuchKey", "The specified key does not exist.", cors);
      res.writeHead(200, {
        "content-type": p.contentType, "content-length": p.object.length,
        "content-disposition": `attachment; filename="${p.id}"`, ...cors,
      });
      return res.end(p.object);
    }
    return s3error(res, 400, "InvalidRequest", "not a route of the fake bucket", cors);
  });
  s3Origin = `http://127.0.0.1:${s3.address().port}`;

  return {
    apiUrl: apiOrigin,
    token,
    stats,
    close: () => Promise.all([api, s3].map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); }))),
  };
}

// Alone: serve until interrupted, for poking at the page by hand.
if (import.meta.url === `file://${process.argv[1]}`) {
  const fake = await startFake();
  console.log(`fake claimcheck API and page: ${fake.apiUrl}/`);
}
