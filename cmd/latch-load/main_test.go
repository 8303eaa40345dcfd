package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/binary"
	"encoding/json"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/latchid/latch/webauthn"

	"github.com/latchid/latch/tokens/dpop"
)

// sameAsMarshal checks that b is byte for byte what json.Marshal writes
// for the same value decoded into maps: what the generator used to send.
func sameAsMarshal(t *testing.T, what string, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v in %s", what, err, b)
	}
	want, _ := json.Marshal(m)
	if !bytes.Equal(b, want) {
		t.Fatalf("%s:\n got %s\nwant %s", what, b, want)
	}
	return m
}

func decodeB64(t *testing.T, v any) []byte {
	t.Helper()
	s, _ := v.(string)
	b, err := b64.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLeanCeremoniesVerify runs the lean authenticator's responses through
// the service's relying party: a registration and two sign-ins.
func TestLeanCeremoniesVerify(t *testing.T) {
	const origin = "http://localhost:8090"
	rp, err := webauthn.New(webauthn.Config{RPID: "localhost", RPDisplayName: "Latch", Origins: []string{origin}})
	if err != nil {
		t.Fatal(err)
	}
	user := webauthn.User{Handle: []byte("handle-0123456789"), Name: "alice", DisplayName: "alice"}
	l := newLeanAuthenticator("localhost", origin)

	options, session, err := rp.BeginRegistration(user, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := l.AppendCreate([]byte("prefix"), options)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(resp, []byte("prefix")) {
		t.Fatalf("AppendCreate dropped dst: %s", resp)
	}
	resp = resp[len("prefix"):]
	m := sameAsMarshal(t, "registration", resp)
	r := m["response"].(map[string]any)
	sameAsMarshal(t, "clientDataJSON", decodeB64(t, r["clientDataJSON"]))
	var att struct {
		Fmt      string         `cbor:"fmt"`
		AttStmt  map[string]any `cbor:"attStmt"`
		AuthData []byte         `cbor:"authData"`
	}
	if err := cbor.Unmarshal(decodeB64(t, r["attestationObject"]), &att); err != nil || att.Fmt != "none" || len(att.AttStmt) != 0 {
		t.Fatalf("attestation object %+v: %v", att, err)
	}
	cred, err := rp.FinishRegistration(user, session, resp)
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}

	for i := uint32(1); i <= 2; i++ {
		options, session, err := rp.BeginLogin(nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := l.AppendGet(nil, options)
		if err != nil {
			t.Fatal(err)
		}
		m := sameAsMarshal(t, "assertion", resp)
		r := m["response"].(map[string]any)
		cd := sameAsMarshal(t, "clientDataJSON", decodeB64(t, r["clientDataJSON"]))
		if cd["type"] != "webauthn.get" || cd["origin"] != origin {
			t.Fatalf("client data %v", cd)
		}
		authData := decodeB64(t, r["authenticatorData"])
		if len(authData) != 37 || authData[32] != flagUP|flagUV || binary.BigEndian.Uint32(authData[33:]) != i {
			t.Fatalf("authenticator data %x", authData)
		}
		a, err := rp.ParseAssertion(resp)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.UserHandle, user.Handle) {
			t.Fatalf("user handle %q", a.UserHandle)
		}
		if cred, err = rp.FinishLogin(user, []webauthn.Credential{*cred}, session, a); err != nil {
			t.Fatalf("FinishLogin: %v", err)
		}
		if cred.SignCount != i {
			t.Fatalf("sign count %d, want %d", cred.SignCount, i)
		}
	}
}

// TestProofVerifies checks the DPoP proofs with the service's verifier and
// their header and claims against json.Marshal's encoding.
func TestProofVerifies(t *testing.T) {
	const base = "http://localhost:8090"
	ep := newEndpoints(base)
	c := newClient(base, ep, nil)
	d := dpop.NewDPoP(dpop.DPoPConfig{})
	jtis := map[any]bool{}
	for _, tc := range []struct {
		ep    *endpoint
		token string
	}{{&ep.token, ""}, {&ep.userinfo, "some.access.token"}, {&ep.loginFinish, ""}} {
		p, err := c.proof(tc.ep, []byte(tc.token))
		if err != nil {
			t.Fatal(err)
		}
		proof := string(p)
		if _, err := d.Verify(dpop.ProofCheck{Headers: []string{proof}, Method: tc.ep.method, URL: tc.ep.url, AccessToken: tc.token}); err != nil {
			t.Fatalf("%s %s: %v", tc.ep.method, tc.ep.path, err)
		}
		parts := strings.Split(proof, ".")
		h := sameAsMarshal(t, "header", decodeB64(t, parts[0]))
		if h["typ"] != "dpop+jwt" || h["alg"] != "ES256" || h["jwk"] == nil {
			t.Fatalf("header %v", h)
		}
		claims := sameAsMarshal(t, "claims", decodeB64(t, parts[1]))
		if _, ok := claims["ath"]; ok != (tc.token != "") {
			t.Fatalf("claims %v for token %q", claims, tc.token)
		}
		if jtis[claims["jti"]] {
			t.Fatalf("jti %v repeated", claims["jti"])
		}
		jtis[claims["jti"]] = true
	}
}

func TestJSONField(t *testing.T) {
	obj := []byte(` { "a" : {"id":"inner","x":[1,{"id":"deeper"}],"s":"}\"]"} , "n":-1.5e3,"t":true,"id" :"outer\u0041\"", "e":{}, "last":null } `)
	for _, tc := range []struct{ key, want string }{
		{"id", `"outer\u0041\""`},
		{"n", "-1.5e3"},
		{"t", "true"},
		{"e", "{}"},
		{"last", "null"},
		{"a", `{"id":"inner","x":[1,{"id":"deeper"}],"s":"}\"]"}`},
		{"missing", ""},
	} {
		if got := string(jsonField(obj, tc.key)); got != tc.want {
			t.Errorf("jsonField(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
	if got := string(jsonString(jsonField(obj, "id"))); got != `outerA"` {
		t.Errorf("jsonString = %q", got)
	}
	if got := string(jsonString(jsonField(jsonField(obj, "a"), "id"))); got != "inner" {
		t.Errorf("nested jsonString = %q", got)
	}
	for _, bad := range []string{"", "[]", `{"a"`, `{"a":`, `{"a":"x`, `{"a":1 "b":2}`} {
		if v := jsonField([]byte(bad), "b"); v != nil {
			t.Errorf("jsonField(%q) = %q", bad, v)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain-base64_URL", "http://localhost:8090/token", `q"b\`, "<&>", "tab\t", "é", "\u2028"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("appendJSONString(%q) = %s, want x%s", s, got, want)
		}
		if got := appendJSONString(nil, []byte(s)); string(got) != string(want) {
			t.Errorf("appendJSONString([]byte(%q)) = %s, want %s", s, got, want)
		}
	}
}

func TestAppendQueryEscaped(t *testing.T) {
	for _, s := range []string{"", "abc.DEF-_~09", "a+b/c=", "ü &"} {
		if got, want := string(appendQueryEscaped(nil, []byte(s))), url.QueryEscape(s); got != want {
			t.Errorf("appendQueryEscaped(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestAppendRawSignature(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sum := sha256.Sum256([]byte("message"))
	check := func(r, s *big.Int) {
		t.Helper()
		der, _ := asn1.Marshal(struct{ R, S *big.Int }{r, s})
		got, err := appendRawSignature(nil, der)
		if err != nil {
			t.Fatal(err)
		}
		if want := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...); !bytes.Equal(got, want) {
			t.Fatalf("raw %x, want %x", got, want)
		}
	}
	for range 50 {
		r, s, _ := ecdsa.Sign(rand.Reader, k, sum[:])
		check(r, s)
	}
	// Short values and ones with DER's leading zero byte.
	check(big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), 255))
	check(new(big.Int).Lsh(big.NewInt(1), 200), big.NewInt(0x80))
	long := append(append([]byte{0x30, 38, 2, 33, 1}, make([]byte, 32)...), 2, 1, 1) // r of 33 bytes
	for _, bad := range [][]byte{nil, {0x30, 0}, {0x30, 3, 2, 1, 1}, {0x31, 6, 2, 1, 1, 2, 1, 1}, {0x30, 7, 2, 1, 1, 2, 1, 1, 0}, long} {
		if _, err := appendRawSignature(nil, bad); err == nil {
			t.Errorf("appendRawSignature(%x) accepted", bad)
		}
	}
}

// TestRequestLatenciesMergeClientsByRoute checks the -split report: each
// route's timings from every client are pooled before the percentiles are
// taken, and routes come out in path order.
func TestRequestLatenciesMergeClientsByRoute(t *testing.T) {
	ep := newEndpoints("http://localhost:8080")
	a := &client{timings: map[*endpoint][]time.Duration{}}
	b := &client{timings: map[*endpoint][]time.Duration{}}
	for i := 1; i <= 100; i++ {
		c := a
		if i%2 == 0 {
			c = b // each client sees only half of the finishes
		}
		c.timings[&ep.loginFinish] = append(c.timings[&ep.loginFinish], time.Duration(i)*time.Millisecond)
	}
	b.timings[&ep.loginBegin] = []time.Duration{3 * time.Millisecond}

	got := requestLatencies([]*client{a, b})
	if len(got) != 2 || got[0].path != "/webauthn/login/begin" || got[1].path != "/webauthn/login/finish" {
		t.Fatalf("routes = %+v", got)
	}
	want := latency{p50: 51 * time.Millisecond, p90: 91 * time.Millisecond, p99: 100 * time.Millisecond, max: 100 * time.Millisecond}
	if f := got[1]; f.n != 100 || f.method != "POST" || f.latency != want {
		t.Errorf("finish = %+v, want 100 requests with %+v", f, want)
	}
	if b := got[0]; b.n != 1 || b.p99 != 3*time.Millisecond {
		t.Errorf("begin = %+v", b)
	}
}

// TestComparePairsRunsByRound checks the -compare summary: ratios are
// taken within a round, then their median, so a round in which the host
// was slow for both builds does not skew the result; an incomplete round
// is left out.
func TestComparePairsRunsByRound(t *testing.T) {
	run := func(rate float64, cpuUs, p99Ms int) map[string]result {
		return map[string]result{"signin": {rate: rate, cpuPerReq: time.Duration(cpuUs) * time.Microsecond,
			latency: latency{p99: time.Duration(p99Ms) * time.Millisecond}}}
	}
	a := []map[string]result{run(3000, 200, 20), run(2000, 300, 30), run(3000, 200, 20), {}}
	b := []map[string]result{run(3300, 180, 18), run(2400, 240, 30), run(3000, 220, 20), run(9999, 1, 1)}
	got := comparePaired([]string{"signin", "signup"}, a, b)
	if len(got) != 1 || got[0].scenario != "signin" {
		t.Fatalf("comparisons = %+v, want signin only", got)
	}
	c := got[0]
	// Ratios within rounds: rate 1.1, 1.2, 1.0; CPU 0.9, 0.8, 1.1; p99 0.9, 1, 1.
	near := func(x, want float64) bool { return x > want-1e-9 && x < want+1e-9 }
	if !near(c.rate, 1.1) || !near(c.cpu, 0.9) || !near(c.p99, 1) || c.rateA != 3000 || c.rateB != 3000 {
		t.Errorf("summary = %+v", c)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median of an even count = %v, want 2.5", m)
	}
}
