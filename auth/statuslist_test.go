package auth

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/latchid/latch/store"

	"github.com/latchid/latch/tokens/sdjwt"
)

// issueCredential returns a credential of u and its status.status_list.
func issueCredential(t *testing.T, u *user) (string, int, string) {
	t.Helper()
	r := u.call("POST", "/credentials/sd-jwt", map[string]any{})
	if r.status != 200 {
		t.Fatalf("issue: %d %s", r.status, r.raw)
	}
	cred := r.str("credential")
	p := jwtPart(t, strings.SplitN(cred, "~", 2)[0], 1)
	st, _ := p["status"].(map[string]any)
	sl, _ := st["status_list"].(map[string]any)
	idx, okIdx := sl["idx"].(float64)
	uri, _ := sl["uri"].(string)
	if !okIdx || idx < 0 || idx != float64(int(idx)) || !strings.HasPrefix(uri, testIssuer+"/credentials/status/") {
		t.Fatalf("status claim %v", p["status"])
	}
	return cred, int(idx), uri
}

// fetchStatus fetches the list at uri and reads entry idx with the verifier
// a relying party would use, against the server's published keys.
func (e *env) fetchStatus(t *testing.T, uri string, idx int) (byte, *response) {
	t.Helper()
	r := e.request("GET", strings.TrimPrefix(uri, testIssuer), nil, map[string]string{"Accept": "application/statuslist+jwt"})
	if r.status != 200 {
		t.Fatalf("GET %s: %d %s", uri, r.status, r.raw)
	}
	tok, err := sdjwt.VerifyStatusListToken(sdjwt.StatusListVerifyRequest{
		Token: string(r.raw), Subject: uri, Issuer: testIssuer, Keys: e.srv.keyLookup(e.clock.Now()), Now: e.clock.Now(),
	})
	if err != nil {
		t.Fatalf("served list: %v", err)
	}
	status, ok := tok.List.Get(idx)
	if !ok {
		t.Fatalf("index %d outside the list of %d", idx, tok.List.Len())
	}
	return status, r
}

func (e *env) verifyPresentation(t *testing.T, u *user, cred, nonce string) *response {
	t.Helper()
	pres := present(t, u.key, cred, []string{"username"}, "https://rp.example", nonce, e.clock.Now())
	return e.request("POST", "/credentials/verify", map[string]any{"presentation": pres, "aud": "https://rp.example", "nonce": nonce}, nil)
}

func TestStatusListServedAndRevocationShowsWithinTTL(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	cred, idx, uri := issueCredential(t, alice)

	status, r := e.fetchStatus(t, uri, idx)
	if status != sdjwt.StatusValid {
		t.Fatalf("a new credential's status is %d", status)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/statuslist+jwt" {
		t.Fatalf("Content-Type %q", ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Fatalf("Cache-Control %q, want the ttl (300 s)", cc)
	}
	if r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal("the list must be readable from any origin")
	}
	h, p := jwtPart(t, string(r.raw), 0), jwtPart(t, string(r.raw), 1)
	if h["typ"] != "statuslist+jwt" || p["sub"] != uri || p["ttl"] != float64(300) ||
		p["exp"].(float64)-p["iat"].(float64) != 600 || p["iss"] != testIssuer {
		t.Fatalf("status list token %v %v", h, p)
	}
	if v := e.verifyPresentation(t, alice, cred, "n-1"); v.status != 200 {
		t.Fatalf("verify: %d %s", v.status, v.raw)
	}

	// The signed list is kept for a while; a revocation replaces it at once,
	// so a consumer caching for the ttl sees it within the ttl.
	if r := e.request("POST", "/revoke", url.Values{"token": {cred}}, alice.revokeProof()); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if status, _ := e.fetchStatus(t, uri, idx); status != sdjwt.StatusInvalid {
		t.Fatalf("revoked credential's status is %d on the served list", status)
	}
	e.restart()
	if status, _ := e.fetchStatus(t, uri, idx); status != sdjwt.StatusInvalid {
		t.Fatalf("after a restart the status is %d", status)
	}
	if v := e.verifyPresentation(t, alice, cred, "n-2"); v.status != 400 {
		t.Fatalf("revoked credential verified: %s", v.raw)
	}

	// A list that is old is signed again with a new iat and a live exp.
	_, first := e.fetchStatus(t, uri, idx)
	e.clock.Advance(3 * time.Minute)
	_, second := e.fetchStatus(t, uri, idx)
	if jwtPart(t, string(first.raw), 1)["iat"] == jwtPart(t, string(second.raw), 1)["iat"] {
		t.Fatal("a list older than ttl/2 is served unchanged")
	}
}

// /credentials/verify reads the list itself, not only the blacklist.
func TestVerifyChecksTheStatusList(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	cred, idx, uri := issueCredential(t, alice)
	if v := e.verifyPresentation(t, alice, cred, "n-1"); v.status != 200 {
		t.Fatalf("verify: %d %s", v.status, v.raw)
	}
	id := strings.TrimPrefix(uri, testIssuer+"/credentials/status/")
	if err := e.srv.db.Update(context.Background(), func(tx store.Tx) error { return tx.SetStatus(id, idx, sdjwt.StatusInvalid) }); err != nil {
		t.Fatal(err)
	}
	e.srv.statusListChanged(id)
	v := e.verifyPresentation(t, alice, cred, "n-2")
	if v.status != 400 || v.body["valid"] != false || !strings.Contains(v.str("error_description"), "status list") {
		t.Fatalf("a credential set invalid on its list verified: %d %s", v.status, v.raw)
	}
}

func TestStatusIndicesDoNotShowIssuanceOrder(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	var idxs []int
	var uri string
	for range 20 {
		_, idx, u := issueCredential(t, alice)
		if uri != "" && u != uri {
			t.Fatal("a new list before the first is full")
		}
		uri = u
		if slices.Contains(idxs, idx) {
			t.Fatalf("index %d given twice", idx)
		}
		idxs = append(idxs, idx)
	}
	neighbours := 0
	for i := 1; i < len(idxs); i++ {
		if d := idxs[i] - idxs[i-1]; d == 1 || d == -1 {
			neighbours++
		}
	}
	if neighbours > 1 || slices.IsSorted(idxs) {
		t.Fatalf("indices follow issuance order: %v", idxs)
	}
}

func TestFullStatusListOpensTheNext(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.StatusListSize = 8 })
	alice := e.newUser("alice", true)
	alice.signUp()
	uris := map[string][]int{}
	for range 9 {
		_, idx, uri := issueCredential(t, alice)
		uris[uri] = append(uris[uri], idx)
	}
	if len(uris) != 2 {
		t.Fatalf("9 credentials on lists of 8 went to %d lists", len(uris))
	}
	for uri, idxs := range uris {
		slices.Sort(idxs)
		if len(idxs) == 8 && !slices.Equal(idxs, []int{0, 1, 2, 3, 4, 5, 6, 7}) {
			t.Fatalf("full list %s has entries %v", uri, idxs)
		}
		for _, idx := range idxs {
			if s, _ := e.fetchStatus(t, uri, idx); s != sdjwt.StatusValid {
				t.Fatalf("entry %d of %s is %d", idx, uri, s)
			}
		}
	}
}

func TestStatusListUnknown(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{
		"/credentials/status/AAAAAAAAAAAAAAAAAAAAAA",
		"/credentials/status/short",
		"/credentials/status/" + strings.Repeat("A", 21) + "%2F",
		"/credentials/status/" + strings.Repeat("A", 4000),
	} {
		r := e.request("GET", path, nil, nil)
		expectError(t, r, 404, "not_found")
		if r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: an error is cacheable: %q", path, r.header.Get("Cache-Control"))
		}
	}
}

// jwx v3 verifies what Latch serves and issues, with the JWKS it serves.
func TestJWXVerifiesServedStatusList(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	cred, _, uri := issueCredential(t, alice)
	set, err := jwk.Parse(e.request("GET", "/.well-known/jwks.json", nil, nil).raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify([]byte(strings.SplitN(cred, "~", 2)[0]), jws.WithKeySet(set, jws.WithRequireKid(true))); err != nil {
		t.Fatalf("jwx refuses the credential with its status claim: %v", err)
	}
	_, r := e.fetchStatus(t, uri, 0)
	if _, err := jwt.Parse(r.raw, jwt.WithKeySet(set, jws.WithRequireKid(true)), jwt.WithSubject(uri), jwt.WithIssuer(testIssuer),
		jwt.WithClock(jwt.ClockFunc(e.clock.Now))); err != nil {
		t.Fatalf("jwx refuses the served status list: %v", err)
	}
}
