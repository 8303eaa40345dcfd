package resource_test

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
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchid/latch/auth"
	"github.com/latchid/latch/auth/resource"
	"github.com/latchid/latch/webauthn/webauthntest"
)

var b64 = base64.RawURLEncoding

// apiURL is the public URL the guarded API is configured with; requests
// are made to it whatever Host they name.
const apiURL = "https://api.example"

// clock is a settable time source shared by Latch and the guard. It starts
// at the real time because WebAuthn checks ceremonies against the wall
// clock.
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

// latch is a real Latch server on a loopback port, with its own store in a
// temp dir.
type latch struct {
	t      testing.TB
	srv    *auth.Server
	cfg    auth.Config
	issuer string
	clock  *clock
}

func startLatch(t testing.TB, mods ...func(*auth.Config)) *latch {
	t.Helper()
	l := &latch{t: t, clock: &clock{t: time.Now()}}
	// The issuer names the port, so the port is chosen first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	l.issuer = "http://localhost:" + strconv.Itoa(port)
	l.cfg = auth.Config{
		Addr: "127.0.0.1:" + strconv.Itoa(port), DataDir: t.TempDir(), Issuer: l.issuer,
		MasterKey: bytes.Repeat([]byte{7}, 32), BeginRate: -1, PostRate: -1, Now: l.clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, m := range mods {
		m(&l.cfg)
	}
	if l.srv, err = auth.New(l.cfg); err != nil {
		t.Fatal(err)
	}
	if err := l.srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.srv.Close() })
	return l
}

// countingClient counts the guard's requests to the JWK Set.
type countingClient struct {
	jwks atomic.Int64
}

func (c *countingClient) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/jwks.json") {
		c.jwks.Add(1)
	}
	// 127.0.0.1 directly: localhost may resolve to ::1 first.
	r2 := r.Clone(r.Context())
	r2.URL.Host = strings.Replace(r.URL.Host, "localhost", "127.0.0.1", 1)
	return http.DefaultTransport.RoundTrip(r2)
}

// guard builds a Guard for l's issuer at apiURL.
func (l *latch) guard(mods ...func(*resource.Config)) (*resource.Guard, *countingClient) {
	l.t.Helper()
	cc := &countingClient{}
	cfg := resource.Config{
		Issuer: l.issuer, PublicURL: apiURL, Now: l.clock.Now,
		HTTPClient: &http.Client{Transport: cc, Timeout: 10 * time.Second},
	}
	for _, m := range mods {
		m(&cfg)
	}
	g, err := resource.New(cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	return g, cc
}

// do sends one request to Latch.
func (l *latch) do(method, path string, body any, header map[string]string) (int, http.Header, map[string]any) {
	l.t.Helper()
	var rdr io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rdr, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		buf, _ := json.Marshal(b)
		rdr, ctype = bytes.NewReader(buf), "application/json"
	}
	req, _ := http.NewRequest(method, strings.Replace(l.issuer, "localhost", "127.0.0.1", 1)+path, rdr)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, res.Header, out
}

// client is a person with a software passkey and, usually, a DPoP key.
type client struct {
	l       *latch
	authn   *webauthntest.Authenticator
	key     *ecdsa.PrivateKey // nil for a Bearer client
	access  string
	refresh string
}

// signUp registers a new account and keeps its tokens; withDPoP binds them
// to a new key.
func (l *latch) signUp(name string, withDPoP bool) *client {
	l.t.Helper()
	c := &client{l: l, authn: webauthntest.New("localhost", l.issuer)}
	if withDPoP {
		c.key = newKey(l.t)
	}
	st, _, body := l.do("POST", "/webauthn/register/begin", map[string]any{"username": name, "display_name": name}, nil)
	if st != 200 {
		l.t.Fatalf("register/begin: %d %v", st, body)
	}
	opts, _ := json.Marshal(body["publicKey"])
	cred, err := c.authn.Create(opts, webauthntest.Options{})
	if err != nil {
		l.t.Fatal(err)
	}
	h := map[string]string{}
	if c.key != nil {
		h["DPoP"] = proof(l.t, c.key, l.clock.Now(), "POST", l.issuer+"/webauthn/register/finish", "")
	}
	st, _, body = l.do("POST", "/webauthn/register/finish",
		map[string]any{"ceremony": body["ceremony"], "credential": json.RawMessage(cred), "name": "laptop"}, h)
	if st != 200 {
		l.t.Fatalf("register/finish: %d %v", st, body)
	}
	c.access, _ = body["access_token"].(string)
	c.refresh, _ = body["refresh_token"].(string)
	return c
}

// refreshTokens runs the refresh grant, which signs with the active key.
func (c *client) refreshTokens() {
	c.l.t.Helper()
	h := map[string]string{}
	if c.key != nil {
		h["DPoP"] = proof(c.l.t, c.key, c.l.clock.Now(), "POST", c.l.issuer+"/token", "")
	}
	st, _, body := c.l.do("POST", "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.refresh}}, h)
	if st != 200 {
		c.l.t.Fatalf("refresh: %d %v", st, body)
	}
	c.access, _ = body["access_token"].(string)
	c.refresh, _ = body["refresh_token"].(string)
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jwkOf(k *ecdsa.PrivateKey) map[string]any {
	pub, _ := k.PublicKey.Bytes()
	return map[string]any{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(pub[1:33]), "y": b64.EncodeToString(pub[33:])}
}

// thumbprint is RFC 7638's, computed independently of the token packages.
func thumbprint(k *ecdsa.PrivateKey) string {
	j := jwkOf(k)
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + j["x"].(string) + `","y":"` + j["y"].(string) + `"}`))
	return b64.EncodeToString(sum[:])
}

// signJWS signs header and claims with ES256 (raw r||s).
func signJWS(t testing.TB, k *ecdsa.PrivateKey, header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig)
}

var jtiSeq atomic.Int64

// proof makes a DPoP proof for method and url; mutate edits header and
// claims before signing.
func proof(t testing.TB, k *ecdsa.PrivateKey, now time.Time, method, url, accessToken string, mutate ...func(h, c map[string]any)) string {
	h := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwkOf(k)}
	c := map[string]any{"jti": "jti-" + strconv.FormatInt(jtiSeq.Add(1), 10) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		"htm": method, "htu": url, "iat": now.Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		c["ath"] = b64.EncodeToString(sum[:])
	}
	for _, m := range mutate {
		m(h, c)
	}
	return signJWS(t, k, h, c)
}

// hello is the protected handler of the tests: it echoes the principal.
var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p := resource.PrincipalFrom(r.Context())
	if p == nil {
		http.Error(w, "no principal", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(p)
})

// answer is one response of the guarded API.
type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (a answer) str(k string) string { s, _ := a.body[k].(string); return s }

// call sends a request through h; header values are lists so duplicates can
// be sent.
func call(h http.Handler, method, path string, header map[string][]string) answer {
	req := httptest.NewRequest(method, "http://internal.host"+path, nil)
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return answer{status: rec.Code, header: rec.Header(), body: body}
}

// dpopCall makes a correct DPoP request for c to the API path.
func (c *client) dpopCall(h http.Handler, method, path string) answer {
	return call(h, method, path, map[string][]string{
		"Authorization": {"DPoP " + c.access},
		"DPoP":          {proof(c.l.t, c.key, c.l.clock.Now(), method, apiURL+path, c.access)},
	})
}

func expectRefusal(t testing.TB, a answer, status int, code string) {
	t.Helper()
	if a.status != status || a.str("error") != code || a.str("error_description") == "" {
		t.Fatalf("want %d %s, got %d %v", status, code, a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error content type %q", ct)
	}
}

var ctx = context.Background()

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func formOf(k, v string) url.Values { return url.Values{k: {v}} }

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}
