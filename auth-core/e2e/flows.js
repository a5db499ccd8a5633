// The flows of cdi.md (f) through the unmodified supertokens-node SDK against auth-core.
// Usage: CORE="http://127.0.0.1:3567[;http://127.0.0.1:3568]" API_KEY=... node flows.js
// Exits non-zero on the first failure.
const assert = require("assert");
const st = require("supertokens-node");
const Session = require("supertokens-node/recipe/session");
const EP = require("supertokens-node/recipe/emailpassword");
const EV = require("supertokens-node/recipe/emailverification");
const MT = require("supertokens-node/recipe/multitenancy");
const TP = require("supertokens-node/recipe/thirdparty");
const PL = require("supertokens-node/recipe/passwordless");

st.init({
  supertokens: { connectionURI: process.env.CORE || "http://127.0.0.1:3567", apiKey: process.env.API_KEY },
  appInfo: { appName: "t", apiDomain: "http://localhost:3001", websiteDomain: "http://localhost:3000" },
  recipeList: [EP.init(), EV.init({ mode: "OPTIONAL" }), TP.init(),
    PL.init({ contactMethod: "EMAIL_OR_PHONE", flowType: "USER_INPUT_CODE_AND_MAGIC_LINK" }),
    Session.init({ antiCsrf: "VIA_TOKEN" })],
});

async function step(name, f) {
  try {
    await f();
    console.log("ok  ", name);
  } catch (e) {
    console.error("FAIL", name);
    throw e;
  }
}

(async () => {
  const T = "public", email = `u${Date.now()}${Math.floor(Math.random() * 1e6)}@example.com`;
  let rid, email2;
  // (1) EmailPassword
  await step("emailpassword", async () => {
    assert.equal((await EP.signUp(T, email, "abcd1234")).status, "OK");
    assert.equal((await EP.signUp(T, email, "abcd1234")).status, "EMAIL_ALREADY_EXISTS_ERROR");
    assert.equal((await EP.signIn(T, email, "wrong")).status, "WRONG_CREDENTIALS_ERROR");
    const si = await EP.signIn(T, email.toUpperCase(), "abcd1234");
    assert.equal(si.status, "OK");
    rid = si.recipeUserId;
    assert.equal(si.user.loginMethods[0].email, email);
    assert.equal((await EP.verifyCredentials(T, email, "abcd1234")).status, "OK");
    const rt = await EP.createResetPasswordToken(T, rid.getAsString(), email);
    assert.equal(rt.status, "OK");
    assert.equal((await EP.resetPasswordUsingToken(T, rt.token, "newpass123")).status, "OK");
    assert.equal((await EP.signIn(T, email, "newpass123")).status, "OK");
    assert.equal((await EP.consumePasswordResetToken(T, rt.token)).status, "RESET_PASSWORD_INVALID_TOKEN_ERROR");
    email2 = "x" + email;
    assert.equal((await EP.updateEmailOrPassword({ recipeUserId: rid, email: email2, password: "another123" })).status, "OK");
    assert.equal((await EP.signIn(T, email2, "another123")).status, "OK");
  });
  // (4) EmailVerification
  await step("emailverification", async () => {
    const evt = await EV.createEmailVerificationToken(T, rid, email2);
    assert.equal(evt.status, "OK");
    assert.equal((await EV.verifyEmailUsingToken(T, evt.token)).status, "OK");
    assert.equal(await EV.isEmailVerified(rid, email2), true);
    assert.equal((await EV.createEmailVerificationToken(T, rid, email2)).status, "EMAIL_ALREADY_VERIFIED_ERROR");
    await EV.revokeEmailVerificationTokens(T, rid, email2);
    await EV.unverifyEmail(rid, email2);
    assert.equal(await EV.isEmailVerified(rid, email2), false);
  });
  // (2) Session
  await step("session", async () => {
    const s = await Session.createNewSessionWithoutRequestResponse(T, rid, { role: "a" }, { secret: 1 });
    const tok = s.getAllSessionTokensDangerously();
    const g = await Session.getSessionWithoutRequestResponse(tok.accessToken, tok.antiCsrfToken);
    assert.equal(g.getAccessTokenPayload().role, "a");
    assert.equal(g.getTenantId(), "public");
    assert.deepEqual((await Session.getSessionInformation(s.getHandle())).sessionDataInDatabase, { secret: 1 });
    assert.ok((await Session.getAllSessionHandlesForUser(rid.getAsString())).includes(s.getHandle()));
    assert.equal(await Session.updateSessionDataInDatabase(s.getHandle(), { secret: 2 }), true);
    assert.deepEqual((await Session.getSessionInformation(s.getHandle())).sessionDataInDatabase, { secret: 2 });
    assert.equal(await Session.mergeIntoAccessTokenPayload(s.getHandle(), { extra: true }), true);
    await g.mergeIntoAccessTokenPayload({ more: 1 });
    assert.equal(g.getAccessTokenPayload().more, 1);
    const r1 = await Session.refreshSessionWithoutRequestResponse(tok.refreshToken, false, tok.antiCsrfToken);
    const t1 = r1.getAllSessionTokensDangerously();
    const g1 = await Session.getSessionWithoutRequestResponse(t1.accessToken, t1.antiCsrfToken);
    assert.equal(g1.getAllSessionTokensDangerously().accessAndFrontTokenUpdated, true);
    const r2 = await Session.refreshSessionWithoutRequestResponse(t1.refreshToken, false, t1.antiCsrfToken);
    const t2 = r2.getAllSessionTokensDangerously();
    await Session.getSessionWithoutRequestResponse(t2.accessToken, t2.antiCsrfToken);
    await assert.rejects(Session.refreshSessionWithoutRequestResponse(tok.refreshToken, false, tok.antiCsrfToken),
      (e) => e.type === Session.Error.TOKEN_THEFT_DETECTED);
    await assert.rejects(Session.getSessionWithoutRequestResponse(t2.accessToken, "wrong-csrf"),
      (e) => e.type === Session.Error.TRY_REFRESH_TOKEN);
    assert.equal(await Session.revokeSession(s.getHandle()), true);
    assert.equal(await Session.revokeSession(s.getHandle()), false);
    const s2 = await Session.createNewSessionWithoutRequestResponse(T, rid);
    await Session.revokeAllSessionsForUser(rid.getAsString());
    assert.equal(await Session.getSessionInformation(s2.getHandle()), undefined);
    await assert.rejects(Session.getSessionWithoutRequestResponse(t1.accessToken, t1.antiCsrfToken, { checkDatabase: true }),
      (e) => e.type === Session.Error.UNAUTHORISED);
  });
  // (3) Passwordless
  await step("passwordless", async () => {
    const pe = "p" + email, c = await PL.createCode({ tenantId: T, email: pe });
    assert.equal(c.status, "OK");
    assert.equal((await PL.listCodesByEmail({ tenantId: T, email: pe })).length, 1);
    const byPre = await PL.listCodesByPreAuthSessionId({ tenantId: T, preAuthSessionId: c.preAuthSessionId });
    assert.equal(byPre.codes.length, 1);
    const byDev = await PL.listCodesByDeviceId({ tenantId: T, deviceId: c.deviceId });
    assert.equal(byDev.preAuthSessionId, c.preAuthSessionId);
    const again = await PL.createNewCodeForDevice({ tenantId: T, deviceId: c.deviceId, userInputCode: c.userInputCode });
    assert.equal(again.status, "USER_INPUT_CODE_ALREADY_USED_ERROR");
    const wrong = c.userInputCode === "000000" ? "111111" : "000000";
    const w = await PL.consumeCode({ tenantId: T, preAuthSessionId: c.preAuthSessionId, deviceId: c.deviceId, userInputCode: wrong });
    assert.equal(w.status, "INCORRECT_USER_INPUT_CODE_ERROR");
    assert.equal(w.failedCodeInputAttemptCount, 1);
    assert.equal(w.maximumCodeInputAttempts, 5);
    assert.equal((await PL.checkCode({ tenantId: T, preAuthSessionId: c.preAuthSessionId, deviceId: c.deviceId,
      userInputCode: c.userInputCode })).status, "OK");
    const ok = await PL.consumeCode({ tenantId: T, preAuthSessionId: c.preAuthSessionId, deviceId: c.deviceId, userInputCode: c.userInputCode });
    assert.equal(ok.status, "OK");
    assert.equal(ok.createdNewUser, true);
    assert.equal(ok.user.loginMethods[0].verified, true);
    assert.equal((await PL.listCodesByEmail({ tenantId: T, email: pe })).length, 0);
    const c2 = await PL.createCode({ tenantId: T, phoneNumber: "+14155552671" });
    const ok2 = await PL.consumeCode({ tenantId: T, preAuthSessionId: c2.preAuthSessionId, linkCode: c2.linkCode });
    assert.equal(ok2.status, "OK");
    assert.equal((await PL.consumeCode({ tenantId: T, preAuthSessionId: c2.preAuthSessionId, linkCode: c2.linkCode })).status, "RESTART_FLOW_ERROR");
    // Sign in again with a new code: the same user.
    const c5 = await PL.createCode({ tenantId: T, email: pe });
    const ok5 = await PL.consumeCode({ tenantId: T, preAuthSessionId: c5.preAuthSessionId, linkCode: c5.linkCode });
    assert.equal(ok5.createdNewUser, false);
    assert.equal(ok5.user.id, ok.user.id);
    // Five wrong codes restart the flow.
    const c6 = await PL.createCode({ tenantId: T, email: pe });
    for (let i = 1; i <= 4; i++) {
      const r = await PL.consumeCode({ tenantId: T, preAuthSessionId: c6.preAuthSessionId, deviceId: c6.deviceId, userInputCode: "x" + i });
      assert.equal(r.status, "INCORRECT_USER_INPUT_CODE_ERROR");
    }
    assert.equal((await PL.consumeCode({ tenantId: T, preAuthSessionId: c6.preAuthSessionId, deviceId: c6.deviceId,
      userInputCode: "x5" })).status, "RESTART_FLOW_ERROR");
    const c3 = await PL.createCode({ tenantId: T, email: pe });
    await PL.revokeCode({ tenantId: T, codeId: c3.codeId });
    assert.equal((await PL.listCodesByEmail({ tenantId: T, email: pe })).length, 0);
    const c4 = await PL.createCode({ tenantId: T, email: pe });
    await PL.revokeCode({ tenantId: T, preAuthSessionId: c4.preAuthSessionId });
    await PL.createCode({ tenantId: T, email: pe });
    await PL.revokeAllCodes({ tenantId: T, email: pe });
    assert.equal((await PL.listCodesByEmail({ tenantId: T, email: pe })).length, 0);
    // updateUser (PUT /recipe/user with rid passwordless).
    const upd = await PL.updateUser({ recipeUserId: ok2.recipeUserId, email: "q" + pe });
    assert.equal(upd.status, "OK");
    const u2 = await st.getUser(ok2.user.id);
    assert.deepEqual(u2.emails, ["q" + pe]);
    assert.deepEqual(u2.phoneNumbers, ["+14155552671"]);
    assert.equal((await PL.updateUser({ recipeUserId: ok2.recipeUserId, email: pe })).status, "EMAIL_ALREADY_EXISTS_ERROR");
    assert.equal((await PL.updateUser({ recipeUserId: ok2.recipeUserId, phoneNumber: null })).status, "OK");
    assert.deepEqual((await st.getUser(ok2.user.id)).phoneNumbers, []);
    await st.deleteUser(ok.user.id);
    await st.deleteUser(ok2.user.id);
  });
  // (6) ThirdParty
  await step("thirdparty", async () => {
    const tpId = "g-" + Math.floor(Math.random() * 1e9);
    const tp = await TP.manuallyCreateOrUpdateUser(T, "google", tpId, "tp" + email, true);
    assert.equal(tp.status, "OK");
    assert.equal(tp.createdNewRecipeUser, true);
    assert.deepEqual(tp.user.thirdParty, [{ id: "google", userId: tpId }]);
    assert.equal(tp.user.loginMethods[0].verified, true);
    const again = await TP.manuallyCreateOrUpdateUser(T, "google", tpId, "tp" + email, false);
    assert.equal(again.status, "OK");
    assert.equal(again.createdNewRecipeUser, false);
    assert.equal(again.user.id, tp.user.id);
    const by = await st.listUsersByAccountInfo(T, { thirdParty: { id: "google", userId: tpId } });
    assert.equal(by.length, 1);
    // The provider reports a new email: the core stores it.
    const moved = await TP.manuallyCreateOrUpdateUser(T, "google", tpId, "moved" + email, false);
    assert.equal(moved.status, "OK");
    assert.equal(moved.createdNewRecipeUser, false);
    assert.deepEqual(moved.user.emails, ["moved" + email]);
    assert.deepEqual((await st.getUser(tp.user.id)).loginMethods[0].email, "moved" + email);
    await st.deleteUser(tp.user.id);
  });
  // (5) Multitenancy
  await step("multitenancy", async () => {
    const t1 = "t" + Math.floor(Math.random() * 1e9);
    const c = await MT.createOrUpdateTenant(t1, { firstFactors: ["emailpassword"] });
    assert.equal(c.status, "OK");
    assert.equal(c.createdNew, true);
    assert.equal((await MT.createOrUpdateTenant(t1, { coreConfig: { a: 1 } })).createdNew, false);
    const got = await MT.getTenant(t1);
    assert.ok(got);
    assert.deepEqual(got.firstFactors, ["emailpassword"]);
    assert.equal(got.coreConfig.a, 1);
    assert.ok((await MT.listAllTenants()).tenants.length >= 2);
    assert.equal((await MT.associateUserToTenant(t1, rid)).status, "OK");
    assert.equal((await MT.associateUserToTenant(t1, rid)).wasAlreadyAssociated, true);
    const s = await Session.createNewSessionWithoutRequestResponse(t1, rid);
    assert.equal(s.getTenantId(), t1);
    const tok = s.getAllSessionTokensDangerously();
    const g = await Session.getSessionWithoutRequestResponse(tok.accessToken, tok.antiCsrfToken, { checkDatabase: true });
    assert.equal(g.getTenantId(), t1);
    assert.equal((await Session.getSessionInformation(s.getHandle())).tenantId, t1);
    assert.ok((await Session.getAllSessionHandlesForUser(rid.getAsString(), true, t1)).includes(s.getHandle()));
    assert.equal((await EP.signIn(t1, email2, "another123")).status, "OK");
    assert.equal(await st.getUserCount(undefined, t1), 1);
    await Session.revokeAllSessionsForUser(rid.getAsString(), true, t1);
    assert.equal(await Session.getSessionInformation(s.getHandle()), undefined);
    assert.equal((await MT.disassociateUserFromTenant(t1, rid)).wasAssociated, true);
    assert.equal((await EP.signIn(t1, email2, "another123")).status, "WRONG_CREDENTIALS_ERROR");
    assert.equal((await MT.deleteTenant(t1)).didExist, true);
    assert.equal(await MT.getTenant(t1), undefined);
  });
  // (7) users
  await step("users", async () => {
    assert.ok((await st.getUserCount()) >= 1);
    assert.ok((await st.getUserCount(["emailpassword"], T)) >= 1);
    const newest = await st.getUsersNewestFirst({ tenantId: T, limit: 10 });
    assert.ok(newest.users.length >= 1);
    assert.equal(newest.users[0].id, rid.getAsString());
    const oldest = await st.getUsersOldestFirst({ tenantId: T, limit: 1 });
    assert.equal(oldest.users.length, 1);
    // The dashboard's search (query: email / phone / provider tags, ';'-separated).
    const found = await st.getUsersNewestFirst({ tenantId: T, query: { email: " " + email2.toUpperCase() + ";zz" } });
    assert.deepEqual(found.users.map((x) => x.id), [rid.getAsString()]);
    assert.equal(found.nextPaginationToken, undefined);
    const byDomain = await st.getUsersOldestFirst({ tenantId: T, limit: 1, query: { email: "example.com" } });
    assert.ok(byDomain.users.some((x) => x.id === rid.getAsString()));
    assert.equal(byDomain.nextPaginationToken, undefined);
    const both = await st.getUsersNewestFirst({ tenantId: T, query: { email: email2, provider: "google" } });
    assert.deepEqual(both.users.map((x) => x.id), [rid.getAsString()]);
    assert.equal((await st.getUsersNewestFirst({ tenantId: T, query: { email: "zz" + email2 } })).users.length, 0);
    assert.equal((await st.getUsersNewestFirst({ tenantId: T, query: { provider: "no-such-provider" } })).users.length, 0);
    const u = await st.getUser(rid.getAsString());
    assert.ok(u);
    assert.deepEqual(u.emails, [email2]);
    assert.equal(u.loginMethods[0].recipeId, "emailpassword");
    const by = await st.listUsersByAccountInfo(T, { email: email2 });
    assert.equal(by.length, 1);
    await st.deleteUser(rid.getAsString());
    assert.equal(await st.getUser(rid.getAsString()), undefined);
    assert.equal((await EP.signIn(T, email2, "another123")).status, "WRONG_CREDENTIALS_ERROR");
  });
  console.log("ALL FLOWS OK");
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
