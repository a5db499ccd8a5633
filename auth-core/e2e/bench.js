// Hot paths of auth-core through HTTP: sign in, session verify on the core
// (checkDatabase), refresh (with promotion, i.e. one rotation per refresh).
// The Node load generator, kept to compare with the Rust one that bench.sh uses
// (auth-core/examples/http_bench.rs, which also measures the storage floor):
// NODE=1 bash bench.sh runs both on SQLite.
// Usage: CORE=http://127.0.0.1:3567 API_KEY=... BENCH_SECONDS=5 node bench.js
// Prints one markdown row per (operation, concurrency): rps, p50, p99 (ms).
const CORE = process.env.CORE || "http://127.0.0.1:3567";
const SECONDS = Number(process.env.BENCH_SECONDS || 5);
const LEVELS = (process.env.LEVELS || "1,64").split(",").map(Number);
const LABEL = process.env.LABEL || "";
const headers = { "content-type": "application/json; charset=utf-8", "cdi-version": "5.4" };
if (process.env.API_KEY) headers["api-key"] = process.env.API_KEY;

async function call(method, path, body) {
  const r = await fetch(CORE + path, { method, headers, body: body && JSON.stringify(body) });
  const j = await r.json();
  if (r.status !== 200 || j.status !== "OK") throw new Error(`${path}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}

async function newSession(userId) {
  return call("POST", "/public/recipe/session", {
    userId, userDataInJWT: {}, userDataInDatabase: {}, enableAntiCsrf: false, useDynamicSigningKey: true,
  });
}

/** Runs `op(worker)` in `c` workers for SECONDS; returns rps, p50, p99. */
async function measure(c, makeWorker) {
  const workers = await Promise.all(Array.from({ length: c }, (_, i) => makeWorker(i)));
  const lat = [];
  const end = Date.now() + SECONDS * 1000;
  const start = process.hrtime.bigint();
  await Promise.all(workers.map(async (w) => {
    while (Date.now() < end) {
      const t = process.hrtime.bigint();
      await w();
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }));
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  return { rps: lat.length / secs, p50: q(0.5), p99: q(0.99) };
}

(async () => {
  const email = `bench${Date.now()}@example.com`;
  const up = await call("POST", "/public/recipe/signup", { email, password: "abcd1234" });
  const userId = up.recipeUserId;
  const ops = {
    "sign in": async () => async () => { await call("POST", "/public/recipe/signin", { email, password: "abcd1234" }); },
    "verify (checkDatabase)": async () => {
      const s = await newSession(userId);
      const body = { accessToken: s.accessToken.token, doAntiCsrfCheck: false, enableAntiCsrf: false, checkDatabase: true };
      return async () => { await call("POST", "/recipe/session/verify", body); };
    },
    "refresh (rotation)": async () => {
      let token = (await newSession(userId)).refreshToken.token;
      return async () => {
        const r = await call("POST", "/recipe/session/refresh", { refreshToken: token, enableAntiCsrf: false, useDynamicSigningKey: true });
        token = r.refreshToken.token;
      };
    },
  };
  const only = process.env.OPS ? process.env.OPS.split(",") : null;
  for (const [name, make] of Object.entries(ops)) {
    if (only && !only.includes(name)) continue;
    for (const c of LEVELS) {
      const m = await measure(c, make);
      console.log(`| ${LABEL} | ${name} | ${c} | ${m.rps.toFixed(0)} | ${m.p50.toFixed(2)} | ${m.p99.toFixed(2)} |`);
    }
  }
})().catch((e) => { console.error(e); process.exit(1); });
