// A small relying party on openid-client v6: a server-side web app that
// signs people in through Latch with the authorization code flow, PKCE
// and DPoP-bound tokens, reads userinfo, refreshes, signs out with
// RP-initiated logout, and takes back-channel logout tokens, which it
// verifies against Latch's JWKS and keeps for the tests to see.
//
// startRP({ port, issuer, clientId, clientSecret }) serves it on
// 127.0.0.1:port; run as a program it takes the same from the environment
// (RP_PORT, RP_ISSUER, RP_CLIENT_ID, RP_CLIENT_SECRET).
//
//   GET  /                     the session, as JSON in <pre id="state">
//   GET  /login                to Latch's authorization endpoint
//   GET  /cb                   the redirect URI: redeems the code
//   GET  /userinfo             Latch's userinfo for the session's token
//   POST /refresh              refreshes the session's tokens
//   GET  /logout               ends the session, then Latch's (RP-initiated)
//   GET  /logged-out           the post-logout redirect URI
//   POST /forget               ends the session here only
//   POST /backchannel-logout   the back-channel logout URI
//   GET  /backchannel-logouts  the logout tokens received, as JSON

import { createServer } from "node:http";
import { randomBytes, webcrypto } from "node:crypto";
import * as client from "openid-client";

const { subtle } = webcrypto;
const maxBody = 16 << 10;
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout";

export async function startRP({ port, issuer, clientId, clientSecret, scope = "openid profile" }) {
  const origin = `http://localhost:${port}`;
  const config = await client.discovery(
    new URL(issuer),
    clientId,
    { id_token_signed_response_alg: "ES256" },
    client.ClientSecretBasic(clientSecret),
    { execute: [client.allowInsecureRequests] },
  );
  const meta = config.serverMetadata();
  const cookieName = `rp_${clientId.replace(/[^A-Za-z0-9]/g, "_")}`;
  /** sessions by cookie value: pending sign-ins and signed-in people */
  const sessions = new Map();
  /** logout tokens received, newest last */
  const logouts = [];

  const sessionOf = (req) => {
    const cookies = Object.fromEntries((req.headers.cookie ?? "").split(";").map((c) => c.trim().split("=")));
    const id = cookies[cookieName];
    return id && sessions.has(id) ? [id, sessions.get(id)] : [null, null];
  };
  const newSession = (res, value) => {
    const id = randomBytes(16).toString("base64url");
    sessions.set(id, value);
    res.setHeader("Set-Cookie", `${cookieName}=${id}; Path=/; HttpOnly; SameSite=Lax`);
    return id;
  };
  const send = (res, status, body, type = "application/json") => {
    res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store" });
    res.end(type === "application/json" ? JSON.stringify(body) : body);
  };
  const page = (res, state) =>
    send(res, 200, `<!doctype html><title>${clientId}</title><pre id="state">${escapeHTML(JSON.stringify(state))}</pre>`, "text/html; charset=utf-8");
  const readBody = (req) =>
    new Promise((resolve, reject) => {
      let size = 0;
      const chunks = [];
      req.on("data", (c) => {
        size += c.length;
        if (size > maxBody) {
          reject(new Error("body too large"));
          req.destroy();
        } else chunks.push(c);
      });
      req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      req.on("error", reject);
    });

  // verifyLogoutToken checks a logout token as Back-Channel Logout 1.0
  // section 2.6 asks, with the keys Latch publishes.
  async function verifyLogoutToken(token) {
    const parts = token.split(".");
    if (parts.length !== 3) throw new Error("not a JWS");
    const header = JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8"));
    const claims = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    if (header.typ !== "logout+jwt" || header.alg !== "ES256") throw new Error(`header ${JSON.stringify(header)}`);
    const jwks = await (await fetch(meta.jwks_uri)).json();
    const jwk = jwks.keys.find((k) => k.kid === header.kid);
    if (!jwk) throw new Error("unknown kid");
    const key = await subtle.importKey("jwk", { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    const ok = await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, Buffer.from(parts[2], "base64url"), Buffer.from(`${parts[0]}.${parts[1]}`));
    if (!ok) throw new Error("bad signature");
    const now = Math.floor(Date.now() / 1000);
    if (claims.iss !== meta.issuer) throw new Error("iss");
    if (claims.aud !== clientId && !(Array.isArray(claims.aud) && claims.aud.includes(clientId))) throw new Error("aud");
    if (typeof claims.iat !== "number" || typeof claims.exp !== "number" || claims.exp < now - 5 || claims.exp - claims.iat > 120) throw new Error("iat/exp");
    if (!claims.jti || (!claims.sub && !claims.sid)) throw new Error("jti/sub/sid");
    if (!claims.events || typeof claims.events[backchannelEvent] !== "object") throw new Error("events");
    if ("nonce" in claims) throw new Error("nonce");
    if (logouts.some((l) => l.claims.jti === claims.jti)) throw new Error("jti replayed");
    return { header, claims };
  }

  async function handle(req, res) {
    const url = new URL(req.url, origin);
    const [sid, sess] = sessionOf(req);
    switch (`${req.method} ${url.pathname}`) {
      case "GET /":
        return page(res, sess?.tokens
          ? { signedIn: true, sub: sess.claims.sub, sid: sess.claims.sid, username: sess.claims.preferred_username ?? null, tokenType: sess.tokens.token_type }
          : { signedIn: false });
      case "GET /login": {
        const verifier = client.randomPKCECodeVerifier();
        const pending = { verifier, state: client.randomState(), nonce: client.randomNonce(), dpopKeys: await client.randomDPoPKeyPair("ES256") };
        newSession(res, { pending });
        const to = client.buildAuthorizationUrl(config, {
          redirect_uri: `${origin}/cb`,
          scope,
          code_challenge: await client.calculatePKCECodeChallenge(verifier),
          code_challenge_method: "S256",
          state: pending.state,
          nonce: pending.nonce,
        });
        res.writeHead(302, { Location: to.href });
        return res.end();
      }
      case "GET /cb": {
        if (!sess?.pending) return send(res, 400, { error: "no sign-in is under way" });
        const { pending } = sess;
        const dpop = client.getDPoPHandle(config, pending.dpopKeys);
        try {
          const tokens = await client.authorizationCodeGrant(config, url, {
            pkceCodeVerifier: pending.verifier,
            expectedState: pending.state,
            expectedNonce: pending.nonce,
            idTokenExpected: true,
          }, undefined, { DPoP: dpop });
          sessions.set(sid, { tokens, claims: tokens.claims(), dpopKeys: pending.dpopKeys, idToken: tokens.id_token });
        } catch (err) {
          sessions.delete(sid);
          return send(res, 400, { error: String(err?.error ?? err?.code ?? "sign-in failed"), error_description: String(err?.message ?? err) });
        }
        res.writeHead(303, { Location: "/" });
        return res.end();
      }
      case "GET /userinfo": {
        if (!sess?.tokens) return send(res, 401, { error: "signed out" });
        const dpop = client.getDPoPHandle(config, sess.dpopKeys);
        try {
          return send(res, 200, await client.fetchUserInfo(config, sess.tokens.access_token, sess.claims.sub, { DPoP: dpop }));
        } catch (err) {
          return send(res, 502, { error: String(err?.error ?? err?.code ?? "userinfo failed"), error_description: String(err?.message ?? err) });
        }
      }
      case "POST /refresh": {
        if (!sess?.tokens) return send(res, 401, { error: "signed out" });
        const dpop = client.getDPoPHandle(config, sess.dpopKeys);
        try {
          const before = sess.tokens;
          const tokens = await client.refreshTokenGrant(config, before.refresh_token, undefined, { DPoP: dpop });
          sess.tokens = tokens;
          return send(res, 200, {
            refreshed: true,
            tokenType: tokens.token_type,
            newAccessToken: tokens.access_token !== before.access_token,
            newRefreshToken: !!tokens.refresh_token && tokens.refresh_token !== before.refresh_token,
          });
        } catch (err) {
          return send(res, 400, { error: String(err?.error ?? err?.code ?? "refresh failed"), error_description: String(err?.message ?? err) });
        }
      }
      case "GET /logout": {
        if (!sess?.tokens) {
          res.writeHead(303, { Location: "/" });
          return res.end();
        }
        const state = client.randomState();
        sessions.set(sid, { loggingOut: state });
        const to = client.buildEndSessionUrl(config, { id_token_hint: sess.idToken, post_logout_redirect_uri: `${origin}/logged-out`, state });
        res.writeHead(302, { Location: to.href });
        return res.end();
      }
      case "GET /logged-out": {
        const ok = !!sess?.loggingOut && url.searchParams.get("state") === sess.loggingOut;
        if (sid) sessions.delete(sid);
        return page(res, { signedIn: false, loggedOut: ok });
      }
      case "POST /forget":
        if (sid) sessions.delete(sid);
        return send(res, 200, { forgotten: !!sid });
      case "POST /backchannel-logout": {
        let token = "";
        try {
          if (!(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) throw new Error("not a form");
          token = new URLSearchParams(await readBody(req)).get("logout_token") ?? "";
          const { claims } = await verifyLogoutToken(token);
          let ended = 0;
          for (const [id, s] of sessions) {
            if (s.claims && (claims.sid ? s.claims.sid === claims.sid : s.claims.sub === claims.sub)) {
              sessions.delete(id);
              ended++;
            }
          }
          logouts.push({ claims, ended, at: Date.now() });
          return send(res, 200, {});
        } catch (err) {
          logouts.push({ error: String(err?.message ?? err), at: Date.now() });
          return send(res, 400, { error: "invalid_request", error_description: "logout token refused" });
        }
      }
      case "GET /backchannel-logouts":
        return send(res, 200, logouts);
    }
    return send(res, 404, { error: "not_found" });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => send(res, 500, { error: "server_error", error_description: String(err?.message ?? err) }));
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    origin,
    logouts,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function escapeHTML(s) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const env = process.env;
  await startRP({ port: Number(env.RP_PORT), issuer: env.RP_ISSUER, clientId: env.RP_CLIENT_ID, clientSecret: env.RP_CLIENT_SECRET, scope: env.RP_SCOPE });
}
