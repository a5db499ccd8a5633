// Sessions signed with the static key: supertokens-node 24 (unmodified) configured with
// useDynamicAccessTokenSigningKey:false accepts only `s-` key ids, so every check
// below goes through the static key that auth-core keeps in jwt_signing_keys.
// Usage: CORE="http://127.0.0.1:3567[;...]" API_KEY=... node static-key-flows.js
const assert = require("assert");
const st = require("supertokens-node");
const Session = require("supertokens-node/recipe/session");
const EP = require("supertokens-node/recipe/emailpassword");

st.init({
  supertokens: { connectionURI: process.env.CORE || "http://127.0.0.1:3567", apiKey: process.env.API_KEY },
  appInfo: { appName: "t", apiDomain: "http://localhost:3001", websiteDomain: "http://localhost:3000" },
  recipeList: [EP.init(), Session.init({ antiCsrf: "VIA_TOKEN", useDynamicAccessTokenSigningKey: false })],
});

const kid = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[0], "base64url").toString()).kid;

(async () => {
  const email = `s${Date.now()}${Math.floor(Math.random() * 1e6)}@example.com`;
  const up = await EP.signUp("public", email, "abcd1234");
  assert.equal(up.status, "OK");
  const rid = up.recipeUserId;
  const s = await Session.createNewSessionWithoutRequestResponse("public", rid, { role: "s" });
  const tok = s.getAllSessionTokensDangerously();
  const k = kid(tok.accessToken);
  assert.ok(k.startsWith("s-"), k);
  // Verified locally through the JWKS (the SDK refuses a d- key in this mode).
  const g = await Session.getSessionWithoutRequestResponse(tok.accessToken, tok.antiCsrfToken);
  assert.equal(g.getUserId(), rid.getAsString());
  assert.equal(g.getAccessTokenPayload().role, "s");
  // Refresh, then the promotion through the core: still the static key.
  const r = await Session.refreshSessionWithoutRequestResponse(tok.refreshToken, false, tok.antiCsrfToken);
  const t1 = r.getAllSessionTokensDangerously();
  assert.equal(kid(t1.accessToken), k);
  const g1 = await Session.getSessionWithoutRequestResponse(t1.accessToken, t1.antiCsrfToken);
  const t2 = g1.getAllSessionTokensDangerously();
  assert.equal(t2.accessAndFrontTokenUpdated, true);
  assert.equal(kid(t2.accessToken), k);
  await g1.mergeIntoAccessTokenPayload({ extra: 1 });
  const t3 = g1.getAllSessionTokensDangerously();
  assert.equal(kid(t3.accessToken), k);
  const g3 = await Session.getSessionWithoutRequestResponse(t3.accessToken, t3.antiCsrfToken, { checkDatabase: true });
  assert.equal(g3.getAccessTokenPayload().extra, 1);
  assert.equal(await Session.revokeSession(s.getHandle()), true);
  await assert.rejects(Session.getSessionWithoutRequestResponse(t3.accessToken, t3.antiCsrfToken, { checkDatabase: true }),
    (e) => e.type === Session.Error.UNAUTHORISED);
  await st.deleteUser(rid.getAsString());
  console.log("STATIC KEY FLOWS OK");
})().catch((e) => { console.error(e); process.exit(1); });
