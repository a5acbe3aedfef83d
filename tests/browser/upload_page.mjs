// The upload page (web/) in a real browser against local mode: Chromium (headless, through
// playwright-core) opens the page local mode serves, uploads a 20 MiB random file (4 parts of
// 5 MiB, multipart) and a small text file, waits for both to be `done`, downloads both back and
// compares the bytes; a file dropped on the drop zone must reach `done` too, an empty file must
// show the API's error in its row, and a bad token the API's 401. The page's own incremental
// SHA-256 is checked in the browser too. Leaves a full-page screenshot in OUTDIR/upload-page.png
// (also when it fails), and local mode's output and log in OUTDIR/local.out and local.log.
// Then the deployed case: the working tree's web/ served from another origin (allowed with
// --cors-origin) with a config.json without a token; the token typed in, a 6 MiB file (2 parts)
// uploaded and downloaded across origins.
//
//   tests/with-endpoint.sh node tests/browser/upload_page.mjs PATH-TO-claimcheck OUTDIR
//   node tests/browser/upload_page.mjs --fake OUTDIR     # against fake_api.mjs, no claimcheck
//
// Needs /usr/bin/chromium and tests/browser/node_modules (tests/browser/install.sh).
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.CLAIMCHECK_CHROMIUM || "/usr/bin/chromium";
const DONE_TIMEOUT_MS = 120_000;
const MiB = 1024 * 1024;

const [target, outArg] = process.argv.slice(2);
if (!target || !outArg) {
  console.error("usage: node upload_page.mjs PATH-TO-claimcheck|--fake OUTDIR");
  process.exit(2);
}
const out = resolve(outArg);
mkdirSync(out, { recursive: true });

class Failure extends Error {}
const fail = (message) => { throw new Failure(message); };
const step = (message) => console.log(`upload page: ${message}`);

// ---- The server: claimcheck local, or the fake --------------------------------------------------

let child = null;
let fake = null;
let staticHost = null;

async function startLocal(binary, corsOrigin) {
  if (!process.env.AWS_ENDPOINT_URL) fail("AWS_ENDPOINT_URL is not set: run under tests/with-endpoint.sh");
  if (!existsSync(binary)) fail(`no claimcheck binary at ${binary}`);
  const outputs = join(out, "outputs.json");
  rmSync(outputs, { force: true }); // a previous run's would name a dead port
  const name = `claimcheck-browser-${randomBytes(4).toString("hex")}`;
  const args = [
    "local", "--name", name, "--api-authorization", "JWT",
    "--multipart-threshold", String(5 * MiB), "--part-size", String(5 * MiB),
    "--write-outputs", outputs, "--cors-origin", corsOrigin,
  ];
  // stdout carries the token: kept in OUTDIR, never printed here.
  child = spawn(binary, args, {
    stdio: ["ignore", openSync(join(out, "local.out"), "w"), openSync(join(out, "local.log"), "w")],
  });
  let exited = null;
  child.on("exit", (code, signal) => { exited = signal ?? code; });
  step(`claimcheck local --name ${name} starting`);
  const deadline = Date.now() + 90_000;
  while (!existsSync(outputs)) {
    if (exited !== null) fail(`claimcheck local exited (${exited}) before writing its outputs${logTail()}`);
    if (Date.now() > deadline) fail(`claimcheck local wrote no outputs in 90 s${logTail()}`);
    await sleep(100);
  }
  const api = JSON.parse(readFileSync(outputs, "utf8")).api_url?.value;
  if (!api) fail(`${outputs} has no api_url.value`);
  return api.replace(/\/+$/, "");
}

function logTail() {
  try {
    const lines = readFileSync(join(out, "local.log"), "utf8").trimEnd().split("\n");
    return `; the end of its log (${join(out, "local.log")}):\n  ${lines.slice(-20).join("\n  ")}`;
  } catch {
    return "";
  }
}

async function stopServer() {
  if (staticHost) {
    staticHost.server.closeAllConnections();
    staticHost.server.close();
  }
  if (fake) await fake.close();
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGINT");
  if (await Promise.race([exited.then(() => true), sleep(5000).then(() => false)])) return;
  child.kill("SIGKILL");
  await exited;
}

// ---- The files --------------------------------------------------------------------------------

function writeInput(name, bytes) {
  const path = join(out, "in", name);
  writeFileSync(path, bytes);
  return { name, path, bytes };
}

// ---- The run ------------------------------------------------------------------------------------

// The page as a deployment serves it: web/ from the working tree on a static host of its own (another
// origin than the API's), with a config.json naming the API and no token.
async function startStaticHost() {
  const web = (name) => readFileSync(new URL(`../../web/${name}`, import.meta.url));
  const files = {
    "/": ["index.html", "text/html; charset=utf-8"],
    "/index.html": ["index.html", "text/html; charset=utf-8"],
    "/app.js": ["app.js", "text/javascript; charset=utf-8"],
  };
  const host = { config: {} };
  host.server = http.createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/config.json") {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(host.config));
    }
    const file = files[path];
    if (!file) {
      res.writeHead(404);
      return res.end();
    }
    res.writeHead(200, { "content-type": file[1] });
    return res.end(web(file[0]));
  });
  await new Promise((r) => host.server.listen(0, "127.0.0.1", r));
  host.origin = `http://127.0.0.1:${host.server.address().port}`;
  return host;
}

async function run() {
  let api;
  staticHost = await startStaticHost();
  if (target === "--fake") {
    const { startFake } = await import("./fake_api.mjs");
    fake = await startFake({ corsOrigins: [staticHost.origin] });
    api = fake.apiUrl;
    step(`fake API at ${api}`);
  } else {
    api = await startLocal(resolve(target), staticHost.origin);
    step(`local mode's API at ${api}`);
  }
  staticHost.config = { api, token: null };

  mkdirSync(join(out, "in"), { recursive: true });
  mkdirSync(join(out, "downloads"), { recursive: true });
  const big = writeInput("random-20MiB.bin", randomBytes(20 * MiB));
  const small = writeInput("hello.txt", Buffer.from("Hello from the claimcheck upload page.\n", "utf8"));
  const empty = writeInput("empty.txt", Buffer.alloc(0));
  const unauthorized = writeInput("unauthorized.txt", Buffer.from("refused\n"));
  // Over the 5 MiB threshold: the multipart routes (parts, complete) through the API's CORS too.
  const crossOrigin = writeInput("cross-origin.bin", randomBytes(6 * MiB + 1));

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Chromium's sandbox cannot start as root.
    args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
  });
  let page = null;
  try {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1000, height: 700 } });
    page = await context.newPage();
    const problems = [];
    const consoleText = [];
    page.on("pageerror", (e) => problems.push(`uncaught exception in the page: ${e.message}`));
    page.on("console", (m) => consoleText.push(m.text()));
    // What the page sent where (kept here, never printed: the URLs are presigned).
    const requests = [];
    page.on("request", (r) => requests.push({ method: r.method(), url: new URL(r.url()) }));

    await page.goto(`${api}/`);
    await page.waitForSelector("body[data-ready=true]", { timeout: 15_000 });
    const token = await page.inputValue("#token");
    if (!token) fail("the page got no token from /config.json (local mode under JWT serves one)");

    // The incremental SHA-256 (files over 64 MiB) in this browser's engine, against node's.
    const hashCheck = await page.evaluate(async () => {
      const { sha256Blob } = await import("./app.js");
      const data = new Uint8Array(9 * 1024 * 1024 + 17);
      for (let i = 0; i < data.length; i++) data[i] = Math.imul(i, 2654435761) >>> 24;
      const blob = new Blob([data]);
      return {
        incremental: await sha256Blob(blob, { subtleMax: 0, chunk: 1024 * 1024 + 3 }),
        webcrypto: await sha256Blob(blob),
      };
    });
    const data = new Uint8Array(9 * MiB + 17);
    for (let i = 0; i < data.length; i++) data[i] = Math.imul(i, 2654435761) >>> 24;
    const want = createHash("sha256").update(data).digest("base64");
    if (hashCheck.incremental !== want || hashCheck.webcrypto !== want) {
      fail(`SHA-256 in the browser: incremental ${hashCheck.incremental}, WebCrypto ${hashCheck.webcrypto}, node ${want}`);
    }
    step("SHA-256 in the browser (incremental and WebCrypto) matches node's");

    const started = Date.now();
    await page.setInputFiles("#files", [big.path, small.path, empty.path]);
    // And one dropped on the drop zone, as a user drags it from a file manager.
    const dropped = { name: "dropped.txt", bytes: Buffer.from("dropped on the zone\n") };
    const transfer = await page.evaluateHandle(({ name, text }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], name, { type: "text/plain" }));
      return dt;
    }, { name: dropped.name, text: dropped.bytes.toString() });
    await page.dispatchEvent("#drop", "drop", { dataTransfer: transfer });
    const row = (name, on = page) => on.locator(`#rows li[data-file-name="${name}"]`);
    const settled = async (file, on = page) => {
      const r = row(file.name, on);
      try {
        await r.and(on.locator("[data-state=done], [data-state=error], [data-state=failed]"))
          .waitFor({ timeout: DONE_TIMEOUT_MS });
      } catch {
        fail(`${file.name}: not settled in ${DONE_TIMEOUT_MS / 1000} s (state ${await r.getAttribute("data-state")}: ${await r.locator(".state").textContent()})`);
      }
      return { state: await r.getAttribute("data-state"), text: await r.locator(".state").textContent(), id: await r.getAttribute("data-payload-id") };
    };

    // The empty file: the API refuses a zero length, and the row says so.
    const refused = await settled(empty);
    if (refused.state !== "error" || !/invalid_content_length/.test(refused.text)) {
      fail(`empty file: expected the API's invalid_content_length error in its row, got ${refused.state}: ${refused.text}`);
    }
    step(`empty file refused in its row: ${refused.text}`);

    const drop = await settled(dropped);
    if (drop.state !== "done") fail(`${dropped.name} (dropped on the zone): ${drop.state}: ${drop.text}`);
    step(`${dropped.name}, dropped on the zone, done as payload ${drop.id}`);

    const downloadAndCompare = async (file, on = page) => {
      const [download] = await Promise.all([
        on.waitForEvent("download", { timeout: 30_000 }),
        row(file.name, on).locator("button.download").click(),
      ]);
      const saved = join(out, "downloads", file.name);
      await download.saveAs(saved);
      const failure = await download.failure();
      if (failure) fail(`${file.name}: download failed: ${failure}`);
      const got = readFileSync(saved);
      if (!got.equals(file.bytes)) {
        fail(`${file.name}: downloaded ${got.length} bytes (SHA-256 ${createHash("sha256").update(got).digest("hex")}) differ from the ${file.bytes.length} uploaded (${createHash("sha256").update(file.bytes).digest("hex")})`);
      }
      step(`${file.name}: downloaded as "${download.suggestedFilename()}", ${got.length} bytes, identical`);
    };

    for (const file of [big, small]) {
      const s = await settled(file);
      if (s.state !== "done") fail(`${file.name}: ${s.state}: ${s.text}`);
      if (file === big) {
        // 20 MiB over a 5 MiB threshold: the multipart route, 4 parts, completed.
        const parts = new Set(requests
          .filter((r) => r.method === "PUT" && r.url.searchParams.get("uploadId") && r.url.searchParams.has("partNumber"))
          .map((r) => r.url.searchParams.get("partNumber")));
        const completed = requests.some((r) => r.method === "POST" && r.url.pathname.endsWith(`/uploads/${s.id}/complete`));
        if (parts.size !== 4 || !completed) {
          fail(`${file.name}: expected 4 part PUTs and a complete, saw parts ${[...parts].sort().join(",") || "none"}, complete ${completed}`);
        }
      }
      step(`${file.name} done as payload ${s.id} (${((Date.now() - started) / 1000).toFixed(1)} s after choosing the files)`);
      await downloadAndCompare(file);
    }

    // A bad token: the API's 401 in the row, nothing hangs.
    await page.evaluate(() => { document.querySelector("#connection").open = true; });
    await page.fill("#token", "not-a-valid-token");
    await page.setInputFiles("#files", [unauthorized.path]);
    const denied = await settled(unauthorized);
    if (denied.state !== "error" || !/HTTP 401/.test(denied.text)) {
      fail(`bad token: expected a 401 in the row, got ${denied.state}: ${denied.text}`);
    }
    step(`bad token refused in its row: ${denied.text}`);

    if (fake) {
      const s = fake.stats;
      if (!s.expired403 || !s.failed500 || !s.partRefreshes) fail(`the fake's faults were not all met: ${JSON.stringify(s)}`);
      step(`fake faults survived: ${JSON.stringify(s)}`);
    }

    await page.screenshot({ path: join(out, "upload-page.png"), fullPage: true });
    step(`screenshot: ${join(out, "upload-page.png")}`);

    // Deployed: the page from another origin (the API's and the bucket's CORS must allow it),
    // its config.json without a token, so the page asks for one.
    const hosted = await context.newPage();
    hosted.on("pageerror", (e) => problems.push(`uncaught exception in the page (${staticHost.origin}): ${e.message}`));
    hosted.on("console", (m) => consoleText.push(m.text()));
    await hosted.goto(`${staticHost.origin}/`);
    await hosted.waitForSelector("body[data-ready=true]", { timeout: 15_000 });
    if (!(await hosted.locator("#connection").evaluate((d) => d.open)) || (await hosted.inputValue("#token")) !== "") {
      fail("the page with a config.json without a token must open its connection settings, token empty");
    }
    await hosted.fill("#token", token);
    await hosted.setInputFiles("#files", [crossOrigin.path]);
    const hostedRow = await settled(crossOrigin, hosted);
    if (hostedRow.state !== "done") fail(`${crossOrigin.name} from ${staticHost.origin}: ${hostedRow.state}: ${hostedRow.text}`);
    step(`${crossOrigin.name} uploaded from another origin (${staticHost.origin}, the token typed in), done as payload ${hostedRow.id}`);
    await downloadAndCompare(crossOrigin, hosted);

    // The page never logs a URL or a token (the browser's own network errors carry no URL text):
    // nothing naming the token, a signature, or this machine's API and bucket.
    const leaked = consoleText.filter((t) => t.includes(token) || /X-Amz-|127\.0\.0\.1|localhost/i.test(t));
    if (leaked.length) {
      problems.push(`the console shows URLs or tokens:\n  ${leaked.map((t) => t.replaceAll(token, "<token>")).join("\n  ")}`);
    }
    if (problems.length) fail(problems.join("\n"));
  } catch (e) {
    // What the page showed when it went wrong.
    await page?.screenshot({ path: join(out, "upload-page.png"), fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await browser.close();
  }
}

let status = 0;
const interrupted = () => { stopServer().finally(() => process.exit(130)); };
process.once("SIGINT", interrupted);
process.once("SIGTERM", interrupted);
try {
  await run();
  step("passed");
} catch (e) {
  console.error(`upload page: FAILED: ${e instanceof Failure ? e.message : e.stack || e}`);
  status = 1;
} finally {
  await stopServer();
}
process.exit(status);
