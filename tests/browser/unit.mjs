// The upload page's logic in node, no browser: SHA-256 (known vectors, every split of short
// inputs, both of sha256Blob's paths, a length past 2^32 bits) and the multipart arithmetic.
//
//   node tests/browser/unit.mjs
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Sha256, sha256Blob, partCount, partRange, apiError, base64 } from "../../web/app.js";

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const js = (...chunks) => {
  const h = new Sha256();
  for (const c of chunks) h.update(c);
  return hex(h.digest());
};
const node = (...chunks) => {
  const h = createHash("sha256");
  for (const c of chunks) h.update(c);
  return h.digest("hex");
};
let checks = 0;
const check = (name, fn) => Promise.resolve(fn()).then(() => { checks++; }, (e) => {
  console.error(`FAIL ${name}: ${e.message}`);
  process.exitCode = 1;
});

const text = (s) => new TextEncoder().encode(s);
// FIPS 180-4 / NIST CAVS examples.
const vectors = [
  ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
  ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
  ["abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"],
  ["abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"],
];

await check("known vectors", () => {
  for (const [input, digest] of vectors) {
    assert.equal(js(text(input)), digest, JSON.stringify(input));
  }
  assert.equal(js(new Uint8Array(1_000_000).fill(0x61)),
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "a million 'a'");
});

await check("every length 0..300 and every two-way split of short inputs", () => {
  for (let n = 0; n <= 300; n++) {
    const data = randomBytes(n);
    const want = node(data);
    assert.equal(js(data), want, `length ${n}`);
    if (n <= 140) {
      for (let cut = 0; cut <= n; cut++) {
        assert.equal(js(data.subarray(0, cut), data.subarray(cut)), want, `length ${n} cut ${cut}`);
      }
    }
  }
});

await check("random chunking of 1 MiB", () => {
  const data = randomBytes(1 << 20);
  const h = new Sha256();
  for (let at = 0; at < data.length;) {
    const len = Math.min(data.length - at, Math.floor(Math.random() * 5000));
    h.update(data.subarray(at, at + len));
    at += len;
  }
  assert.equal(hex(h.digest()), node(data));
});

await check("sha256Blob: WebCrypto and incremental paths agree with node", async () => {
  const data = randomBytes(3 * 1024 * 1024 + 12345);
  const want = createHash("sha256").update(data).digest("base64");
  const blob = new Blob([data]);
  assert.equal(await sha256Blob(blob), want, "WebCrypto path (below the threshold)");
  let last = 0;
  const seen = [];
  const got = await sha256Blob(blob, {
    subtleMax: 0,
    chunk: 1_000_003, // not a multiple of 64: blocks straddle chunks
    onProgress: (n) => { assert.ok(n > last); last = n; seen.push(n); },
  });
  assert.equal(got, want, "incremental path");
  assert.equal(last, data.length);
  assert.equal(seen.length, 4);
  assert.equal(await sha256Blob(new Blob([])), createHash("sha256").digest("base64"), "empty, WebCrypto");
  assert.equal(await sha256Blob(new Blob([]), { subtleMax: -1 }), createHash("sha256").digest("base64"), "empty, incremental");
});

await check("a body past 2^32 bits (520 MiB) through the incremental path", async () => {
  const block = randomBytes(8 * 1024 * 1024);
  const parts = Array.from({ length: 65 }, () => block);
  const want = createHash("sha256");
  for (const p of parts) want.update(p);
  const got = await sha256Blob(new Blob(parts), { subtleMax: 64 * 1024 * 1024 });
  assert.equal(got, want.digest("base64"));
});

await check("base64", () => {
  assert.equal(base64(text("hello")), "aGVsbG8=");
});

await check("multipart arithmetic", () => {
  const MiB = 1024 * 1024;
  assert.equal(partCount(20 * MiB, 5 * MiB), 4);
  assert.deepEqual([1, 2, 3, 4].map((n) => partRange(n, 5 * MiB, 20 * MiB)),
    [[0, 5 * MiB], [5 * MiB, 10 * MiB], [10 * MiB, 15 * MiB], [15 * MiB, 20 * MiB]]);
  assert.equal(partCount(20 * MiB + 1, 5 * MiB), 5);
  assert.deepEqual(partRange(5, 5 * MiB, 20 * MiB + 1), [20 * MiB, 20 * MiB + 1]);
  assert.equal(partCount(1, 5 * MiB), 1);
  assert.deepEqual(partRange(1, 5 * MiB, 1), [0, 1]);
  assert.equal(partCount(0, 5 * MiB), 1);
  // The spec's example: 3 parts of 16 MiB for a body just over 32 MiB.
  assert.equal(partCount(32 * MiB + 7, 16 * MiB), 3);
  // Parts tile the body exactly, every part but the last full.
  for (const [length, size] of [[100, 7], [5 * 1024 ** 3, 16 * MiB], [1, 1], [64, 64]]) {
    const count = partCount(length, size);
    let end = 0;
    for (let n = 1; n <= count; n++) {
      const [s, e] = partRange(n, size, length);
      assert.equal(s, end);
      assert.ok(e > s);
      if (n < count) assert.equal(e - s, size);
      end = e;
    }
    assert.equal(end, length);
  }
});

await check("API error bodies", () => {
  const e = apiError(400, '{"error":{"code":"invalid_content_length","message":"content_length must be at least 1"}}');
  assert.equal(e.message, "invalid_content_length: content_length must be at least 1 (HTTP 400)");
  assert.equal(e.code, "invalid_content_length");
  assert.equal(e.retry, false);
  assert.match(apiError(401, '{"message":"Unauthorized"}').message, /^Unauthorized \(HTTP 401\) — check the bearer token$/);
  assert.equal(apiError(502, "<html>").message, "HTTP 502");
  assert.equal(apiError(502, "<html>").retry, true);
});

if (process.exitCode) {
  console.error("unit checks failed");
} else {
  console.log(`upload page unit checks: ${checks} passed`);
}
