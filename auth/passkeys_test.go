package auth

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/webauthn/webauthntest"
)

func TestSignUpThenSignInThenUserinfo(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("Alice", false)
	r := alice.signUp()
	if r.str("token_type") != "Bearer" || r.str("refresh_token") == "" || r.str("credential_id") == "" {
		t.Fatalf("sign-up token response: %s", r.raw)
	}
	if exp, _ := r.body["expires_in"].(float64); exp != 600 {
		t.Fatalf("expires_in = %v, want 600", r.body["expires_in"])
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("token response Cache-Control = %q", cc)
	}
	h := jwtPart(t, alice.access, 0)
	if h["typ"] != "at+jwt" || h["alg"] != "ES256" || h["kid"] == nil {
		t.Fatalf("access token header: %v", h)
	}
	c := jwtPart(t, alice.access, 1)
	for _, claim := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "auth_time", "amr", "sid"} {
		if c[claim] == nil {
			t.Errorf("access token lacks %q: %v", claim, c)
		}
	}
	if c["iss"] != testIssuer || c["aud"] != testIssuer || c["cnf"] != nil {
		t.Fatalf("unexpected claims: %v", c)
	}

	info := alice.call("GET", "/userinfo", nil)
	if info.status != 200 || info.str("username") != "alice" || info.str("display_name") != "ALICE" || info.str("sub") != c["sub"] {
		t.Fatalf("userinfo: %d %s", info.status, info.raw)
	}

	for _, name := range []string{"", "ALICE"} {
		alice.access = ""
		r := alice.signIn(name, webauthntest.Options{})
		if r.status != 200 {
			t.Fatalf("sign-in (username %q): %d %s", name, r.status, r.raw)
		}
		if got := alice.call("GET", "/userinfo", nil); got.status != 200 || got.str("username") != "alice" {
			t.Fatalf("userinfo after sign-in: %d %s", got.status, got.raw)
		}
	}
	list := alice.call("GET", "/me/credentials", nil)
	var items []map[string]any
	if err := json.Unmarshal(list.raw, &items); err != nil || len(items) != 1 {
		t.Fatalf("credentials: %s", list.raw)
	}
	if items[0]["id"] != alice.credID || items[0]["name"] != "laptop" || items[0]["backup_eligible"] == nil || items[0]["aaguid"] == nil {
		t.Fatalf("credential item: %v", items[0])
	}
}

func TestRegisterBeginOptions(t *testing.T) {
	e := newEnv(t)
	r := e.request("POST", "/webauthn/register/begin", map[string]any{"username": "bob.the.builder"}, nil)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	pk := r.body["publicKey"].(map[string]any)
	sel := pk["authenticatorSelection"].(map[string]any)
	if sel["residentKey"] != "required" || sel["userVerification"] != "required" {
		t.Fatalf("authenticatorSelection: %v", sel)
	}
	if att, ok := pk["attestation"]; ok && att != "none" {
		t.Fatalf("attestation: %v", att)
	}
	var algs []float64
	for _, p := range pk["pubKeyCredParams"].([]any) {
		algs = append(algs, p.(map[string]any)["alg"].(float64))
	}
	for _, want := range []float64{-7, -8, -257} {
		found := false
		for _, a := range algs {
			found = found || a == want
		}
		if !found {
			t.Errorf("pubKeyCredParams %v lacks %v", algs, want)
		}
	}
	ch, err := b64.DecodeString(pk["challenge"].(string))
	if err != nil || len(ch) < 32 {
		t.Fatalf("challenge %v: %d bytes", err, len(ch))
	}
	userObj := pk["user"].(map[string]any)
	handle, _ := b64.DecodeString(userObj["id"].(string))
	// The username is long enough that a random handle cannot hold it by chance.
	if len(handle) < 16 || strings.Contains(string(handle), "bob.the.builder") {
		t.Fatalf("user handle must be random, got %q", handle)
	}
}

func TestRegisterBeginRejectsBadInput(t *testing.T) {
	e := newEnv(t)
	e.newUser("taken.name", false).signUp()
	cases := []struct {
		name   string
		body   any
		ctype  string
		status int
		code   string
	}{
		{"too short username", `{"username":"ab"}`, "", 400, "invalid_request"},
		{"too long username", `{"username":"` + strings.Repeat("a", 65) + `"}`, "", 400, "invalid_request"},
		{"whitespace in username", `{"username":"a b c"}`, "", 400, "invalid_request"},
		{"control character", `{"username":"abc\u0007"}`, "", 400, "invalid_request"},
		{"missing username", `{}`, "", 400, "invalid_request"},
		{"wrong type", `{"username":42}`, "", 400, "invalid_request"},
		{"unknown member", `{"username":"carol","admin":true}`, "", 400, "invalid_request"},
		{"malformed JSON", `{"username":`, "", 400, "invalid_request"},
		{"trailing data", `{"username":"carol"} {}`, "", 400, "invalid_request"},
		{"invalid UTF-8", []byte("{\"username\":\"caro\xff\"}"), "", 400, "invalid_request"},
		{"wrong content type", `{"username":"carol"}`, "text/plain", 415, "invalid_request"},
		{"taken, other case", `{"username":"TAKEN.Name"}`, "", 409, "username_taken"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.ctype != "" {
				h["Content-Type"] = tc.ctype
			}
			expectError(t, e.request("POST", "/webauthn/register/begin", tc.body, h), tc.status, tc.code)
		})
	}
}

func TestBodyOverLimitIs413(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Addr = "127.0.0.1:0" })
	if err := e.srv.Open(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, ctype string }{
		{"/webauthn/register/begin", "application/json"},
		{"/token", "application/x-www-form-urlencoded"},
	} {
		// Announce a body over the limit and send only part of it: the
		// server must answer from the headers alone (a client writing the
		// whole body could see the connection closed under it instead).
		conn, err := net.Dial("tcp", e.srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n{\"x\":\"", tc.path, tc.ctype, 70<<10)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		conn.Close()
		r := &response{status: res.StatusCode, raw: raw}
		_ = json.Unmarshal(raw, &r.body)
		expectError(t, r, 413, "invalid_request")
	}
}

func TestCompressedBodiesAreRefused(t *testing.T) {
	e := newEnv(t)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(`{"username":"` + strings.Repeat("a", 1<<20) + `"}`))
	zw.Close()
	for _, path := range []string{"/webauthn/register/begin", "/revoke"} {
		r := e.request("POST", path, buf.Bytes(), map[string]string{"Content-Encoding": "gzip"})
		expectError(t, r, 415, "invalid_request")
	}
}

func TestNormalizeUsername(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Alice", "alice"},
		{"ZOË", "zoë"},
		{"zoe\u0308", "zoë"}, // decomposed form composes under NFC
		{"a.b_c-d@e", "a.b_c-d@e"},
		{"Ünïcödé", "ünïcödé"},
	}
	for _, tc := range cases {
		got, err := NormalizeUsername(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeUsername(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"ab", "a\tb", "a/b", "名", "a\u200bbc"} {
		if _, err := NormalizeUsername(bad); err == nil {
			t.Errorf("NormalizeUsername(%q) accepted", bad)
		}
	}
}

func TestRegisterFinishFailuresChangeNothing(t *testing.T) {
	e := newEnv(t)
	u := e.newUser("dave", false)
	cer, opts := u.begin("/webauthn/register/begin", map[string]any{"username": "dave"}, nil)
	bad, err := u.authn.Create(opts, webauthntest.Options{Origin: "http://evil.example"})
	if err != nil {
		t.Fatal(err)
	}
	r := e.request("POST", "/webauthn/register/finish", map[string]any{"ceremony": cer, "credential": json.RawMessage(bad)}, nil)
	expectError(t, r, 400, "invalid_credential")
	// The failed attempt spent the ceremony but created no account.
	r = e.request("POST", "/webauthn/register/finish", map[string]any{"ceremony": cer, "credential": json.RawMessage(bad)}, nil)
	expectError(t, r, 400, "invalid_ceremony")
	u.signUp()
}

func TestSignInFailures(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", false)
	alice.signUp()
	stranger := e.newUser("stranger", false)
	stranger.authn = webauthntest.New("localhost", testOrigin)
	// The stranger holds a passkey for this RP that was never registered here.
	other := newEnv(t)
	registered := other.newUser("stranger", false)
	registered.authn = stranger.authn
	registered.signUp()

	zero := uint32(0)
	cases := []struct {
		name string
		who  *user
		opts webauthntest.Options
	}{
		{"tampered clientDataJSON", alice, webauthntest.Options{TamperClientData: true}},
		{"wrong origin", alice, webauthntest.Options{Origin: "http://localhost:9999"}},
		{"wrong RP ID hash", alice, webauthntest.Options{RPID: "example.com", CredentialID: alice.authn.CredentialIDs()[0]}},
		{"missing user verification", alice, webauthntest.Options{NoUserVerified: true}},
		{"missing user presence", alice, webauthntest.Options{NoUserPresent: true}},
		{"unknown credential", stranger, webauthntest.Options{}},
		{"counter regression", alice, webauthntest.Options{Counter: &zero}},
	}
	// Move the counter forward first so that 0 is a regression.
	if r := alice.signIn("", webauthntest.Options{}); r.status != 200 {
		t.Fatalf("sign-in: %d %s", r.status, r.raw)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.who.signIn("", tc.opts)
			expectError(t, r, 400, "invalid_credential")
		})
	}
	// The regression case rewound the authenticator's counter; an honest one
	// moves forward from where the server saw it last.
	ahead := uint32(100)
	if r := alice.signIn("", webauthntest.Options{Counter: &ahead}); r.status != 200 {
		t.Fatalf("honest sign-in after failures: %d %s", r.status, r.raw)
	}
}

// finished is one answer of finishLoginsBehindWriter.
type finished struct {
	status int
	body   string
}

// finishLoginsBehindWriter holds the store's single writer while it sends
// each body to /webauthn/login/finish, so that every finish takes its
// ceremony and verifies against the last commit before any of them can
// write. Then it runs then in the held transaction, releases the writer
// and returns the answers in the order they came.
func (e *env) finishLoginsBehindWriter(t *testing.T, bodies []map[string]any, then func(store.Tx) error) []finished {
	t.Helper()
	started, release, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	var once sync.Once
	go func() {
		held <- e.srv.db.Update(context.Background(), func(tx store.Tx) error {
			once.Do(func() { close(started) })
			<-release
			return then(tx)
		})
	}()
	<-started
	answers := make(chan finished, len(bodies))
	for _, b := range bodies {
		raw, _ := json.Marshal(b)
		go func() {
			req := httptest.NewRequest("POST", "/webauthn/login/finish", bytes.NewReader(raw))
			req.Header.Set("Content-Type", "application/json")
			res, err := e.srv.Test(req)
			if err != nil {
				answers <- finished{status: -1, body: err.Error()}
				return
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			answers <- finished{res.StatusCode, string(body)}
		}()
	}
	// The ceremonies are taken as the finishes start; verification is a
	// read that the held writer does not block.
	for deadline := time.Now().Add(10 * time.Second); e.srv.db.Stats().Pending != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the finishes never took their ceremonies")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // they verify and queue
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	out := make([]finished, len(bodies))
	for i := range out {
		out[i] = <-answers
	}
	return out
}

// TestSameCounterTwiceAtOnce races two sign-ins whose assertions carry the
// same counter. Both pass verification against the stored counter, so only
// the re-check inside the transaction that stores it can refuse the second
// as a clone.
func TestSameCounterTwiceAtOnce(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", false)
	alice.signUp()
	seven := uint32(7)
	bodies := []map[string]any{
		alice.loginFinishBody("", webauthntest.Options{Counter: &seven}),
		alice.loginFinishBody("", webauthntest.Options{Counter: &seven}),
	}
	got := map[int]int{}
	for _, a := range e.finishLoginsBehindWriter(t, bodies, func(store.Tx) error { return nil }) {
		got[a.status]++
	}
	if got[200] != 1 || got[400] != 1 {
		t.Fatalf("statuses %v, want one 200 and one 400", got)
	}
	// The counter the winner stored is the one the next sign-in must pass.
	if r := alice.signIn("", webauthntest.Options{Counter: &seven}); r.status != 400 {
		t.Fatalf("a third use of counter 7: %d %s", r.status, r.raw)
	}
}

// TestDisableBetweenVerifyAndCommit disables an account after a sign-in
// has read it (enabled) but before the sign-in's transaction runs, as a
// disable through the admin socket can. The sign-in must see the disable
// in its own transaction: else it would get a session the disable, having
// ended the sessions it found, never ends.
func TestDisableBetweenVerifyAndCommit(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", false)
	alice.signUp()
	body := alice.loginFinishBody("", webauthntest.Options{})
	// The held writer disables alice once released; the finish has read
	// the account from the last commit and queued behind it.
	answers := e.finishLoginsBehindWriter(t, []map[string]any{body}, func(tx store.Tx) error {
		u, err := tx.UserByUsername("alice")
		if err != nil {
			return err
		}
		u.Disabled = true
		return tx.PutUser(u)
	})
	if a := answers[0]; a.status != 403 || !strings.Contains(a.body, "account_disabled") {
		t.Fatalf("sign-in racing a disable: %d %s", a.status, a.body)
	}
	e.srv.db.View(context.Background(), func(tx store.Tx) error {
		u, _ := tx.UserByUsername("alice")
		sessions, err := tx.SessionsByUser(u.ID)
		if err != nil || len(sessions) != 1 {
			t.Errorf("alice has %d sessions (%v), want only the sign-up's", len(sessions), err)
		}
		return nil
	})
}

func TestCeremonyIsSingleUseAndExpires(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", false)
	alice.signUp()

	body := alice.loginFinishBody("", webauthntest.Options{})
	if r := e.request("POST", "/webauthn/login/finish", body, nil); r.status != 200 {
		t.Fatalf("first finish: %d %s", r.status, r.raw)
	}
	expectError(t, e.request("POST", "/webauthn/login/finish", body, nil), 400, "invalid_ceremony")

	body = alice.loginFinishBody("", webauthntest.Options{})
	e.clock.Advance(5*time.Minute + time.Second)
	expectError(t, e.request("POST", "/webauthn/login/finish", body, nil), 400, "invalid_ceremony")
	body["ceremony"] = "no-such-ceremony"
	expectError(t, e.request("POST", "/webauthn/login/finish", body, nil), 400, "invalid_ceremony")
}

func TestLoginBeginDoesNotRevealUsernames(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", false)
	alice.signUp()
	shape := func(name string) string {
		r := e.request("POST", "/webauthn/login/begin", map[string]any{"username": name}, nil)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		pk := r.body["publicKey"].(map[string]any)
		if allow, ok := pk["allowCredentials"].([]any); ok && len(allow) > 0 {
			t.Fatalf("allowCredentials reveals the account: %v", allow)
		}
		delete(pk, "challenge")
		b, _ := json.Marshal(pk)
		return string(b)
	}
	if known, unknown := shape("alice"), shape("nobody"); known != unknown {
		t.Fatalf("known and unknown names answer differently:\n%s\n%s", known, unknown)
	}
	// The name is still enforced: bob's passkey cannot finish alice's sign-in,
	// and nobody's sign-in cannot finish at all.
	bob := e.newUser("bob", false)
	bob.signUp()
	expectError(t, bob.signIn("alice", webauthntest.Options{}), 400, "invalid_credential")
	expectError(t, alice.signIn("nobody", webauthntest.Options{}), 400, "invalid_credential")
	if r := alice.signIn("alice", webauthntest.Options{}); r.status != 200 {
		t.Fatalf("alice by name: %d %s", r.status, r.raw)
	}
}

func TestAddRenameDeletePasskeys(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()

	// Adding a passkey: access token + proof at begin and finish.
	h := func(path string) map[string]string {
		return map[string]string{"Authorization": "DPoP " + alice.access, "DPoP": alice.key.proof(t, e.clock.Now(), "POST", path, alice.access)}
	}
	cer, opts := alice.begin("/webauthn/register/begin", map[string]any{}, h("/webauthn/register/begin"))
	var o map[string]any
	json.Unmarshal(opts, &o)
	if ex, _ := o["excludeCredentials"].([]any); len(ex) != 1 || ex[0].(map[string]any)["id"] != alice.credID {
		t.Fatalf("excludeCredentials: %v", o["excludeCredentials"])
	}
	second := webauthntest.New("localhost", testOrigin)
	cred, err := second.Create(opts, webauthntest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := e.request("POST", "/webauthn/register/finish", map[string]any{"ceremony": cer, "credential": json.RawMessage(cred), "name": "phone"}, h("/webauthn/register/finish"))
	if r.status != 200 || r.str("credential_id") == "" || r.body["access_token"] != nil {
		t.Fatalf("add passkey: %d %s", r.status, r.raw)
	}
	newID := r.str("credential_id")

	r = alice.call("PATCH", "/me/credentials/"+newID, map[string]any{"name": "work phone"})
	if r.status != 200 || r.str("name") != "work phone" || r.str("id") != newID {
		t.Fatalf("rename: %d %s", r.status, r.raw)
	}
	expectError(t, alice.call("PATCH", "/me/credentials/"+newID, map[string]any{"name": strings.Repeat("x", 65)}), 400, "invalid_request")
	expectError(t, alice.call("PATCH", "/me/credentials/AAAA", map[string]any{"name": "x"}), 404, "not_found")

	// Another user cannot touch alice's passkeys.
	bob := e.newUser("bob", false)
	bob.signUp()
	expectError(t, bob.call("DELETE", "/me/credentials/"+newID, nil), 404, "not_found")

	if r := alice.call("DELETE", "/me/credentials/"+alice.credID, nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	expectError(t, alice.call("DELETE", "/me/credentials/"+newID, nil), 409, "last_credential")
	// The remaining passkey still signs in; the deleted one no longer does.
	phone := e.newUser("alice", false)
	phone.authn = second
	if r := phone.signIn("", webauthntest.Options{}); r.status != 200 {
		t.Fatalf("sign-in with the remaining passkey: %d %s", r.status, r.raw)
	}
	expectError(t, alice.signIn("", webauthntest.Options{}), 400, "invalid_credential")
}

func TestRestartKeepsAccountsAndKeys(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", false)
	alice.signUp()
	jwks := e.request("GET", "/.well-known/jwks.json", nil, nil)
	e.restart()
	if r := alice.signIn("", webauthntest.Options{}); r.status != 200 {
		t.Fatalf("sign-in after restart: %d %s", r.status, r.raw)
	}
	verifyWithJWKS(t, jwks.raw, alice.access)
	if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("userinfo after restart: %d %s", r.status, r.raw)
	}
}

// A ceremony begun before a clean restart (a deploy) can be finished after
// it, once; the ceremonies live in memory and are parked in the store at
// shutdown.
func TestCeremonySurvivesRestartOnce(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", false)
	alice.signUp()
	body := alice.loginFinishBody("", webauthntest.Options{})
	e.restart()
	finish := func() *response { return e.request("POST", "/webauthn/login/finish", body, nil) }
	if r := finish(); r.status != 200 {
		t.Fatalf("finish after restart: %d %s", r.status, r.raw)
	}
	e.restart()
	expectError(t, finish(), 400, CodeInvalidCeremony)
}

// verifyWithJWKS checks an ES256 JWT against a JWKS document independently
// of the service's code, as a resource server would.
func verifyWithJWKS(t *testing.T, jwks []byte, token string) {
	t.Helper()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	kid := jwtPart(t, token, 0)["kid"]
	for _, k := range set.Keys {
		if k["kid"] != kid {
			continue
		}
		if k["d"] != "" || k["use"] != "sig" || k["alg"] != "ES256" {
			t.Fatalf("JWKS key members: %v", k)
		}
		x, _ := b64.DecodeString(k["x"])
		y, _ := b64.DecodeString(k["y"])
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(token, ".")
		sig, _ := b64.DecodeString(parts[2])
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			t.Fatal("token signature does not verify with the published key")
		}
		return
	}
	t.Fatalf("kid %v not in JWKS %s", kid, jwks)
}

func TestProtectedEndpointRejectsBadAccessTokens(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", false)
	alice.signUp()
	good := alice.access
	parts := strings.Split(good, ".")
	header, claims := jwtPart(t, good, 0), jwtPart(t, good, 1)
	enc := func(m map[string]any) string { b, _ := json.Marshal(m); return b64.EncodeToString(b) }
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for kk, vv := range m {
			out[kk] = vv
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	attacker := newDPoPKey(t)
	signed := func(h, c map[string]any) string { return signJWS(t, attacker.priv, h, c) }
	// HS256 "signed" with the public JWKS document as the secret.
	jwks := e.request("GET", "/.well-known/jwks.json", nil, nil).raw
	hsInput := enc(with(header, "alg", "HS256")) + "." + parts[1]
	mac := hmac.New(sha256.New, jwks)
	mac.Write([]byte(hsInput))

	cases := map[string]string{
		"alg none":                  enc(with(header, "alg", "none")) + "." + parts[1] + ".",
		"HS256 with the public key": hsInput + "." + b64.EncodeToString(mac.Sum(nil)),
		"wrong typ":                 signed(with(header, "typ", "JWT"), claims),
		"signed by an unknown key":  signed(header, claims),
		"unknown kid":               signed(with(header, "kid", "nope"), claims),
		"tampered payload":          parts[0] + "." + enc(with(claims, "sub", "someone-else")) + "." + parts[2],
		"tampered issuer":           parts[0] + "." + enc(with(claims, "iss", "https://evil.example")) + "." + parts[2],
		"tampered audience":         parts[0] + "." + enc(with(claims, "aud", "https://other.example")) + "." + parts[2],
		"JWS JSON serialisation":    `{"payload":"` + parts[1] + `","signatures":[]}`,
		"garbage":                   "not-a-token",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.request("GET", "/userinfo", nil, map[string]string{"Authorization": "Bearer " + tok})
			expectError(t, r, 401, "invalid_token")
			if !strings.Contains(strings.Join(r.header.Values("WWW-Authenticate"), ","), `error="invalid_token"`) {
				t.Fatalf("WWW-Authenticate: %v", r.header.Values("WWW-Authenticate"))
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		e.clock.Advance(11 * time.Minute)
		expectError(t, alice.call("GET", "/userinfo", nil), 401, "invalid_token")
	})
	t.Run("no credentials", func(t *testing.T) {
		r := e.request("GET", "/userinfo", nil, nil)
		expectError(t, r, 401, "invalid_token")
		for _, v := range r.header.Values("WWW-Authenticate") {
			if strings.Contains(v, "error=") {
				t.Fatalf("challenge without credentials must carry no error: %v", v)
			}
		}
	})
}

func TestWrongIssuerAndAudienceWithValidSignature(t *testing.T) {
	// A token signed by this server's key for another issuer or audience:
	// two servers sharing a master key and data directory would produce
	// exactly that, so build one with a second server on the same store.
	e := newEnv(t)
	alice := e.newUser("alice", false)
	alice.signUp()
	dir, kek := e.dir, e.cfg.MasterKey
	e.srv.Close()
	for _, mod := range []func(*Config){
		func(c *Config) { c.Audience = "https://api.other.example" },
		func(c *Config) { c.Issuer = "http://127.0.0.1:8080"; c.Origins = []string{"http://localhost:8080"} },
	} {
		other := newEnv(t, func(c *Config) { c.DataDir, c.MasterKey = dir, kek; mod(c) })
		o := other.newUser("alice", false)
		o.authn = alice.authn
		if r := o.signIn("", webauthntest.Options{}); r.status != 200 {
			t.Fatalf("sign-in on the other server: %d %s", r.status, r.raw)
		}
		other.srv.Close()
		e.start()
		expectError(t, e.request("GET", "/userinfo", nil, map[string]string{"Authorization": "Bearer " + o.access}), 401, "invalid_token")
		e.srv.Close()
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	e := newEnv(t)
	expectError(t, e.request("GET", "/no/such/thing", nil, nil), http.StatusNotFound, "not_found")
	r := e.request("DELETE", "/webauthn/login/begin", nil, nil)
	if r.status != 404 && r.status != 405 || r.str("error") == "" {
		t.Fatalf("wrong method: %d %s", r.status, r.raw)
	}
}

func TestPasskeysAreNamedAfterTheirProvider(t *testing.T) {
	e := newEnv(t)
	gpm := []byte{0xea, 0x9b, 0x8d, 0x66, 0x4d, 0x01, 0x1d, 0x21, 0x3c, 0xe4, 0xb6, 0xb4, 0x8c, 0xb5, 0x75, 0xd4}
	u := e.newUser("provider", false)
	cer, opts := u.begin("/webauthn/register/begin", map[string]any{"username": u.name}, nil)
	cred, err := u.authn.Create(opts, webauthntest.Options{AAGUID: gpm})
	if err != nil {
		t.Fatal(err)
	}
	r := e.request("POST", "/webauthn/register/finish", map[string]any{"ceremony": cer, "credential": json.RawMessage(cred), "name": "   "}, nil)
	if r.status != 200 {
		t.Fatalf("register/finish: %d %s", r.status, r.raw)
	}
	u.access = r.str("access_token")

	list := u.call("GET", "/me/credentials", nil)
	var items []struct {
		ID, Name, AAGUID string
		Provider         *struct {
			Name      string `json:"name"`
			IconLight string `json:"icon_light"`
			IconDark  string `json:"icon_dark"`
		}
	}
	if err := json.Unmarshal(list.raw, &items); err != nil || len(items) != 1 {
		t.Fatalf("list: %s %v", list.raw, err)
	}
	it := items[0]
	if it.Name != "Google Password Manager" || it.AAGUID != "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4" || it.Provider == nil ||
		it.Provider.Name != "Google Password Manager" || it.Provider.IconLight == "" || it.Provider.IconDark == "" {
		t.Fatalf("a blank name was not the provider's: %s", list.raw)
	}
	icon := e.request("GET", it.Provider.IconDark, nil, nil)
	if icon.status != 200 || icon.header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(string(icon.raw), "<svg") ||
		!strings.Contains(icon.header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("icon: %d %q %q", icon.status, icon.header.Get("Content-Type"), icon.header.Get("Content-Security-Policy"))
	}
	for _, p := range []string{"/passkey-providers/00000000-0000-0000-0000-000000000000/icon-light.svg",
		"/passkey-providers/ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4/icon.png", "/passkey-providers/x/icon-dark.svg"} {
		expectError(t, e.request("GET", p, nil, nil), 404, "not_found")
	}

	// A chosen name wins; a blank rename goes back to the provider's name.
	if r := u.call("PATCH", "/me/credentials/"+it.ID, map[string]any{"name": "Work phone"}); r.status != 200 || r.str("name") != "Work phone" {
		t.Fatalf("rename: %d %s", r.status, r.raw)
	}
	if r := u.call("PATCH", "/me/credentials/"+it.ID, map[string]any{"name": " "}); r.status != 200 || r.str("name") != "Google Password Manager" {
		t.Fatalf("blank rename: %d %s", r.status, r.raw)
	}

	// An authenticator that names no known provider gets "Passkey", and no provider.
	v := e.newUser("unknown-provider", false)
	cer, opts = v.begin("/webauthn/register/begin", map[string]any{"username": v.name}, nil)
	cred, _ = v.authn.Create(opts, webauthntest.Options{AAGUID: make([]byte, 16)})
	r = e.request("POST", "/webauthn/register/finish", map[string]any{"ceremony": cer, "credential": json.RawMessage(cred)}, nil)
	v.access = r.str("access_token")
	list = v.call("GET", "/me/credentials", nil)
	if !strings.Contains(string(list.raw), `"name":"Passkey"`) || strings.Contains(string(list.raw), `"provider"`) {
		t.Fatalf("unknown provider: %s", list.raw)
	}
}

// TestUnknownPasskeysSayWhy: a passkey known to no account here (deleted,
// its account deleted, never registered) is answered with reason
// unknown_credential, so that a browser may be told to forget it; a live
// passkey of another account, or one that fails verification, is not.
func TestUnknownPasskeysSayWhy(t *testing.T) {
	e := newEnv(t)
	reason := func(r *response) any { return r.body["reason"] }

	// Deleted on the account page: the device still offers it, with the
	// live account's user handle.
	alice := e.newUser("alice", false)
	alice.signUp()
	old := alice.credID
	second := webauthntest.New("localhost", testOrigin)
	other := e.newUser("alice", false)
	other.authn = second
	cer, opts := alice.begin("/webauthn/register/begin", map[string]any{}, map[string]string{"Authorization": "Bearer " + alice.access})
	cred, err := second.Create(opts, webauthntest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.request("POST", "/webauthn/register/finish", map[string]any{"ceremony": cer, "credential": json.RawMessage(cred)}, map[string]string{"Authorization": "Bearer " + alice.access}); r.status != 200 {
		t.Fatalf("add passkey: %d %s", r.status, r.raw)
	}
	if r := alice.call("DELETE", "/me/credentials/"+old, nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	for range 12 { // more than the account's failure limit: none is charged to it
		r := alice.signIn("", webauthntest.Options{})
		expectError(t, r, 400, "invalid_credential")
		if reason(r) != "unknown_credential" {
			t.Fatalf("deleted passkey: %s", r.raw)
		}
	}
	if r := other.signIn("", webauthntest.Options{}); r.status != 200 {
		t.Fatalf("the account's live passkey after the unknown ones: %d %s", r.status, r.raw)
	}

	// A passkey of another account, named by username: alive, so no reason.
	bob := e.newUser("bob", false)
	bob.signUp()
	r := bob.signIn("alice", webauthntest.Options{})
	expectError(t, r, 400, "invalid_credential")
	if reason(r) != nil {
		t.Fatalf("foreign passkey: %s", r.raw)
	}
	// One that fails verification: no reason either.
	r = bob.signIn("", webauthntest.Options{TamperClientData: true})
	expectError(t, r, 400, "invalid_credential")
	if reason(r) != nil {
		t.Fatalf("bad signature: %s", r.raw)
	}

	// The account deleted: its passkeys are unknown.
	e.clock.Advance(time.Second)
	if r := bob.signIn("", webauthntest.Options{}); r.status != 200 {
		t.Fatalf("bob: %d %s", r.status, r.raw)
	}
	if r := bob.call("DELETE", "/me", nil); r.status != 204 {
		t.Fatalf("delete account: %d %s", r.status, r.raw)
	}
	if r := bob.signIn("", webauthntest.Options{}); reason(r) != "unknown_credential" {
		t.Fatalf("deleted account: %s", r.raw)
	}
	// Never registered here (a passkey of another service's account).
	elsewhere := newEnv(t).newUser("stranger", false)
	elsewhere.signUp()
	stranger := e.newUser("stranger", false)
	stranger.authn = elsewhere.authn
	if r := stranger.signIn("", webauthntest.Options{}); reason(r) != "unknown_credential" {
		t.Fatalf("never registered: %s", r.raw)
	}
}

// TestPasskeyUpgradeTakesAPasskeyMadeWithoutPresence: a signed-in person's
// conditional registration (the passkey upgrade) accepts a passkey the
// browser made without a gesture (no UP flag); an ordinary one does not;
// mediation is refused for a sign-up and when it is anything else.
func TestPasskeyUpgradeTakesAPasskeyMadeWithoutPresence(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", false)
	alice.signUp()
	auth := map[string]string{"Authorization": "Bearer " + alice.access}
	add := func(body map[string]any) *response {
		cer, opts := alice.begin("/webauthn/register/begin", body, auth)
		cred, err := webauthntest.New("localhost", testOrigin).Create(opts, webauthntest.Options{NoUserPresent: true})
		if err != nil {
			t.Fatal(err)
		}
		return e.request("POST", "/webauthn/register/finish", map[string]any{"ceremony": cer, "credential": json.RawMessage(cred)}, auth)
	}
	if r := add(map[string]any{"mediation": "conditional"}); r.status != 200 {
		t.Fatalf("conditional registration without UP: %d %s", r.status, r.raw)
	}
	expectError(t, add(map[string]any{}), 400, "invalid_credential")
	expectError(t, e.request("POST", "/webauthn/register/begin", map[string]any{"mediation": "silent"}, auth), 400, "invalid_request")
	expectError(t, e.request("POST", "/webauthn/register/begin", map[string]any{"username": "bob", "mediation": "conditional"}, nil), 400, "invalid_request")
	if r := alice.call("GET", "/me/credentials", nil); strings.Count(string(r.raw), `"id"`) != 2 {
		t.Errorf("passkeys after the upgrade: %s", r.raw)
	}
}
