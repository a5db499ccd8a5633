// Two browser-like flows through an Express backend that uses the SDK's middleware:
// sign up / sign in, call a protected route, refresh, sign out, and see 401.
// (A) cookie-based tokens, (B) header-based tokens. Exits non-zero on failure.
const assert = require("assert");
const express = require("express");
const st = require("supertokens-node");
const Session = require("supertokens-node/recipe/session");
const EP = require("supertokens-node/recipe/emailpassword");
const { middleware, errorHandler } = require("supertokens-node/framework/express");
const { verifySession } = require("supertokens-node/recipe/session/framework/express");

st.init({
  framework: "express",
  supertokens: { connectionURI: process.env.CORE || "http://127.0.0.1:3567", apiKey: process.env.API_KEY },
  appInfo: { appName: "t", apiDomain: "http://localhost", websiteDomain: "http://localhost", apiBasePath: "/auth" },
  recipeList: [EP.init(), Session.init()],
});

const app = express();
app.use(middleware());
app.get("/protected", verifySession(), (req, res) => res.json({ userId: req.session.getUserId() }));
app.get("/protected-db", verifySession({ checkDatabase: true }), (req, res) => res.json({ ok: true }));
app.use(errorHandler());

/** A tiny browser: a cookie jar, or header-based tokens. */
function client(base, mode) {
  const jar = new Map();
  const tokens = {};
  return async (method, path, body, useRefresh) => {
    const headers = { rid: "anti-csrf", "content-type": "application/json" };
    if (mode === "cookie") {
      headers["st-auth-mode"] = "cookie";
      const cookies = [...jar].filter(([k]) => useRefresh || k !== "sRefreshToken").map(([k, v]) => `${k}=${v}`);
      if (cookies.length) headers.cookie = cookies.join("; ");
    } else {
      headers["st-auth-mode"] = "header";
      const t = useRefresh ? tokens.refresh : tokens.access;
      if (t) headers.authorization = `Bearer ${t}`;
    }
    const res = await fetch(base + path, { method, headers, body: body && JSON.stringify(body) });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(";");
      const i = pair.indexOf("=");
      const k = pair.slice(0, i).trim(), v = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /expires=thu, 01 jan 1970/i.test(a.trim()));
      if (!v || expired) jar.delete(k); else jar.set(k, v);
    }
    const at = res.headers.get("st-access-token"), rt = res.headers.get("st-refresh-token");
    if (at !== null) tokens.access = at || undefined;
    if (rt !== null) tokens.refresh = rt || undefined;
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined, jar, tokens };
  };
}

async function flow(base, mode, signUp) {
  const c = client(base, mode);
  const email = `${mode}${Date.now()}${Math.floor(Math.random() * 1e6)}@example.com`;
  const fields = { formFields: [{ id: "email", value: email }, { id: "password", value: "abcd1234" }] };
  if (signUp) {
    const up = await c("POST", "/auth/signup", fields);
    assert.equal(up.status, 200);
    assert.equal(up.json.status, "OK", JSON.stringify(up.json));
  } else {
    await EP.signUp("public", email, "abcd1234");
    const si = await c("POST", "/auth/signin", fields);
    assert.equal(si.json.status, "OK", JSON.stringify(si.json));
  }
  const p = await c("GET", "/protected");
  assert.equal(p.status, 200);
  assert.ok(p.json.userId);
  const r = await c("POST", "/auth/session/refresh", undefined, true);
  assert.equal(r.status, 200, "refresh");
  const p2 = await c("GET", "/protected"); // the refreshed token is promoted through /verify
  assert.equal(p2.status, 200);
  assert.equal(p2.json.userId, p.json.userId);
  const d = await c("GET", "/protected-db");
  assert.equal(d.status, 200);
  const out = await c("POST", "/auth/signout");
  assert.equal(out.status, 200);
  assert.equal(out.json.status, "OK");
  const after = await c("GET", "/protected");
  assert.equal(after.status, 401, "protected route after sign-out");
  console.log("ok  ", mode, signUp ? "sign-up" : "sign-in", "flow");
}

const server = app.listen(0, "127.0.0.1", async () => {
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    await flow(base, "cookie", true);
    await flow(base, "header", false);
    console.log("ALL HTTP FLOWS OK");
    server.close();
  } catch (e) {
    console.error(e);
    process.exit(1);
  }
});
