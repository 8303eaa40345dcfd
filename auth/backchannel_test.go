package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/latchid/latch/webauthn/webauthntest"
)

// receiver is an application's back-channel logout endpoint.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	tokens []string
	// status answers the nth POST (from 1); nil answers 200.
	status func(n int) int
	// stall, when set, holds every request until it is closed.
	stall  chan struct{}
	arrive chan struct{}
	// others counts requests to any other path (a redirect's target).
	others int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, arrive: make(chan struct{}, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/bcl" {
			r.mu.Lock()
			r.others++
			r.mu.Unlock()
			return
		}
		if req.Method != "POST" || req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("logout token sent as %s %q", req.Method, req.Header.Get("Content-Type"))
		}
		if err := req.ParseForm(); err != nil || len(req.PostForm) != 1 {
			t.Errorf("logout request body: %v %v", err, req.PostForm)
		}
		r.mu.Lock()
		r.tokens = append(r.tokens, req.PostForm.Get("logout_token"))
		n, status, stall := len(r.tokens), r.status, r.stall
		r.mu.Unlock()
		r.arrive <- struct{}{}
		if stall != nil {
			select {
			case <-stall:
			case <-req.Context().Done():
			}
		}
		code := http.StatusOK
		if status != nil {
			code = status(n)
		}
		if code == http.StatusFound {
			http.Redirect(w, req, "/elsewhere", code)
			return
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) uri() string { return r.srv.URL + "/bcl" }

// wait returns the tokens once n have arrived, and fails if any more
// arrive within quiet.
func (r *receiver) wait(n int, quiet time.Duration) []string {
	r.t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-r.arrive:
		case <-time.After(5 * time.Second):
			r.mu.Lock()
			defer r.mu.Unlock()
			r.t.Fatalf("%d logout tokens arrived, want %d", len(r.tokens), n)
		}
	}
	select {
	case <-r.arrive:
		r.mu.Lock()
		defer r.mu.Unlock()
		r.t.Fatalf("more logout tokens than %d arrived: %d", n, len(r.tokens))
	case <-time.After(quiet):
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.tokens...)
}

// checkLogoutToken verifies a logout token with jwx v3 against the JWKS
// the server publishes, and its claims against Back-Channel Logout 1.0
// section 2.4.
func checkLogoutToken(t *testing.T, e *env, raw, aud, sub, sid string) {
	t.Helper()
	set, err := jwk.Parse(e.request("GET", "/.well-known/jwks.json", nil, nil).raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Parse([]byte(raw), jwt.WithKeySet(set, jws.WithRequireKid(true)), jwt.WithIssuer(testIssuer),
		jwt.WithAudience(aud), jwt.WithSubject(sub), jwt.WithClock(jwt.ClockFunc(e.clock.Now))); err != nil {
		t.Fatalf("jwx refuses the logout token: %v", err)
	}
	if h := jwtPart(t, raw, 0); h["typ"] != "logout+jwt" || h["kid"] == "" {
		t.Errorf("logout token header %v", h)
	}
	c := jwtPart(t, raw, 1)
	if c["sid"] != sid || c["sub"] != sub || c["aud"] != aud {
		t.Errorf("logout token sub/sid/aud = %v %v %v, want %s %s %s", c["sub"], c["sid"], c["aud"], sub, sid, aud)
	}
	ev, _ := c["events"].(map[string]any)
	if m, ok := ev["http://schemas.openid.net/event/backchannel-logout"].(map[string]any); !ok || len(m) != 0 || len(ev) != 1 {
		t.Errorf("events = %v", c["events"])
	}
	if _, ok := c["nonce"]; ok {
		t.Error("a logout token must not carry a nonce")
	}
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	if jti, _ := c["jti"].(string); jti == "" || iat == 0 || exp <= iat || exp-iat > 120 {
		t.Errorf("jti/iat/exp = %v %v %v", c["jti"], iat, exp)
	}
}

// bclApp is a signed-in application with a back-channel logout URI.
type bclApp struct {
	e     *env
	rp    *rp
	alice *user
	b     *browser
	tok   *response
	code  string
	f     *flow
	// sub and sid are the ID token's.
	sub, sid string
}

func newBCLApp(t *testing.T, recv *receiver, o ClientOptions) *bclApp {
	e := newEnv(t)
	e.srv.backchannel.retryBase = 20 * time.Millisecond
	if o.ID == "" {
		o.ID = "web"
	}
	o.BackchannelLogoutURI = recv.uri()
	a := &bclApp{e: e, rp: e.newRP(o), alice: e.newUser("alice", true), b: &browser{}}
	a.f = a.rp.newFlow(url.Values{"scope": {"openid offline_access"}})
	res := e.authorize(a.b, a.f)
	if res.status == 200 {
		res = e.signInThere(a.alice, a.b, requestID(t, res))
	}
	if !o.FirstParty {
		csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(res.raw))[1]
		res = e.request("POST", "/authorize/consent", url.Values{"request": {requestID(t, res)}, "decision": {"allow"}, "csrf": {csrf}}, a.b.headers(nil))
	}
	a.code = redirected(t, res, a.rp.redirect).Get("code")
	a.tok = a.rp.exchange(a.code, a.f, nil, nil)
	if a.tok.status != 200 {
		t.Fatalf("token: %d %s", a.tok.status, a.tok.raw)
	}
	idt := jwtPart(t, a.tok.str("id_token"), 1)
	a.sub, _ = idt["sub"].(string)
	a.sid, _ = idt["sid"].(string)
	if a.sid == "" || a.sid != jwtPart(t, a.alice.access, 1)["sid"] {
		t.Fatalf("the ID token's sid %q is not the provider session's", a.sid)
	}
	return a
}

// appSID is the id of the application's own session, where its tokens
// live.
func (a *bclApp) appSID(t *testing.T) string {
	sid, _ := jwtPart(t, a.tok.str("access_token"), 1)["sid"].(string)
	return sid
}

func TestBackchannelLogoutOnEverySessionEnd(t *testing.T) {
	for _, tc := range []struct {
		name       string
		firstParty bool
		end        func(t *testing.T, a *bclApp)
	}{
		{"sign-out at Latch", true, func(t *testing.T, a *bclApp) {
			if r := a.alice.call("POST", "/logout", nil); r.status != 204 {
				t.Fatalf("logout: %d %s", r.status, r.raw)
			}
		}},
		{"remote sign-out of the application's session", true, func(t *testing.T, a *bclApp) {
			if r := a.alice.call("DELETE", "/me/sessions/"+a.appSID(t), nil); r.status != 204 {
				t.Fatalf("end session: %d %s", r.status, r.raw)
			}
		}},
		{"remote sign-out of the provider session from another device", true, func(t *testing.T, a *bclApp) {
			other := a.e.newUser("alice", true)
			other.authn = a.alice.authn
			if r := other.signIn("", webauthntest.Options{}); r.status != 200 {
				t.Fatalf("second sign-in: %d", r.status)
			}
			if r := other.call("DELETE", "/me/sessions/"+a.sid, nil); r.status != 204 {
				t.Fatalf("end session: %d %s", r.status, r.raw)
			}
		}},
		{"sign out everywhere else", true, func(t *testing.T, a *bclApp) {
			if r := a.alice.call("DELETE", "/me/sessions", nil); r.status != 200 {
				t.Fatalf("end other sessions: %d %s", r.status, r.raw)
			}
		}},
		{"refresh token reuse", true, func(t *testing.T, a *bclApp) {
			rf := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.tok.str("refresh_token")}}
			if r := a.rp.exchange("", a.f, rf, nil); r.status != 200 {
				t.Fatalf("refresh: %d %s", r.status, r.raw)
			}
			expectError(t, a.rp.exchange("", a.f, rf, nil), 400, "invalid_grant")
		}},
		{"authorization code reuse", true, func(t *testing.T, a *bclApp) {
			expectError(t, a.rp.exchange(a.code, a.f, nil, nil), 400, "invalid_grant")
		}},
		{"account disabled", true, func(t *testing.T, a *bclApp) {
			if err := a.e.srv.SetDisabled(context.Background(), "alice", true); err != nil {
				t.Fatal(err)
			}
		}},
		{"account deleted", true, func(t *testing.T, a *bclApp) {
			if r := a.alice.call("DELETE", "/me", nil); r.status != 204 {
				t.Fatalf("delete: %d %s", r.status, r.raw)
			}
		}},
		{"RP-initiated logout", true, func(t *testing.T, a *bclApp) {
			r := a.e.request("GET", "/oidc/logout?"+url.Values{"id_token_hint": {a.tok.str("id_token")}}.Encode(), nil, a.b.headers(nil))
			if r.status != 200 || !strings.Contains(string(r.raw), "signed out") {
				t.Fatalf("logout: %d %s", r.status, r.raw)
			}
		}},
		{"recovery ends the other sessions", true, func(t *testing.T, a *bclApp) {
			codes := a.alice.newCodes(t)
			token := a.e.startRecovery(t, map[string]any{"username": "alice", "recovery_code": codes[0]})
			if _, r := a.e.recoverWith(t, "alice", token); r.status != 200 {
				t.Fatalf("recover: %d %s", r.status, r.raw)
			}
		}},
		{"access withdrawn from the account page", false, func(t *testing.T, a *bclApp) {
			if r := a.alice.call("DELETE", "/me/apps/web", nil); r.status != 204 {
				t.Fatalf("revoke: %d %s", r.status, r.raw)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recv := newReceiver(t)
			a := newBCLApp(t, recv, ClientOptions{FirstParty: tc.firstParty})
			tc.end(t, a)
			got := recv.wait(1, 150*time.Millisecond)
			checkLogoutToken(t, a.e, got[0], "web", a.sub, a.sid)
		})
	}
}

func TestBackchannelLogoutReachesEveryAppOfTheProviderSession(t *testing.T) {
	recv := newReceiver(t)
	a := newBCLApp(t, recv, ClientOptions{FirstParty: true})
	// A second application signed into through the same provider session,
	// without a ceremony, and one with no back-channel URI.
	two := a.e.newRP(ClientOptions{ID: "two", FirstParty: true, BackchannelLogoutURI: recv.uri()})
	f := two.newFlow(nil)
	if r := two.exchange(a.e.codeFor(two, a.alice, a.b, f), f, nil, nil); r.status != 200 {
		t.Fatal(r.status)
	}
	plain := a.e.newRP(ClientOptions{ID: "plain", FirstParty: true})
	f = plain.newFlow(nil)
	if r := plain.exchange(a.e.codeFor(plain, a.alice, a.b, f), f, nil, nil); r.status != 200 {
		t.Fatal(r.status)
	}
	if r := a.alice.call("POST", "/logout", nil); r.status != 204 {
		t.Fatal(r.status)
	}
	got := recv.wait(2, 150*time.Millisecond)
	auds := map[string]bool{}
	for _, tok := range got {
		aud, _ := jwtPart(t, tok, 1)["aud"].(string)
		auds[aud] = true
		checkLogoutToken(t, a.e, tok, aud, a.sub, a.sid)
	}
	if !auds["web"] || !auds["two"] {
		t.Fatalf("audiences %v", auds)
	}
}

func TestBackchannelLogoutRetriesAndGivesUp(t *testing.T) {
	t.Run("a 500 is retried with the same token", func(t *testing.T) {
		recv := newReceiver(t)
		recv.status = func(n int) int {
			if n == 1 {
				return 500
			}
			return 200
		}
		a := newBCLApp(t, recv, ClientOptions{FirstParty: true})
		a.alice.call("POST", "/logout", nil)
		got := recv.wait(2, 200*time.Millisecond)
		if got[0] != got[1] {
			t.Fatal("the retry sent another token")
		}
		checkLogoutToken(t, a.e, got[1], "web", a.sub, a.sid)
	})
	t.Run("a client that keeps failing is given up after five tries", func(t *testing.T) {
		recv := newReceiver(t)
		recv.status = func(int) int { return 503 }
		a := newBCLApp(t, recv, ClientOptions{FirstParty: true})
		a.alice.call("POST", "/logout", nil)
		// 20+40+80+160 ms of back-off, then nothing more.
		recv.wait(logoutTries, 800*time.Millisecond)
	})
	t.Run("a refusal (400) is not retried", func(t *testing.T) {
		recv := newReceiver(t)
		recv.status = func(int) int { return 400 }
		a := newBCLApp(t, recv, ClientOptions{FirstParty: true})
		a.alice.call("POST", "/logout", nil)
		recv.wait(1, 300*time.Millisecond)
	})
	t.Run("a redirect is not followed", func(t *testing.T) {
		recv := newReceiver(t)
		recv.status = func(int) int { return http.StatusFound }
		a := newBCLApp(t, recv, ClientOptions{FirstParty: true})
		a.alice.call("POST", "/logout", nil)
		recv.wait(1, 300*time.Millisecond)
		recv.mu.Lock()
		defer recv.mu.Unlock()
		if recv.others != 0 {
			t.Fatal("the redirect was followed")
		}
	})
}

func TestBackchannelLogoutNeverHoldsUpTheRequest(t *testing.T) {
	recv := newReceiver(t)
	recv.stall = make(chan struct{})
	defer close(recv.stall)
	a := newBCLApp(t, recv, ClientOptions{FirstParty: true})
	start := time.Now()
	if r := a.alice.call("POST", "/logout", nil); r.status != 204 {
		t.Fatal(r.status)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("sign-out took %v while the application stalled", d)
	}
	// The token is on its way, held by the stalled application.
	select {
	case <-recv.arrive:
	case <-time.After(5 * time.Second):
		t.Fatal("no logout token was sent")
	}
	// Another sign-out does not wait for it either.
	other := a.e.newUser("alice", true)
	other.authn = a.alice.authn
	other.signIn("", webauthntest.Options{})
	start = time.Now()
	if r := other.call("POST", "/logout", nil); r.status != 204 || time.Since(start) > time.Second {
		t.Fatalf("second sign-out: %d in %v", r.status, time.Since(start))
	}
}

func TestBackchannelLogoutDialsOnlyAllowedAddresses(t *testing.T) {
	for _, tc := range []struct {
		addr     string
		loopback bool
		ok       bool
	}{
		{"93.184.216.34:443", false, true},
		{"[2606:2800:220:1:248:1893:25c8:1946]:443", false, true},
		{"127.0.0.1:443", false, false},
		{"[::1]:443", false, false},
		{"10.0.0.1:443", false, false},
		{"172.16.5.4:443", false, false},
		{"192.168.1.1:443", false, false},
		{"169.254.169.254:80", false, false},
		{"100.100.100.200:80", false, false},
		{"0.0.0.0:80", false, false},
		{"[fd00:ec2::254]:80", false, false},
		{"[fe80::1]:80", false, false},
		{"[::ffff:10.0.0.1]:80", false, false},
		{"[::ffff:127.0.0.1]:80", false, false},
		{"[64:ff9b::a00:1]:80", false, false},
		{"224.0.0.1:80", false, false},
		{"[::a9fe:a9fe]:80", false, false},        // IPv4-compatible 169.254.169.254
		{"[::7f00:1]:80", false, false},           // IPv4-compatible 127.0.0.1
		{"[::ffff:0:a9fe:a9fe]:80", false, false}, // IPv4-translated
		{"[fec0::1]:80", false, false},            // site-local
		{"[2001::1]:80", false, false},            // Teredo
		{"[2001:db8::1]:80", false, false},        // documentation
		{"[100::1]:80", false, false},             // discard
		{"127.0.0.1:8080", true, true},
		{"[::1]:8080", true, true},
		{"10.0.0.1:8080", true, false},
		{"93.184.216.34:443", true, false},
		{"not-an-address", false, false},
	} {
		if err := checkDialAddress(tc.addr, tc.loopback); (err == nil) != tc.ok {
			t.Errorf("checkDialAddress(%s, loopback=%v) = %v, want ok=%v", tc.addr, tc.loopback, err, tc.ok)
		}
	}
	// At connect time: the client for public hosts does not reach a
	// loopback receiver.
	recv := newReceiver(t)
	res, err := logoutHTTPClient(false).Post(recv.uri(), "application/x-www-form-urlencoded", strings.NewReader("logout_token=x"))
	if err == nil {
		res.Body.Close()
		t.Fatal("the public client reached a loopback address")
	}
	if !errors.Is(err, errForbiddenAddress) {
		t.Fatalf("refused for another reason: %v", err)
	}
}

func TestBackchannelLogoutURIRegistration(t *testing.T) {
	e := newEnv(t)
	for uri, ok := range map[string]bool{
		"https://app.example/logout":                            true,
		"https://app.example/logout?x=1":                        true,
		"http://127.0.0.1:8080/bcl":                             true,
		"http://localhost:8080/bcl":                             true,
		"http://app.example/logout":                             false,
		"https://app.example/logout#frag":                       false,
		"https://user:pw@app.example/":                          false,
		"/logout":                                               false,
		"javascript:alert(1)":                                   false,
		"https:///nohost":                                       false,
		"https://:8443/bcl":                                     false,
		"http://LOCALHOST:8080/bcl":                             true,
		"http://localhost.:8080/bcl":                            true,
		"https://app.example/" + strings.Repeat("a", maxURILen): false,
	} {
		_, err := RegisterClient(context.Background(), e.srv.db, ClientOptions{ID: "c" + randomID(4), RedirectURIs: []string{"https://app.example/cb"}, BackchannelLogoutURI: uri}, e.clock.Now())
		if (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", uri, err, ok)
		}
	}
	// Only for an OpenID Connect client.
	if _, err := RegisterClient(context.Background(), e.srv.db, ClientOptions{ID: "intro", BackchannelLogoutURI: "https://app.example/bcl"}, e.clock.Now()); err == nil {
		t.Error("an introspection client took a back-channel logout URI")
	}
	if _, err := RegisterClient(context.Background(), e.srv.db, ClientOptions{ID: "shown", RedirectURIs: []string{"https://app.example/cb"}, BackchannelLogoutURI: "https://app.example/bcl"}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	info, err := showClient(context.Background(), e.srv.db, "shown")
	if err != nil || info.BackchannelLogoutURI != "https://app.example/bcl" {
		t.Fatalf("show: %+v %v", info, err)
	}
	// Discovery says so.
	m := e.request("GET", "/.well-known/openid-configuration", nil, nil).body
	if m["backchannel_logout_supported"] != true || m["backchannel_logout_session_supported"] != true {
		t.Fatalf("discovery: %v %v", m["backchannel_logout_supported"], m["backchannel_logout_session_supported"])
	}
}

// A client registered through the running server's admin socket takes its
// back-channel URI, shows it, and is sent logout tokens at once; so is a
// disable through the socket.
func TestBackchannelLogoutThroughTheAdminSocket(t *testing.T) {
	recv := newReceiver(t)
	e := newEnv(t, socketTest(t))
	a := e.serving()
	ctx := context.Background()
	secret, err := a.RegisterClient(ctx, ClientOptions{ID: "web", FirstParty: true, RedirectURIs: []string{"https://web.example/cb"}, BackchannelLogoutURI: recv.uri()})
	if err != nil {
		t.Fatal(err)
	}
	if info, err := a.ShowClient(ctx, "web"); err != nil || info.BackchannelLogoutURI != recv.uri() {
		t.Fatalf("show through the socket: %+v %v", info, err)
	}
	if _, err := a.RegisterClient(ctx, ClientOptions{ID: "bad", RedirectURIs: []string{"https://web.example/cb"}, BackchannelLogoutURI: "http://web.example/bcl"}); err == nil {
		t.Fatal("the socket took a plain http back-channel URI off loopback")
	}
	app := &rp{e: e, id: "web", secret: secret, redirect: "https://web.example/cb"}
	alice := e.newUser("alice", true)
	b := &browser{}
	f := app.newFlow(nil)
	tok := app.exchange(e.codeFor(app, alice, b, f), f, nil, nil)
	sid, _ := jwtPart(t, tok.str("id_token"), 1)["sid"].(string)
	if err := a.SetDisabled(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	got := recv.wait(1, 150*time.Millisecond)
	checkLogoutToken(t, e, got[0], "web", jwtPart(t, alice.access, 1)["sub"].(string), sid)
}

// The application's session keeps the sid of its provider session in the
// store: after a restart its logout token still carries it.
func TestBackchannelLogoutSIDSurvivesARestart(t *testing.T) {
	recv := newReceiver(t)
	a := newBCLApp(t, recv, ClientOptions{FirstParty: true})
	appSID := a.appSID(t)
	a.e.restart()
	a.e.srv.backchannel.retryBase = 20 * time.Millisecond
	if r := a.alice.call("DELETE", "/me/sessions/"+appSID, nil); r.status != 204 {
		t.Fatalf("end session: %d %s", r.status, r.raw)
	}
	checkLogoutToken(t, a.e, recv.wait(1, 100*time.Millisecond)[0], "web", a.sub, a.sid)
}

// TestSigningOutOfLatchSignsOutOfTheApps: ending a login session ends the
// sessions applications were signed into from it, their access tokens
// refused at once and their refresh tokens with them, except where the
// person granted offline access, which outlives the sign-out.
func TestSigningOutOfLatchSignsOutOfTheApps(t *testing.T) {
	e := newEnv(t)
	alice, b := e.newUser("alice", true), &browser{}
	type app struct {
		rp  *rp
		f   *flow
		tok *response
	}
	signInto := func(id, scope string) *app {
		a := &app{rp: e.newRP(ClientOptions{ID: id, FirstParty: true})}
		a.f = a.rp.newFlow(url.Values{"scope": {scope}})
		if a.tok = a.rp.exchange(e.codeFor(a.rp, alice, b, a.f), a.f, nil, nil); a.tok.status != 200 || a.tok.str("refresh_token") == "" {
			t.Fatalf("%s: token: %d %s", id, a.tok.status, a.tok.raw)
		}
		return a
	}
	online, offline := signInto("web", "openid profile"), signInto("sync", "openid offline_access")
	userinfo := func(a *app) int {
		return e.request("GET", "/userinfo", nil, map[string]string{"Authorization": "Bearer " + a.tok.str("access_token")}).status
	}
	refresh := func(a *app) *response {
		return a.rp.exchange("", a.f, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.tok.str("refresh_token")}}, nil)
	}
	if userinfo(online) != 200 || userinfo(offline) != 200 {
		t.Fatal("the applications' tokens do not work before the sign-out")
	}
	if r := alice.call("POST", "/logout", nil); r.status != 204 {
		t.Fatalf("logout: %d %s", r.status, r.raw)
	}
	if s := userinfo(online); s != 401 {
		t.Errorf("the signed-out application's access token: %d, want 401", s)
	}
	expectError(t, refresh(online), 400, "invalid_grant")
	if s := userinfo(offline); s != 200 {
		t.Errorf("the offline application's access token: %d, want 200", s)
	}
	if r := refresh(offline); r.status != 200 {
		t.Errorf("the offline application's refresh: %d %s", r.status, r.raw)
	}
}

// TestBackchannelLogoutAnUnresponsiveClientHoldsUpNoOther: tokens queued
// for an application that never answers take at most one worker; another
// application's token queued after them arrives at once.
func TestBackchannelLogoutAnUnresponsiveClientHoldsUpNoOther(t *testing.T) {
	stall := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(stall)
	arrived := make(chan struct{}, 1)
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { arrived <- struct{}{} }))
	defer fast.Close()
	b := newBackchannel(slog.New(slog.DiscardHandler), time.Now)
	defer b.close()
	expires := time.Now().Add(time.Minute)
	for range 3 * logoutWorkers {
		b.enqueue(&logoutDelivery{notice: logoutNotice{clientID: "down", uri: slow.URL + "/bcl"}, token: "t", expires: expires})
	}
	b.enqueue(&logoutDelivery{notice: logoutNotice{clientID: "healthy", uri: fast.URL + "/bcl"}, token: "t", expires: expires})
	select {
	case <-arrived:
	case <-time.After(logoutTimeout / 2):
		t.Fatal("a healthy application's token waited behind an unresponsive one's")
	}
}

// TestBackchannelLogoutIsNotSentForAnExpiredToken: a token whose life
// ended while it waited (a receiver down for minutes) is not sent.
func TestBackchannelLogoutIsNotSentForAnExpiredToken(t *testing.T) {
	recv := newReceiver(t)
	b := newBackchannel(slog.New(slog.DiscardHandler), time.Now)
	defer b.close()
	b.enqueue(&logoutDelivery{notice: logoutNotice{clientID: "web", uri: recv.uri()}, token: "old", expires: time.Now().Add(-time.Second)})
	b.enqueue(&logoutDelivery{notice: logoutNotice{clientID: "web", uri: recv.uri()}, token: "fresh", expires: time.Now().Add(time.Minute)})
	if got := recv.wait(1, time.Second); got[0] != "fresh" {
		t.Fatalf("sent %q", got[0])
	}
	select {
	case <-recv.arrive:
		t.Fatal("the expired token was sent too")
	case <-time.After(100 * time.Millisecond):
	}
}

// TestBackchannelLogoutIsSentOncePerSession: an application session ended
// on its own, then the sign-in it came from: its application is told the
// first time only.
func TestBackchannelLogoutIsSentOncePerSession(t *testing.T) {
	recv := newReceiver(t)
	a := newBCLApp(t, recv, ClientOptions{FirstParty: true})
	if r := a.alice.call("DELETE", "/me/sessions/"+a.appSID(t), nil); r.status != 204 {
		t.Fatal(r.status)
	}
	recv.wait(1, 150*time.Millisecond)
	if r := a.alice.call("POST", "/logout", nil); r.status != 204 {
		t.Fatal(r.status)
	}
	select {
	case <-recv.arrive:
		t.Fatal("a second logout token for an application session ended before")
	case <-time.After(300 * time.Millisecond):
	}
}

// TestAppSessionsWithoutOfflineAccessEndWithTheirSignIn: an application
// signed into late in a sign-in's life, without offline access, cannot
// refresh past the sign-in's expiry; with offline access it can.
func TestAppSessionsWithoutOfflineAccessEndWithTheirSignIn(t *testing.T) {
	e := newEnv(t)
	alice, b := e.newUser("alice", true), &browser{}
	first := e.newRP(ClientOptions{ID: "first", FirstParty: true})
	f := first.newFlow(nil)
	if r := first.exchange(e.codeFor(first, alice, b, f), f, nil, nil); r.status != 200 {
		t.Fatal(r.status)
	}
	ttl := e.srv.cfg.RefreshTTL
	e.clock.Advance(ttl * 9 / 10)
	signInto := func(id, scope string) (*rp, *flow, *response) {
		app := e.newRP(ClientOptions{ID: id, FirstParty: true})
		f := app.newFlow(url.Values{"scope": {scope}})
		tok := app.exchange(e.codeFor(app, alice, b, f), f, nil, nil)
		if tok.status != 200 || tok.str("refresh_token") == "" {
			t.Fatalf("%s: %d %s", id, tok.status, tok.raw)
		}
		return app, f, tok
	}
	online, onlineFlow, onlineTok := signInto("web", "openid profile")
	offline, offlineFlow, offlineTok := signInto("sync", "openid offline_access")
	e.clock.Advance(ttl / 2) // the sign-in has expired
	refresh := func(app *rp, f *flow, tok *response) *response {
		return app.exchange("", f, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}}, nil)
	}
	expectError(t, refresh(online, onlineFlow, onlineTok), 400, "invalid_grant")
	if r := refresh(offline, offlineFlow, offlineTok); r.status != 200 {
		t.Errorf("the offline application's refresh: %d %s", r.status, r.raw)
	}
}
