package auth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchid/latch/webauthn/webauthntest"
)

const (
	testIssuer = "http://localhost:8080"
	testOrigin = "http://localhost:8080"
)

// clock is a settable time source shared by a test and its server. It
// starts at the real time because the WebAuthn library checks ceremony
// timeouts against the wall clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one server on a real bbolt file in a temp dir.
type env struct {
	t     testing.TB
	dir   string
	clock *clock
	cfg   Config
	srv   *Server
	// nodes, when set, are several servers sharing one store
	// (cluster_test.go): requests go to them in turn.
	nodes []*Server
	next  atomic.Uint64
}

// pick is the server of the next request: e.srv, or the next node.
func (e *env) pick() *Server {
	if len(e.nodes) == 0 {
		return e.srv
	}
	return e.nodes[e.next.Add(1)%uint64(len(e.nodes))]
}

func newEnv(t testing.TB, mods ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), clock: &clock{t: time.Now()}}
	e.cfg = Config{
		DataDir: e.dir, Issuer: testIssuer, Now: e.clock.Now,
		MasterKey: bytes.Repeat([]byte{7}, 32),
		// Every in-process request comes from one address; the limit has
		// its own test.
		BeginRate: -1,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, m := range mods {
		m(&e.cfg)
	}
	e.start()
	return e
}

func (e *env) start() {
	e.t.Helper()
	srv, err := New(e.cfg)
	if err != nil {
		e.t.Fatalf("start server: %v", err)
	}
	e.srv = srv
	e.t.Cleanup(func() {
		if e.srv == srv {
			srv.Close()
		}
	})
}

// restart closes the server and opens a new one on the same data directory.
func (e *env) restart() { e.whileStopped(nil) }

// whileStopped stops the server, runs fn (if any) on its store opened for
// administration, as an operator would, and starts the server again.
func (e *env) whileStopped(fn func(a *Admin) error) {
	e.t.Helper()
	if err := e.srv.Close(); err != nil {
		e.t.Fatalf("close: %v", err)
	}
	if fn != nil {
		a, err := OpenAdmin(e.cfg)
		if err != nil {
			e.t.Fatal(err)
		}
		err = fn(a)
		a.Close()
		if err != nil {
			e.t.Fatal(err)
		}
	}
	e.start()
}

// response is a decoded HTTP answer.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r *response) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

// request sends one request through the real Fiber app.
func (e *env) request(method, path string, body any, header map[string]string) *response {
	e.t.Helper()
	r, err := e.requestTo(e.pick(), method, path, body, header)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// requestTo sends one request to srv; safe to call from any goroutine.
func (e *env) requestTo(srv *Server, method, path string, body any, header map[string]string) (*response, error) {
	var rdr io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rdr, ctype = strings.NewReader(b), "application/json"
	case []byte:
		rdr, ctype = bytes.NewReader(b), "application/json"
	case url.Values:
		rdr, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rdr, ctype = bytes.NewReader(buf), "application/json"
	}
	req := httptest.NewRequest(method, path, rdr)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := srv.Test(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := &response{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.body)
	return out, nil
}

// expectError checks an error answer's status and code, and that it follows
// the contract's error body shape.
func expectError(t testing.TB, r *response, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("want %d %s, got %d %s", status, code, r.status, r.raw)
	}
	if r.str("error_description") == "" {
		t.Fatalf("error without error_description: %s", r.raw)
	}
}

// dpopKey is a holder's DPoP key; proofs are built by hand so tests control
// every member.
type dpopKey struct {
	priv *ecdsa.PrivateKey
}

func newDPoPKey(t testing.TB) *dpopKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &dpopKey{priv: k}
}

func pad32(b *big.Int) []byte {
	out := make([]byte, 32)
	return b.FillBytes(out)
}

func (k *dpopKey) jwk() map[string]any {
	pub, _ := k.priv.PublicKey.Bytes() // 0x04 || x || y
	return map[string]any{
		"kty": "EC", "crv": "P-256",
		"x": b64.EncodeToString(pub[1:33]), "y": b64.EncodeToString(pub[33:]),
	}
}

// thumbprint is the RFC 7638 thumbprint, computed independently of the
// service's code.
func (k *dpopKey) thumbprint() string {
	j := k.jwk()
	canon := `{"crv":"P-256","kty":"EC","x":"` + j["x"].(string) + `","y":"` + j["y"].(string) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return b64.EncodeToString(sum[:])
}

// signJWS signs header and claims with ES256 (raw r||s).
func signJWS(t testing.TB, priv *ecdsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, priv, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(append(pad32(r), pad32(s)...))
}

// proof builds a DPoP proof; mutate edits the header and claims first.
func (k *dpopKey) proof(t testing.TB, now time.Time, method, path, accessToken string, mutate ...func(h, c map[string]any)) string {
	h := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": k.jwk()}
	c := map[string]any{"jti": randomID(12), "htm": method, "htu": testIssuer + path, "iat": now.Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		c["ath"] = b64.EncodeToString(sum[:])
	}
	for _, m := range mutate {
		m(h, c)
	}
	return signJWS(t, k.priv, h, c)
}

// user is a test client: a software authenticator, an optional DPoP key and
// the tokens it holds.
type user struct {
	e       *env
	name    string
	authn   *webauthntest.Authenticator
	key     *dpopKey
	access  string
	refresh string
	credID  string
	ua      string // User-Agent sent with token requests, if any
}

func (e *env) newUser(name string, withDPoP bool) *user {
	u := &user{e: e, name: name, authn: webauthntest.New("localhost", testOrigin)}
	if withDPoP {
		u.key = newDPoPKey(e.t)
	}
	return u
}

// begin runs a begin endpoint and returns the ceremony id and the publicKey
// options.
func (u *user) begin(path string, body any, header map[string]string) (string, []byte) {
	u.e.t.Helper()
	r := u.e.request("POST", path, body, header)
	if r.status != 200 {
		u.e.t.Fatalf("%s: %d %s", path, r.status, r.raw)
	}
	opts, _ := json.Marshal(r.body["publicKey"])
	return r.str("ceremony"), opts
}

func (u *user) tokenHeaders(path string) map[string]string {
	h := map[string]string{}
	if u.ua != "" {
		h["User-Agent"] = u.ua
	}
	if u.key != nil {
		h["DPoP"] = u.key.proof(u.e.t, u.e.clock.Now(), "POST", path, "")
	}
	return h
}

// signUp registers the user with a new passkey and keeps the tokens.
func (u *user) signUp() *response {
	u.e.t.Helper()
	cer, opts := u.begin("/webauthn/register/begin", map[string]any{"username": u.name, "display_name": strings.ToUpper(u.name)}, nil)
	cred, err := u.authn.Create(opts, webauthntest.Options{})
	if err != nil {
		u.e.t.Fatal(err)
	}
	r := u.e.request("POST", "/webauthn/register/finish",
		map[string]any{"ceremony": cer, "credential": json.RawMessage(cred), "name": "laptop"}, u.tokenHeaders("/webauthn/register/finish"))
	if r.status != 200 {
		u.e.t.Fatalf("register/finish: %d %s", r.status, r.raw)
	}
	u.access, u.refresh, u.credID = r.str("access_token"), r.str("refresh_token"), r.str("credential_id")
	return r
}

// signIn runs a usernameless sign-in (or username-first with name).
// loginFinishBody begins a sign-in (by username unless empty) and answers
// it with the user's authenticator: the body for /webauthn/login/finish.
func (u *user) loginFinishBody(username string, o webauthntest.Options) map[string]any {
	u.e.t.Helper()
	body := map[string]any{}
	if username != "" {
		body["username"] = username
	}
	cer, opts := u.begin("/webauthn/login/begin", body, nil)
	cred, err := u.authn.Get(opts, o)
	if err != nil {
		u.e.t.Fatal(err)
	}
	return map[string]any{"ceremony": cer, "credential": json.RawMessage(cred)}
}

func (u *user) signIn(username string, o webauthntest.Options) *response {
	u.e.t.Helper()
	r := u.e.request("POST", "/webauthn/login/finish", u.loginFinishBody(username, o), u.tokenHeaders("/webauthn/login/finish"))
	if r.status == 200 {
		u.access, u.refresh = r.str("access_token"), r.str("refresh_token")
	}
	return r
}

// call sends an authenticated request to a protected endpoint.
func (u *user) call(method, path string, body any) *response {
	u.e.t.Helper()
	h := map[string]string{"Authorization": "Bearer " + u.access}
	if u.key != nil {
		h["Authorization"] = "DPoP " + u.access
		h["DPoP"] = u.key.proof(u.e.t, u.e.clock.Now(), method, path, u.access)
	}
	return u.e.request(method, path, body, h)
}

// refreshTokens runs the refresh grant with the user's key.
func (u *user) refreshTokens() *response {
	u.e.t.Helper()
	r := u.e.request("POST", "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {u.refresh}}, u.tokenHeaders("/token"))
	if r.status == 200 {
		u.access, u.refresh = r.str("access_token"), r.str("refresh_token")
	}
	return r
}

// jwtPart decodes one part of a compact JWS.
func jwtPart(t testing.TB, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// jsonRaw embeds already-encoded JSON in a request body.
type jsonRaw []byte

func (j jsonRaw) MarshalJSON() ([]byte, error) { return j, nil }

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// introspect asks /introspect about token, as client id with secret.
func (e *env) introspect(id, secret, token string) *response {
	e.t.Helper()
	basic := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))}
	return e.request("POST", "/introspect", url.Values{"token": {token}}, basic)
}

// introspector registers an introspection client and returns a function
// that introspects a token as that client.
func (e *env) introspector() func(token string) *response {
	e.t.Helper()
	secret, err := CreateClient(context.Background(), e.srv.db, "api", e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return func(token string) *response { return e.introspect("api", secret, token) }
}
