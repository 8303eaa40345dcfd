package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/tokens"
	"github.com/latchid/latch/webauthn/webauthntest"
)

// rp is a registered relying party of the tests.
type rp struct {
	e              *env
	id, secret     string
	redirect       string
	public         bool
	postLogoutBack string
}

func (e *env) newRP(o ClientOptions) *rp {
	e.t.Helper()
	if len(o.RedirectURIs) == 0 {
		o.RedirectURIs = []string{"https://" + o.ID + ".example/cb"}
	}
	secret, err := RegisterClient(context.Background(), e.srv.db, o, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	if o.IDTokenAlg == "RS256" {
		if _, err := e.srv.reloadKeys(context.Background()); err != nil {
			e.t.Fatal(err)
		}
	}
	r := &rp{e: e, id: o.ID, secret: secret, redirect: o.RedirectURIs[0], public: o.Public}
	if len(o.PostLogoutRedirectURIs) > 0 {
		r.postLogoutBack = o.PostLogoutRedirectURIs[0]
	}
	return r
}

// browser is a person's browser at the provider: its cookie.
type browser struct {
	cookie string
}

func (b *browser) headers(extra map[string]string) map[string]string {
	h := map[string]string{}
	if b != nil && b.cookie != "" {
		h["Cookie"] = b.cookie
	}
	for k, v := range extra {
		h[k] = v
	}
	return h
}

// keep takes a Set-Cookie of the provider session.
func (b *browser) keep(t testing.TB, r *response) {
	for _, sc := range r.header.Values("Set-Cookie") {
		name, rest, _ := strings.Cut(sc, "=")
		if name != "latch_session" && name != "__Host-latch_session" {
			continue
		}
		value, _, _ := strings.Cut(rest, ";")
		if value == "" {
			b.cookie = ""
		} else {
			b.cookie = name + "=" + value
		}
		return
	}
}

// flow is one authorization request of the tests.
type flow struct {
	verifier, state, nonce string
	params                 url.Values
}

func newVerifier() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (r *rp) newFlow(extra url.Values) *flow {
	f := &flow{verifier: newVerifier(), state: randomID(8), nonce: randomID(8)}
	f.params = url.Values{
		"client_id": {r.id}, "redirect_uri": {r.redirect}, "response_type": {"code"}, "scope": {"openid profile"},
		"state": {f.state}, "nonce": {f.nonce}, "code_challenge": {pkceS256(f.verifier)}, "code_challenge_method": {"S256"},
	}
	for k, v := range extra {
		if len(v) == 1 && v[0] == "" {
			f.params.Del(k)
		} else {
			f.params[k] = v
		}
	}
	return f
}

var requestIDPattern = regexp.MustCompile(`data-request="([^"]+)"`)

// requestID reads the pending request's id from a provider page.
func requestID(t testing.TB, r *response) string {
	t.Helper()
	m := requestIDPattern.FindSubmatch(r.raw)
	if m == nil {
		t.Fatalf("no pending request on the page: %d %s", r.status, r.raw)
	}
	return string(m[1])
}

// redirected checks a 303 to the client's redirect URI and returns its
// query.
func redirected(t testing.TB, r *response, redirect string) url.Values {
	t.Helper()
	if r.status != http.StatusSeeOther {
		t.Fatalf("want a redirect to the client, got %d %s", r.status, r.raw)
	}
	u, err := url.Parse(r.header.Get("Location"))
	if err != nil || !strings.HasPrefix(u.String(), redirect+"?") {
		t.Fatalf("redirect to %q, want %q", r.header.Get("Location"), redirect)
	}
	return u.Query()
}

func (e *env) authorize(b *browser, f *flow) *response {
	return e.request("GET", "/authorize?"+f.params.Encode(), nil, b.headers(nil))
}

// signInThere signs u in on the sign-in page of request id (the page's
// JavaScript does the same: Latch's own ceremony, then /authorize/session)
// and follows on to /authorize/resume.
func (e *env) signInThere(u *user, b *browser, id string) *response {
	e.t.Helper()
	if u.access == "" {
		u.signUp()
	}
	r := u.callWith("POST", "/authorize/session", map[string]any{"request": id}, nil)
	if r.status != 200 {
		e.t.Fatalf("/authorize/session: %d %s", r.status, r.raw)
	}
	b.keep(e.t, r)
	if b.cookie == "" {
		e.t.Fatal("/authorize/session set no provider session cookie")
	}
	loc, _ := url.Parse(r.str("location"))
	return e.request("GET", loc.RequestURI(), nil, b.headers(nil))
}

// callWith is call with extra headers.
func (u *user) callWith(method, path string, body any, extra map[string]string) *response {
	u.e.t.Helper()
	h := map[string]string{"Authorization": "Bearer " + u.access}
	if u.key != nil {
		h["Authorization"] = "DPoP " + u.access
		h["DPoP"] = u.key.proof(u.e.t, u.e.clock.Now(), method, path, u.access)
	}
	for k, v := range extra {
		h[k] = v
	}
	return u.e.request(method, path, body, h)
}

// exchange redeems a code at /token as the client.
func (r *rp) exchange(code string, f *flow, extra url.Values, header map[string]string) *response {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {r.redirect}, "code_verifier": {f.verifier}}
	h := map[string]string{}
	switch {
	case r.public:
		form.Set("client_id", r.id)
	case r.secret != "":
		h["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(r.id+":"+r.secret))
	}
	for k, v := range extra {
		if len(v) == 1 && v[0] == "" {
			form.Del(k)
		} else {
			form[k] = v
		}
	}
	for k, v := range header {
		h[k] = v
	}
	return r.e.request("POST", "/token", form, h)
}

// codeFor runs a whole authorization for u in b and returns the code.
func (e *env) codeFor(r *rp, u *user, b *browser, f *flow) string {
	e.t.Helper()
	res := e.authorize(b, f)
	if res.status == 200 {
		res = e.signInThere(u, b, requestID(e.t, res))
	}
	q := redirected(e.t, res, r.redirect)
	if q.Get("code") == "" {
		e.t.Fatalf("no code: %v", q)
	}
	return q.Get("code")
}

func TestOIDCDiscoveryDocumentsAgree(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RequirePAR = true })
	oidc := e.request("GET", "/.well-known/openid-configuration", nil, nil)
	oauth := e.request("GET", "/.well-known/oauth-authorization-server", nil, nil)
	if oidc.status != 200 || string(oidc.raw) != string(oauth.raw) {
		t.Fatalf("the discovery documents differ:\n%s\n%s", oidc.raw, oauth.raw)
	}
	m := oidc.body
	for k, want := range map[string]string{
		"issuer": testIssuer, "authorization_endpoint": testIssuer + "/authorize", "token_endpoint": testIssuer + "/token",
		"userinfo_endpoint": testIssuer + "/userinfo", "jwks_uri": testIssuer + "/.well-known/jwks.json",
		"pushed_authorization_request_endpoint": testIssuer + "/par", "end_session_endpoint": testIssuer + "/oidc/logout",
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %s", k, m[k], want)
		}
	}
	has := func(k string, want ...string) {
		list, _ := m[k].([]any)
		for _, w := range want {
			if !slices.Contains(list, any(w)) {
				t.Errorf("%s = %v lacks %s", k, m[k], w)
			}
		}
	}
	has("response_types_supported", "code")
	has("response_modes_supported", "query", "form_post")
	has("grant_types_supported", "authorization_code", "refresh_token")
	has("code_challenge_methods_supported", "S256")
	has("scopes_supported", "openid", "profile", "offline_access")
	has("claims_supported", "sub", "auth_time", "nonce", "amr", "acr", "sid", "at_hash", "preferred_username", "name")
	has("subject_types_supported", "public")
	has("ui_locales_supported", "en", "de")
	has("id_token_signing_alg_values_supported", "ES256", "RS256")
	has("token_endpoint_auth_methods_supported", "client_secret_basic", "client_secret_post", "private_key_jwt", "none")
	has("dpop_signing_alg_values_supported", "ES256", "EdDSA")
	if m["authorization_response_iss_parameter_supported"] != true || m["require_pushed_authorization_requests"] != true {
		t.Errorf("iss parameter / require PAR: %v %v", m["authorization_response_iss_parameter_supported"], m["require_pushed_authorization_requests"])
	}
	if list, _ := m["code_challenge_methods_supported"].([]any); len(list) != 1 {
		t.Errorf("only S256 may be offered: %v", list)
	}
}

func TestOIDCCodeFlowFirstParty(t *testing.T) {
	e := newEnv(t)
	app := e.newRP(ClientOptions{ID: "web", FirstParty: true})
	alice := e.newUser("alice", true)
	b := &browser{}
	f := app.newFlow(url.Values{"scope": {"openid profile"}})

	page := e.authorize(b, f)
	if page.status != 200 || !strings.Contains(string(page.raw), "Sign in with a passkey") || !strings.Contains(string(page.raw), "Create account with a passkey") {
		t.Fatalf("sign-in page: %d %s", page.status, page.raw)
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("the sign-in page may be framed: %q", csp)
	}
	res := e.signInThere(alice, b, requestID(t, page))
	if !strings.Contains(b.cookie, "latch_session=") {
		t.Fatalf("provider cookie: %q", b.cookie)
	}
	q := redirected(t, res, app.redirect)
	if q.Get("state") != f.state || q.Get("iss") != testIssuer || q.Get("code") == "" {
		t.Fatalf("authorization response: %v", q)
	}
	tok := app.exchange(q.Get("code"), f, nil, nil)
	if tok.status != 200 || tok.str("token_type") != "Bearer" || tok.str("refresh_token") == "" || tok.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token: %d %s", tok.status, tok.raw)
	}
	idt := tok.str("id_token")
	claims := jwtPart(t, idt, 1)
	sub := jwtPart(t, alice.access, 1)["sub"]
	sid := jwtPart(t, alice.access, 1)["sid"]
	for k, want := range map[string]any{"iss": testIssuer, "sub": sub, "aud": "web", "azp": "web", "nonce": f.nonce,
		"acr": "phr", "sid": sid, "at_hash": tokens.AtHash(tok.str("access_token")), "preferred_username": "alice", "name": "ALICE"} {
		if claims[k] != want {
			t.Errorf("ID token %s = %v, want %v", k, claims[k], want)
		}
	}
	for _, k := range []string{"exp", "iat", "auth_time"} {
		if _, ok := claims[k].(float64); !ok {
			t.Errorf("ID token lacks %s: %v", k, claims)
		}
	}
	if amr, _ := claims["amr"].([]any); len(amr) == 0 || amr[0] != "pop" {
		t.Errorf("amr = %v", claims["amr"])
	}
	if h := jwtPart(t, idt, 0); h["alg"] != "ES256" || h["typ"] != "JWT" || h["kid"] == "" {
		t.Errorf("ID token header %v", h)
	}
	// The application's access token reads /userinfo, and nothing else.
	appUser := &user{e: e, access: tok.str("access_token")}
	ui := appUser.call("GET", "/userinfo", nil)
	if ui.status != 200 || ui.str("sub") != sub || ui.str("preferred_username") != "alice" || ui.str("name") != "ALICE" {
		t.Fatalf("userinfo: %d %s", ui.status, ui.raw)
	}
	expectError(t, appUser.call("GET", "/me/credentials", nil), 401, "invalid_token")
	expectError(t, appUser.call("DELETE", "/me", nil), 401, "invalid_token")
	// Refreshing needs the client's authentication.
	rf := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}}
	expectError(t, e.request("POST", "/token", rf, nil), 400, "invalid_grant")
	basic := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("web:"+app.secret))}
	if r := e.request("POST", "/token", rf, basic); r.status != 200 || r.str("scope") != "openid profile" {
		t.Fatalf("refresh by the client: %d %s", r.status, r.raw)
	}

	// A second application sign-in needs no ceremony: straight to a code.
	f2 := app.newFlow(nil)
	redirected(t, e.authorize(b, f2), app.redirect)
	// prompt=login and an exceeded max_age ask for a new sign-in.
	e.clock.Advance(time.Second)
	if r := e.authorize(b, app.newFlow(url.Values{"prompt": {"login"}})); r.status != 200 || !strings.Contains(string(r.raw), "data-fresh") {
		t.Fatalf("prompt=login: %d %s", r.status, r.raw)
	}
	e.clock.Advance(2 * time.Minute)
	fresh := e.authorize(b, app.newFlow(url.Values{"max_age": {"60"}}))
	if fresh.status != 200 {
		t.Fatalf("max_age exceeded: %d %s", fresh.status, fresh.raw)
	}
	// The old sign-in's token is not enough for it.
	expectError(t, alice.callWith("POST", "/authorize/session", map[string]any{"request": requestID(t, fresh)}, nil), 401, CodeInsufficientAuth)
	if r := alice.signIn("", webauthntest.Options{}); r.status != 200 {
		t.Fatal(r.status)
	}
	redirected(t, e.signInThere(alice, b, requestID(t, fresh)), app.redirect)

	// Without a session, prompt=none answers login_required at the client.
	q = redirected(t, e.authorize(&browser{}, app.newFlow(url.Values{"prompt": {"none"}})), app.redirect)
	if q.Get("error") != "login_required" || q.Get("iss") != testIssuer || q.Get("state") == "" {
		t.Fatalf("prompt=none: %v", q)
	}
}

func TestOIDCProviderSessionEndsWithTheLoginSession(t *testing.T) {
	e := newEnv(t)
	app := e.newRP(ClientOptions{ID: "web", FirstParty: true})
	alice := e.newUser("alice", true)
	b := &browser{}
	e.codeFor(app, alice, b, app.newFlow(nil))
	if r := alice.call("POST", "/logout", nil); r.status != 204 {
		t.Fatal(r.status)
	}
	if r := e.authorize(b, app.newFlow(nil)); r.status != 200 || !strings.Contains(string(r.raw), "Sign in with a passkey") {
		t.Fatalf("after sign-out the provider session still signs in: %d %s", r.status, r.raw)
	}
	// A forged cookie naming a live session is refused.
	bob := e.newUser("bob", true)
	bob.signUp()
	forged := &browser{cookie: "latch_session=" + jwtPart(t, bob.access, 1)["sid"].(string) + ".AAAA"}
	if r := e.authorize(forged, app.newFlow(nil)); r.status != 200 {
		t.Fatalf("a forged provider cookie signed in: %d", r.status)
	}
	// Disabling the account ends it too.
	bb := &browser{}
	e.codeFor(app, bob, bb, app.newFlow(nil))
	if err := e.srv.SetDisabled(context.Background(), "bob", true); err != nil {
		t.Fatal(err)
	}
	if r := e.authorize(bb, app.newFlow(nil)); r.status != 200 {
		t.Fatalf("a disabled account's provider session signs in: %d", r.status)
	}
}

func TestOIDCConsent(t *testing.T) {
	e := newEnv(t)
	app := e.newRP(ClientOptions{ID: "thirdparty"})
	alice := e.newUser("alice", true)
	b := &browser{}
	f := app.newFlow(nil)
	consent := e.signInThere(alice, b, requestID(t, e.authorize(b, f)))
	body := string(consent.raw)
	if consent.status != 200 || !strings.Contains(body, ">Allow<") || !strings.Contains(body, ">Deny<") {
		t.Fatalf("consent page: %d %s", consent.status, body)
	}
	if csp := consent.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || consent.header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("the consent page may be framed: %q", csp)
	}
	id := requestID(t, consent)
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)[1]
	post := func(form url.Values, extra map[string]string) *response {
		return e.request("POST", "/authorize/consent", form, b.headers(extra))
	}
	// Consent CSRF: no token, another request's token, another site, no cookie.
	for name, r := range map[string]*response{
		"no token":       post(url.Values{"request": {id}, "decision": {"allow"}}, nil),
		"wrong token":    post(url.Values{"request": {id}, "decision": {"allow"}, "csrf": {e.srv.consentToken("other", id)}}, nil),
		"cross-site":     post(url.Values{"request": {id}, "decision": {"allow"}, "csrf": {csrf}}, map[string]string{"Origin": "https://evil.example"}),
		"cross-site-sfs": post(url.Values{"request": {id}, "decision": {"allow"}, "csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"}),
		"no cookie":      e.request("POST", "/authorize/consent", url.Values{"request": {id}, "decision": {"allow"}, "csrf": {csrf}}, nil),
	} {
		if r.status != 400 || r.header.Get("Location") != "" {
			t.Errorf("%s: consent accepted: %d %s", name, r.status, r.header.Get("Location"))
		}
	}
	// What Chromium sends for the form under Referrer-Policy: no-referrer.
	browserPost := map[string]string{"Origin": "null", "Sec-Fetch-Site": "same-origin"}
	if r := post(url.Values{"request": {id}, "decision": {"allow"}, "csrf": {csrf}}, map[string]string{"Origin": "null", "Sec-Fetch-Site": "same-site"}); r.status != 400 {
		t.Errorf("a same-site (not same-origin) post was accepted: %d", r.status)
	}
	q := redirected(t, post(url.Values{"request": {id}, "decision": {"allow"}, "csrf": {csrf}}, browserPost), app.redirect)
	if q.Get("code") == "" || q.Get("state") != f.state {
		t.Fatalf("allow: %v", q)
	}
	// Remembered: the next request goes straight to a code...
	redirected(t, e.authorize(b, app.newFlow(nil)), app.redirect)
	// ...unless it asks for more, or prompt=consent.
	if r := e.authorize(b, app.newFlow(url.Values{"scope": {"openid profile offline_access"}})); r.status != 200 || !strings.Contains(string(r.raw), "Allow") {
		t.Fatalf("more scopes without consent: %d", r.status)
	}
	again := e.authorize(b, app.newFlow(url.Values{"prompt": {"consent"}}))
	if again.status != 200 {
		t.Fatalf("prompt=consent: %d", again.status)
	}
	csrf = regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(again.raw))[1]
	q = redirected(t, post(url.Values{"request": {requestID(t, again)}, "decision": {"deny"}, "csrf": {csrf}}, nil), app.redirect)
	if q.Get("error") != "access_denied" || q.Get("iss") != testIssuer {
		t.Fatalf("deny: %v", q)
	}
	// prompt=none without a consent covering the scopes: consent_required.
	q = redirected(t, e.authorize(b, app.newFlow(url.Values{"prompt": {"none"}, "scope": {"openid offline_access"}})), app.redirect)
	if q.Get("error") != "consent_required" {
		t.Fatalf("prompt=none without consent: %v", q)
	}
	// The consent is stored per user and client.
	e.srv.db.View(context.Background(), func(tx store.Tx) error {
		c, err := tx.Consent(jwtPart(t, alice.access, 1)["sub"].(string), "thirdparty")
		if err != nil || !slices.Contains(c.Scopes, "openid") {
			t.Errorf("stored consent: %+v %v", c, err)
		}
		return nil
	})
}

func TestOIDCRedirectURIRules(t *testing.T) {
	e := newEnv(t)
	app := e.newRP(ClientOptions{ID: "native", Public: true, RedirectURIs: []string{"http://127.0.0.1/cb", "https://app.example/cb"}})
	for name, p := range map[string]url.Values{
		"unknown client":        {"client_id": {"nobody"}},
		"no redirect_uri":       {"redirect_uri": {""}},
		"other host":            {"redirect_uri": {"https://evil.example/cb"}},
		"prefix":                {"redirect_uri": {"https://app.example/cb/../evil"}},
		"longer path":           {"redirect_uri": {"https://app.example/cbx"}},
		"query added":           {"redirect_uri": {"https://app.example/cb?next=https://evil.example"}},
		"userinfo":              {"redirect_uri": {"https://app.example@evil.example/cb"}},
		"port off loopback":     {"redirect_uri": {"https://app.example:8443/cb"}},
		"localhost for 127":     {"redirect_uri": {"http://localhost:5000/cb"}},
		"loopback other path":   {"redirect_uri": {"http://127.0.0.1:5000/other"}},
		"repeated param":        {"state": {"a", "b"}},
		"bad response_type too": {"redirect_uri": {"https://evil.example/cb"}, "response_type": {"token"}},
	} {
		f := app.newFlow(p)
		r := e.authorize(nil, f)
		if r.status != 400 || r.header.Get("Location") != "" || !strings.Contains(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: want an error page, got %d %q", name, r.status, r.header.Get("Location"))
		}
	}
	// RFC 8252 section 7.3: any port of a loopback redirect URI.
	f := app.newFlow(url.Values{"redirect_uri": {"http://127.0.0.1:49152/cb"}, "prompt": {"none"}})
	q := redirected(t, e.authorize(nil, f), "http://127.0.0.1:49152/cb")
	if q.Get("error") != "login_required" {
		t.Fatalf("loopback port: %v", q)
	}
}

func TestOIDCRequestErrorsGoBackToTheClient(t *testing.T) {
	e := newEnv(t)
	app := e.newRP(ClientOptions{ID: "web"})
	for name, c := range map[string]struct {
		p    url.Values
		code string
	}{
		"no PKCE":           {url.Values{"code_challenge": {""}, "code_challenge_method": {""}}, "invalid_request"},
		"PKCE plain":        {url.Values{"code_challenge_method": {"plain"}}, "invalid_request"},
		"PKCE no method":    {url.Values{"code_challenge_method": {""}}, "invalid_request"},
		"short challenge":   {url.Values{"code_challenge": {"abc"}}, "invalid_request"},
		"implicit":          {url.Values{"response_type": {"token"}}, "unsupported_response_type"},
		"unknown scope":     {url.Values{"scope": {"openid admin"}}, "invalid_scope"},
		"no openid":         {url.Values{"scope": {"profile"}}, "invalid_scope"},
		"prompt none+login": {url.Values{"prompt": {"none login"}}, "invalid_request"},
		"bad max_age":       {url.Values{"max_age": {"-1"}}, "invalid_request"},
		"request object":    {url.Values{"request": {"eyJ.x.y"}}, "request_not_supported"},
		"bad dpop_jkt":      {url.Values{"dpop_jkt": {"nope"}}, "invalid_request"},
		"bad response_mode": {url.Values{"response_mode": {"fragment"}}, "invalid_request"},
	} {
		f := app.newFlow(c.p)
		q := redirected(t, e.authorize(nil, f), app.redirect)
		if q.Get("error") != c.code || q.Get("state") != f.state || q.Get("iss") != testIssuer || q.Get("code") != "" {
			t.Errorf("%s: %v", name, q)
		}
	}
}

func TestOIDCCodeAttacks(t *testing.T) {
	e := newEnv(t)
	app := e.newRP(ClientOptions{ID: "web", FirstParty: true})
	other := e.newRP(ClientOptions{ID: "other", FirstParty: true})
	alice := e.newUser("alice", true)
	b := &browser{}

	// PKCE: a wrong or missing verifier is refused, and leaves the code.
	f := app.newFlow(nil)
	code := e.codeFor(app, alice, b, f)
	wrong := *f
	wrong.verifier = newVerifier()
	expectError(t, app.exchange(code, &wrong, nil, nil), 400, "invalid_grant")
	expectError(t, app.exchange(code, f, url.Values{"code_verifier": {""}}, nil), 400, "invalid_request")
	expectError(t, app.exchange(code, f, url.Values{"redirect_uri": {"https://web.example/other"}}, nil), 400, "invalid_grant")
	// Code injection: another client's code.
	expectError(t, other.exchange(code, f, url.Values{"redirect_uri": {app.redirect}}, nil), 400, "invalid_grant")
	// The wrong client secret.
	expectError(t, app.exchange(code, f, nil, map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("web:nope"))}), 401, "invalid_client")
	// No client authentication at all for a confidential client.
	expectError(t, app.exchange(code, f, url.Values{"client_id": {"web"}}, map[string]string{"Authorization": ""}), 401, "invalid_client")

	first := app.exchange(code, f, nil, nil)
	if first.status != 200 {
		t.Fatalf("exchange: %d %s", first.status, first.raw)
	}
	holder := &user{e: e, access: first.str("access_token")}
	if r := holder.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatal(r.status)
	}
	// Replay: refused, and what the first use got is revoked.
	expectError(t, app.exchange(code, f, nil, nil), 400, "invalid_grant")
	expectError(t, holder.call("GET", "/userinfo", nil), 401, "invalid_token")
	basic := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("web:"+app.secret))}
	expectError(t, e.request("POST", "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.str("refresh_token")}}, basic), 400, "invalid_grant")
	// Alice's own Latch session is not touched by it.
	if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("the code replay ended the person's own session: %d", r.status)
	}

	// A code lives 60 seconds.
	f = app.newFlow(nil)
	code = e.codeFor(app, alice, b, f)
	e.clock.Advance(61 * time.Second)
	expectError(t, app.exchange(code, f, nil, nil), 400, "invalid_grant")

	// Refresh tokens only with offline_access for a third-party client.
	tp := e.newRP(ClientOptions{ID: "tp", Public: true})
	e.srv.db.Update(context.Background(), func(tx store.Tx) error {
		return tx.PutConsent(&store.Consent{UserID: jwtPart(t, alice.access, 1)["sub"].(string), ClientID: "tp", Scopes: supportedScopes, GrantedAt: e.clock.Now()})
	})
	f = tp.newFlow(nil)
	if r := tp.exchange(e.codeFor(tp, alice, b, f), f, nil, nil); r.status != 200 || r.str("refresh_token") != "" {
		t.Fatalf("refresh token without offline_access: %d %s", r.status, r.raw)
	}
	f = tp.newFlow(url.Values{"scope": {"openid offline_access"}})
	if r := tp.exchange(e.codeFor(tp, alice, b, f), f, nil, nil); r.status != 200 || r.str("refresh_token") == "" {
		t.Fatalf("no refresh token with offline_access: %d %s", r.status, r.raw)
	}
}

func TestOIDCClientAuthenticationMethods(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	b := &browser{}
	// client_secret_post.
	post := e.newRP(ClientOptions{ID: "post", FirstParty: true})
	f := post.newFlow(nil)
	code := e.codeFor(post, alice, b, f)
	if r := post.exchange(code, f, url.Values{"client_id": {"post"}, "client_secret": {post.secret}}, map[string]string{"Authorization": ""}); r.status != 200 {
		t.Fatalf("client_secret_post: %d %s", r.status, r.raw)
	}
	// A public client with a secret-less exchange; a confidential one may not pose as public.
	pub := e.newRP(ClientOptions{ID: "spa", Public: true, FirstParty: true})
	f = pub.newFlow(nil)
	if r := pub.exchange(e.codeFor(pub, alice, b, f), f, nil, nil); r.status != 200 {
		t.Fatalf("public client: %d %s", r.status, r.raw)
	}
	// private_key_jwt, each assertion once.
	key := newDPoPKey(t)
	jwks, _ := json.Marshal(map[string]any{"keys": []any{key.jwk()}})
	svc := e.newRP(ClientOptions{ID: "svc", FirstParty: true, JWKS: string(jwks)})
	assertion := func(aud string) string {
		return signJWS(t, key.priv, map[string]any{"alg": "ES256"}, map[string]any{
			"iss": "svc", "sub": "svc", "aud": aud, "jti": randomID(8), "exp": e.clock.Now().Add(time.Minute).Unix(), "iat": e.clock.Now().Unix()})
	}
	f = svc.newFlow(nil)
	code = e.codeFor(svc, alice, b, f)
	a := assertion(testIssuer + "/token")
	jwt := url.Values{"client_assertion_type": {jwtBearerAssertion}, "client_assertion": {a}}
	if r := svc.exchange(code, f, jwt, nil); r.status != 200 {
		t.Fatalf("private_key_jwt: %d %s", r.status, r.raw)
	}
	f = svc.newFlow(nil)
	code = e.codeFor(svc, alice, b, f)
	expectError(t, svc.exchange(code, f, jwt, nil), 401, "invalid_client") // the same jti again
	expectError(t, svc.exchange(code, f, url.Values{"client_assertion_type": {jwtBearerAssertion}, "client_assertion": {assertion("https://other.example/token")}}, nil), 401, "invalid_client")
	other := newDPoPKey(t)
	forged := signJWS(t, other.priv, map[string]any{"alg": "ES256"}, map[string]any{"iss": "svc", "sub": "svc", "aud": testIssuer + "/token", "jti": "x", "exp": e.clock.Now().Add(time.Minute).Unix()})
	expectError(t, svc.exchange(code, f, url.Values{"client_assertion_type": {jwtBearerAssertion}, "client_assertion": {forged}}, nil), 401, "invalid_client")
	if r := svc.exchange(code, f, url.Values{"client_assertion_type": {jwtBearerAssertion}, "client_assertion": {assertion(testIssuer)}}, nil); r.status != 200 {
		t.Fatalf("private_key_jwt with the issuer as audience: %d %s", r.status, r.raw)
	}
	// Two methods at once.
	expectError(t, post.exchange("x", post.newFlow(nil), url.Values{"client_secret": {post.secret}}, nil), 400, "invalid_request")
}

func TestOIDCDPoPBoundCode(t *testing.T) {
	e := newEnv(t)
	app := e.newRP(ClientOptions{ID: "spa", Public: true, FirstParty: true})
	alice := e.newUser("alice", true)
	b := &browser{}
	key, stranger := newDPoPKey(t), newDPoPKey(t)
	f := app.newFlow(url.Values{"dpop_jkt": {key.thumbprint()}})
	code := e.codeFor(app, alice, b, f)
	proof := func(k *dpopKey) map[string]string {
		return map[string]string{"DPoP": k.proof(t, e.clock.Now(), "POST", "/token", "")}
	}
	expectError(t, app.exchange(code, f, nil, nil), 400, "invalid_dpop_proof")
	expectError(t, app.exchange(code, f, nil, proof(stranger)), 400, "invalid_dpop_proof")
	r := app.exchange(code, f, nil, proof(key))
	if r.status != 200 || r.str("token_type") != "DPoP" {
		t.Fatalf("bound exchange: %d %s", r.status, r.raw)
	}
	if cnf, _ := jwtPart(t, r.str("access_token"), 1)["cnf"].(map[string]any); cnf["jkt"] != key.thumbprint() {
		t.Fatalf("cnf = %v", cnf)
	}
	// A proof without dpop_jkt binds the tokens too.
	f = app.newFlow(nil)
	if r := app.exchange(e.codeFor(app, alice, b, f), f, nil, proof(stranger)); r.str("token_type") != "DPoP" {
		t.Fatalf("unbound code with a proof: %s", r.raw)
	}
}

func TestOIDCPushedAuthorizationRequests(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RequirePAR = true })
	app := e.newRP(ClientOptions{ID: "web", FirstParty: true})
	other := e.newRP(ClientOptions{ID: "other", FirstParty: true})
	alice := e.newUser("alice", true)
	b := &browser{}
	basic := func(r *rp) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(r.id+":"+r.secret))}
	}
	// Without PAR, under --require-par, the client hears why.
	q := redirected(t, e.authorize(b, app.newFlow(nil)), app.redirect)
	if q.Get("error") != "invalid_request" {
		t.Fatalf("plain request under --require-par: %v", q)
	}
	f := app.newFlow(nil)
	expectError(t, e.request("POST", "/par", f.params, nil), 401, "invalid_client")
	expectError(t, e.request("POST", "/par", f.params, map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("web:wrong"))}), 401, "invalid_client")
	bad := app.newFlow(url.Values{"code_challenge_method": {"plain"}})
	expectError(t, e.request("POST", "/par", bad.params, basic(app)), 400, "invalid_request")
	par := e.request("POST", "/par", f.params, basic(app))
	if par.status != 201 || !strings.HasPrefix(par.str("request_uri"), parURNPrefix) || par.body["expires_in"] != float64(60) {
		t.Fatalf("par: %d %s", par.status, par.raw)
	}
	use := url.Values{"client_id": {"web"}, "request_uri": {par.str("request_uri")}}
	// Another client cannot use it.
	if r := e.request("GET", "/authorize?"+url.Values{"client_id": {"other"}, "request_uri": {par.str("request_uri")}}.Encode(), nil, nil); r.status != 400 {
		t.Fatalf("another client's request_uri: %d", r.status)
	}
	_ = other
	page := e.request("GET", "/authorize?"+use.Encode(), nil, b.headers(nil))
	q = redirected(t, e.signInThere(alice, b, requestID(t, page)), app.redirect)
	if q.Get("state") != f.state {
		t.Fatalf("PAR flow: %v", q)
	}
	if r := app.exchange(q.Get("code"), f, nil, nil); r.status != 200 {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	// Single use.
	if r := e.request("GET", "/authorize?"+use.Encode(), nil, b.headers(nil)); r.status != 400 || r.header.Get("Location") != "" {
		t.Fatalf("request_uri used twice: %d", r.status)
	}
	// 60 seconds.
	par = e.request("POST", "/par", app.newFlow(nil).params, basic(app))
	e.clock.Advance(61 * time.Second)
	if r := e.request("GET", "/authorize?"+url.Values{"client_id": {"web"}, "request_uri": {par.str("request_uri")}}.Encode(), nil, nil); r.status != 400 {
		t.Fatalf("expired request_uri: %d", r.status)
	}
	// A DPoP header on the PAR binds the code like dpop_jkt.
	key := newDPoPKey(t)
	f = app.newFlow(nil)
	par = e.request("POST", "/par", f.params, map[string]string{"Authorization": basic(app)["Authorization"], "DPoP": key.proof(t, e.clock.Now(), "POST", "/par", "")})
	q = redirected(t, e.request("GET", "/authorize?"+url.Values{"client_id": {"web"}, "request_uri": {par.str("request_uri")}}.Encode(), nil, b.headers(nil)), app.redirect)
	expectError(t, app.exchange(q.Get("code"), f, nil, nil), 400, "invalid_dpop_proof")
}

func TestOIDCFormPostResponse(t *testing.T) {
	e := newEnv(t)
	app := e.newRP(ClientOptions{ID: "web", FirstParty: true})
	alice := e.newUser("alice", true)
	b := &browser{}
	f := app.newFlow(url.Values{"response_mode": {"form_post"}})
	r := e.signInThere(alice, b, requestID(t, e.authorize(b, f)))
	body := string(r.raw)
	if r.status != 200 || !strings.Contains(body, `action="https://web.example/cb"`) || !strings.Contains(body, `name="code"`) ||
		!strings.Contains(body, `name="state" value="`+f.state+`"`) || !strings.Contains(body, `name="iss" value="http://localhost:8080"`) {
		t.Fatalf("form_post: %d %s", r.status, body)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://web.example") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("form_post CSP: %q", csp)
	}
	// The pages' scripts are served (script-src 'self': nothing inline).
	for _, js := range []string{"/form-post.js", "/authorize.js"} {
		if r := e.request("GET", js, nil, nil); r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/javascript") {
			t.Errorf("%s: %d %s", js, r.status, r.header.Get("Content-Type"))
		}
	}
	if strings.Contains(body, "<script>") {
		t.Fatal("an inline script on the form_post page")
	}
}

func TestOIDCRPInitiatedLogout(t *testing.T) {
	e := newEnv(t)
	app := e.newRP(ClientOptions{ID: "web", FirstParty: true, PostLogoutRedirectURIs: []string{"https://web.example/bye"}})
	alice := e.newUser("alice", true)
	b := &browser{}
	f := app.newFlow(nil)
	tok := app.exchange(e.codeFor(app, alice, b, f), f, nil, nil)
	idt := tok.str("id_token")
	// An unregistered post_logout_redirect_uri is an error page.
	r := e.request("GET", "/oidc/logout?"+url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode(), nil, b.headers(nil))
	if r.status != 400 || r.header.Get("Location") != "" {
		t.Fatalf("unregistered post-logout URI: %d %q", r.status, r.header.Get("Location"))
	}
	// Without a hint the person is asked first.
	r = e.request("GET", "/oidc/logout?"+url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {app.postLogoutBack}}.Encode(), nil, b.headers(nil))
	if r.status != 200 || !strings.Contains(string(r.raw), "Sign out of Latch?") {
		t.Fatalf("logout without a hint: %d %s", r.status, r.raw)
	}
	if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatal("asking signed the person out")
	}
	r = e.request("GET", "/oidc/logout?"+url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {app.postLogoutBack}, "state": {"s1"}}.Encode(), nil, b.headers(nil))
	if r.status != 303 || r.header.Get("Location") != "https://web.example/bye?state=s1" {
		t.Fatalf("logout: %d %q %s", r.status, r.header.Get("Location"), r.raw)
	}
	b.keep(t, r)
	if b.cookie != "" {
		t.Fatalf("the provider cookie was not cleared: %q", b.cookie)
	}
	// The Latch login session ended with it.
	expectError(t, alice.call("GET", "/userinfo", nil), 401, "invalid_token")
	if r := e.authorize(b, app.newFlow(nil)); r.status != 200 {
		t.Fatalf("signed in after logout: %d", r.status)
	}
	// A forged hint is refused.
	if r := e.request("GET", "/oidc/logout?id_token_hint="+url.QueryEscape(idt[:len(idt)-4]+"AAAA"), nil, nil); r.status != 400 {
		t.Fatalf("forged hint: %d", r.status)
	}
}

func TestOIDCRS256Client(t *testing.T) {
	e := newEnv(t)
	app := e.newRP(ClientOptions{ID: "legacy", FirstParty: true, IDTokenAlg: "RS256"})
	alice := e.newUser("alice", true)
	f := app.newFlow(nil)
	tok := app.exchange(e.codeFor(app, alice, &browser{}, f), f, nil, nil)
	if h := jwtPart(t, tok.str("id_token"), 0); h["alg"] != "RS256" {
		t.Fatalf("ID token header %v", h)
	}
	if h := jwtPart(t, tok.str("access_token"), 0); h["alg"] != "ES256" {
		t.Fatalf("the access token is signed with %v", h["alg"])
	}
	jwks := e.request("GET", "/.well-known/jwks.json", nil, nil)
	if !strings.Contains(string(jwks.raw), `"kty":"RSA"`) || strings.Contains(string(jwks.raw), `"d"`) {
		t.Fatalf("JWKS: %s", jwks.raw)
	}
	// The RSA key survives a restart and a rotation of the active key.
	if _, err := e.srv.RotateKeys(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	e.restart()
	f = app.newFlow(nil)
	tok2 := app.exchange(e.codeFor(app, alice, &browser{}, f), f, nil, nil)
	if jwtPart(t, tok2.str("id_token"), 0)["kid"] != jwtPart(t, tok.str("id_token"), 0)["kid"] {
		t.Fatal("the RSA key changed")
	}
}

func TestOIDCIntrospectionClientsUnchanged(t *testing.T) {
	e := newEnv(t)
	introspect := e.introspector()
	alice := e.newUser("alice", true)
	alice.signUp()
	if r := introspect(alice.access); r.status != 200 || r.body["active"] != true {
		t.Fatalf("introspection: %d %s", r.status, r.raw)
	}
	// An introspection client cannot start the authorization code flow.
	f := (&rp{id: "api", redirect: "https://api.example/cb"}).newFlow(nil)
	if r := e.authorize(nil, f); r.status != 400 || r.header.Get("Location") != "" {
		t.Fatalf("introspection client at /authorize: %d", r.status)
	}
}

func TestOIDCEndpointsAreRateLimitedPerAddress(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BeginRate = 1; c.PostRate = 1; c.TrustedProxies = []string{"0.0.0.0/32"} }) // bursts of 4
	app := e.newRP(ClientOptions{ID: "web"})
	// /authorize, its forms and /oidc/logout share one table: each from
	// its own address here.
	for i, ep := range []struct{ method, path string }{
		{"GET", "/authorize?" + app.newFlow(nil).params.Encode()},
		{"POST", "/par"},
		{"GET", "/oidc/logout"},
	} {
		from := map[string]string{"X-Forwarded-For": "203.0.113." + strconv.Itoa(i+1)}
		for range 4 {
			if r := e.request(ep.method, ep.path, nil, from); r.status == 429 {
				t.Fatalf("%s within the burst: %s", ep.path, r.raw)
			}
		}
		if r := e.request(ep.method, ep.path, nil, from); r.status != 429 || r.header.Get("Retry-After") == "" {
			t.Fatalf("%s past the burst: %d", ep.path, r.status)
		}
	}
}

func TestOIDCProviderCookieOverHTTPSIsHostPrefixed(t *testing.T) {
	const iss = "https://localhost:8443"
	e := newEnv(t, func(c *Config) { c.Issuer = iss; c.Origins = []string{iss} })
	app := e.newRP(ClientOptions{ID: "web", FirstParty: true})
	u := &user{e: e, name: "alice", authn: webauthntest.New("localhost", iss)}
	u.signUp()
	page := e.authorize(nil, app.newFlow(nil))
	r := u.callWith("POST", "/authorize/session", map[string]any{"request": requestID(t, page)}, nil)
	sc := r.header.Get("Set-Cookie")
	for _, want := range []string{"__Host-latch_session=", "path=/;", "secure", "httponly", "samesite=lax"} {
		if r.status != 200 || !strings.Contains(strings.ToLower(sc), strings.ToLower(want)) {
			t.Fatalf("Set-Cookie %q lacks %q (%d %s)", sc, want, r.status, r.raw)
		}
	}
	if strings.Contains(strings.ToLower(sc), "domain=") {
		t.Fatalf("a __Host- cookie must not name a domain: %q", sc)
	}
	if loc := r.str("location"); !strings.HasPrefix(loc, iss+"/authorize/resume?request=") {
		t.Fatalf("location %q", loc)
	}
}

func TestOIDCAppsWithAccessCanBeRevoked(t *testing.T) {
	e := newEnv(t)
	app := e.newRP(ClientOptions{ID: "tp"})
	alice := e.newUser("alice", true)
	b := &browser{}
	f := app.newFlow(url.Values{"scope": {"openid offline_access"}})
	consent := e.signInThere(alice, b, requestID(t, e.authorize(b, f)))
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(consent.raw))[1]
	q := redirected(t, e.request("POST", "/authorize/consent", url.Values{"request": {requestID(t, consent)}, "decision": {"allow"}, "csrf": {csrf}}, b.headers(nil)), app.redirect)
	tok := app.exchange(q.Get("code"), f, nil, nil)
	if tok.status != 200 {
		t.Fatal(tok.status)
	}
	r := alice.call("GET", "/me/apps", nil)
	var apps []appItem
	json.Unmarshal(r.raw, &apps)
	if r.status != 200 || len(apps) != 1 || apps[0].ClientID != "tp" || !slices.Contains(apps[0].Scopes, "offline_access") {
		t.Fatalf("apps: %d %s", r.status, r.raw)
	}
	if r := alice.call("DELETE", "/me/apps/tp", nil); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	// Its tokens stop working, and the next sign-in asks again.
	expectError(t, (&user{e: e, access: tok.str("access_token")}).call("GET", "/userinfo", nil), 401, "invalid_token")
	expectError(t, app.exchange("", f, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}, "client_id": {"tp"}}, nil), 400, "invalid_grant")
	if r := e.authorize(b, app.newFlow(nil)); r.status != 200 || !strings.Contains(string(r.raw), ">Allow<") {
		t.Fatalf("consent not asked again: %d", r.status)
	}
	expectError(t, alice.call("DELETE", "/me/apps/tp", nil), 404, "not_found")
	// Alice's own session is untouched.
	if r := alice.call("GET", "/me/apps", nil); r.status != 200 || string(r.raw) != "[]" {
		t.Fatalf("apps after revoke: %d %s", r.status, r.raw)
	}
}
