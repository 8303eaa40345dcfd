package resource_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/auth"
	"github.com/latchid/latch/auth/resource"
)

// payload decodes the claims of a JWT without checking anything.
func payload(t testing.TB, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", jwt)
	}
	raw, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := jsonUnmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDPoPRequestWithLatchToken(t *testing.T) {
	l := startLatch(t)
	g, _ := l.guard()
	h := g.Middleware(hello)
	c := l.signUp("alice", true)

	a := c.dpopCall(h, "GET", "/api/hello")
	if a.status != 200 {
		t.Fatalf("status %d %v", a.status, a.body)
	}
	claims := payload(t, c.access)
	if a.str("sub") != claims["sub"] || a.str("client_id") != claims["client_id"] || a.str("scope") != claims["scope"] || a.str("jti") != claims["jti"] {
		t.Fatalf("principal %v, token claims %v", a.body, claims)
	}
	if a.str("jkt") != thumbprint(c.key) {
		t.Fatalf("principal jkt %q, key thumbprint %q", a.str("jkt"), thumbprint(c.key))
	}
	// The htu is the configured public URL whatever the request's Host
	// says: a proof made for the Host the request names is refused.
	forHost := call(h, "GET", "/api/hello", map[string][]string{
		"Authorization": {"DPoP " + c.access},
		"DPoP":          {proof(t, c.key, l.clock.Now(), "GET", "http://internal.host/api/hello", c.access)},
	})
	expectRefusal(t, forHost, 401, "invalid_dpop_proof")

	// The same key set resolves kids for a status-list verifier.
	if pub, alg, err := g.Keys(ctx, kidOf(t, c.access)); err != nil || pub == nil || alg != "ES256" {
		t.Fatalf("Keys: %v %q %v", pub, alg, err)
	}
	if _, _, err := g.Keys(ctx, "no-such-kid"); err == nil {
		t.Fatal("Keys resolved an unknown kid")
	}
}

// TestChallengesAsLatchSendsThem compares the guard's refusals with
// Latch's own at /userinfo for the same faults.
func TestChallengesAsLatchSendsThem(t *testing.T) {
	l := startLatch(t)
	g, _ := l.guard(func(c *resource.Config) { c.AllowBearer = true; c.ResourceMetadataURL = "-" })
	h := g.Middleware(hello)
	c := l.signUp("carol", true)
	other := newKey(t)

	cases := []struct {
		name   string
		header func(url string) map[string]string
	}{
		{"no credentials", func(string) map[string]string { return nil }},
		{"malformed token", func(string) map[string]string { return map[string]string{"Authorization": "DPoP not-a-token"} }},
		{"bound token with Bearer", func(string) map[string]string { return map[string]string{"Authorization": "Bearer " + c.access} }},
		{"proof of another key", func(u string) map[string]string {
			return map[string]string{"Authorization": "DPoP " + c.access, "DPoP": proof(t, other, l.clock.Now(), "GET", u, c.access)}
		}},
		{"proof without ath", func(u string) map[string]string {
			return map[string]string{"Authorization": "DPoP " + c.access, "DPoP": proof(t, c.key, l.clock.Now(), "GET", u, "")}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, latchHeader, latchBody := l.do("GET", "/userinfo", nil, tc.header(l.issuer+"/userinfo"))
			hdr := map[string][]string{}
			for k, v := range tc.header(apiURL + "/userinfo") {
				hdr[k] = []string{v}
			}
			a := call(h, "GET", "/userinfo", hdr)
			if a.status != st || a.str("error") != latchBody["error"] {
				t.Fatalf("guard %d %v, Latch %d %v", a.status, a.body, st, latchBody)
			}
			got, want := a.header.Values("WWW-Authenticate"), latchHeader.Values("WWW-Authenticate")
			if strings.Join(got, "\n") != strings.Join(want, "\n") || len(want) == 0 {
				t.Fatalf("challenges differ:\nguard %q\nLatch %q", got, want)
			}
		})
	}
}

func TestResourceMetadataInChallenges(t *testing.T) {
	l := startLatch(t)
	g, _ := l.guard(func(c *resource.Config) { c.PublicURL = apiURL + "/v1/" })
	a := call(g.Middleware(hello), "GET", "/v1/x", nil)
	expectRefusal(t, a, 401, "invalid_token")
	want := []string{`DPoP algs="ES256 EdDSA", resource_metadata="https://api.example/.well-known/oauth-protected-resource/v1"`}
	if got := a.header.Values("WWW-Authenticate"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("challenges %q, want %q", got, want)
	}
	// The document itself, as MetadataHandler serves it.
	m := call(g.MetadataHandler(), "GET", "/.well-known/oauth-protected-resource/v1", nil)
	if m.status != 200 || m.str("resource") != apiURL+"/v1" || m.body["dpop_bound_access_tokens_required"] != true {
		t.Fatalf("metadata %d %v", m.status, m.body)
	}
	if as, _ := m.body["authorization_servers"].([]any); len(as) != 1 || as[0] != l.issuer {
		t.Fatalf("authorization_servers %v", m.body["authorization_servers"])
	}
}

// TestEveryDPoPRejection covers the checks of RFC 9449 sections 4.3 and 7
// with tokens the real Latch issued.
func TestEveryDPoPRejection(t *testing.T) {
	l := startLatch(t)
	g, _ := l.guard(func(c *resource.Config) { c.AllowBearer = true })
	h := g.Middleware(hello)
	c := l.signUp("dave", true)
	bearer := l.signUp("erin", false)
	other := newKey(t)
	const path = "/api/hello"
	u := apiURL + path
	now := l.clock.Now
	mk := func(mutate ...func(h, c map[string]any)) string {
		return proof(t, c.key, now(), "GET", u, c.access, mutate...)
	}
	good := func() map[string][]string {
		return map[string][]string{"Authorization": {"DPoP " + c.access}, "DPoP": {mk()}}
	}
	with := func(dpop ...string) map[string][]string {
		return map[string][]string{"Authorization": {"DPoP " + c.access}, "DPoP": dpop}
	}
	replayed := mk()
	if a := call(h, "GET", path, with(replayed)); a.status != 200 {
		t.Fatalf("first use: %d %v", a.status, a.body)
	}
	// A proof signed by other but naming c's key.
	forged := func() string {
		p := proof(t, other, now(), "GET", u, c.access, func(h, _ map[string]any) { h["jwk"] = jwkOf(c.key) })
		return p
	}

	cases := []struct {
		name   string
		header map[string][]string
		method string
		code   string
	}{
		{"no proof", map[string][]string{"Authorization": {"DPoP " + c.access}}, "GET", "invalid_dpop_proof"},
		{"two proofs", with(mk(), mk()), "GET", "invalid_dpop_proof"},
		{"proofs joined with a comma", with(mk() + "," + mk()), "GET", "invalid_dpop_proof"},
		{"not a JWT", with("abc.def"), "GET", "invalid_dpop_proof"},
		{"typ is not dpop+jwt", with(mk(func(h, _ map[string]any) { h["typ"] = "JWT" })), "GET", "invalid_dpop_proof"},
		{"alg none", with(mk(func(h, _ map[string]any) { h["alg"] = "none" })), "GET", "invalid_dpop_proof"},
		{"alg HS256", with(mk(func(h, _ map[string]any) { h["alg"] = "HS256" })), "GET", "invalid_dpop_proof"},
		{"no jwk", with(mk(func(h, _ map[string]any) { delete(h, "jwk") })), "GET", "invalid_dpop_proof"},
		{"private jwk", with(mk(func(h, _ map[string]any) {
			j := jwkOf(c.key)
			d, _ := c.key.Bytes()
			j["d"] = b64.EncodeToString(d)
			h["jwk"] = j
		})), "GET", "invalid_dpop_proof"},
		{"jwk of another curve", with(mk(func(h, _ map[string]any) { j := jwkOf(c.key); j["crv"] = "P-384"; h["jwk"] = j })), "GET", "invalid_dpop_proof"},
		{"crit header", with(mk(func(h, _ map[string]any) { h["crit"] = []string{"x"} })), "GET", "invalid_dpop_proof"},
		{"bad signature", with(forged()), "GET", "invalid_dpop_proof"},
		{"no jti", with(mk(func(_, c map[string]any) { delete(c, "jti") })), "GET", "invalid_dpop_proof"},
		{"jti too long", with(mk(func(_, c map[string]any) { c["jti"] = strings.Repeat("j", 300) })), "GET", "invalid_dpop_proof"},
		{"htm mismatch", good(), "POST", "invalid_dpop_proof"},
		{"htu of another host", with(mk(func(_, c map[string]any) { c["htu"] = "https://evil.example" + path })), "GET", "invalid_dpop_proof"},
		{"htu of another path", with(mk(func(_, c map[string]any) { c["htu"] = apiURL + "/api/other" })), "GET", "invalid_dpop_proof"},
		{"htu missing", with(mk(func(_, c map[string]any) { delete(c, "htu") })), "GET", "invalid_dpop_proof"},
		{"iat too old", with(mk(func(_, c map[string]any) { c["iat"] = now().Add(-2 * time.Minute).Unix() })), "GET", "invalid_dpop_proof"},
		{"iat in the future", with(mk(func(_, c map[string]any) { c["iat"] = now().Add(time.Minute).Unix() })), "GET", "invalid_dpop_proof"},
		{"iat a string", with(mk(func(_, c map[string]any) { c["iat"] = "1700000000" })), "GET", "invalid_dpop_proof"},
		{"no ath", with(proof(t, c.key, now(), "GET", u, "")), "GET", "invalid_dpop_proof"},
		{"ath of another token", with(proof(t, c.key, now(), "GET", u, bearer.access)), "GET", "invalid_dpop_proof"},
		{"proof of another key (cnf.jkt)", with(proof(t, other, now(), "GET", u, c.access)), "GET", "invalid_dpop_proof"},
		{"replayed proof", with(replayed), "GET", "invalid_dpop_proof"},
		{"bound token with Bearer", map[string][]string{"Authorization": {"Bearer " + c.access}, "DPoP": {mk()}}, "GET", "invalid_token"},
		{"unbound token with DPoP", map[string][]string{"Authorization": {"DPoP " + bearer.access}, "DPoP": {mk()}}, "GET", "invalid_token"},
		{"two Authorization headers", map[string][]string{"Authorization": {"DPoP " + c.access, "DPoP " + c.access}, "DPoP": {mk()}}, "GET", "invalid_request"},
		{"tampered token", map[string][]string{"Authorization": {"DPoP " + c.access + "x"}, "DPoP": {mk()}}, "GET", "invalid_token"},
		{"unknown scheme", map[string][]string{"Authorization": {"Basic " + c.access}}, "GET", "invalid_token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := call(h, tc.method, path, tc.header)
			status := 401
			if tc.code == "invalid_request" {
				status = 400
			}
			expectRefusal(t, a, status, tc.code)
			ch := strings.Join(a.header.Values("WWW-Authenticate"), "\n")
			if tc.code != "invalid_request" && !strings.Contains(ch, `DPoP error="`+tc.code+`", error_description="`+strings.ReplaceAll(a.str("error_description"), `"`, "'")+`"`) {
				t.Fatalf("challenge %q for %v", ch, a.body)
			}
		})
	}
	// None of the refusals spent the proof they carried, and the good
	// request still works.
	if a := call(h, "GET", path, good()); a.status != 200 {
		t.Fatalf("after the refusals: %d %v", a.status, a.body)
	}
}

func TestRefusedRequestDoesNotSpendItsProof(t *testing.T) {
	l := startLatch(t)
	g, _ := l.guard()
	h := g.Middleware(hello)
	c := l.signUp("frank", true)
	p := proof(t, c.key, l.clock.Now(), "GET", apiURL+"/api/hello", c.access)
	// Sent with the wrong scheme first: refused before the proof counts.
	expectRefusal(t, call(h, "GET", "/api/hello", map[string][]string{"Authorization": {"Bearer " + c.access}, "DPoP": {p}}), 401, "invalid_token")
	if a := call(h, "GET", "/api/hello", map[string][]string{"Authorization": {"DPoP " + c.access}, "DPoP": {p}}); a.status != 200 {
		t.Fatalf("the proof was spent by a refused request: %d %v", a.status, a.body)
	}
}

func TestBearerOnlyWhenConfigured(t *testing.T) {
	l := startLatch(t)
	bearer := l.signUp("gina", false)
	hdr := map[string][]string{"Authorization": {"Bearer " + bearer.access}}

	strict, _ := l.guard()
	a := call(strict.Middleware(hello), "GET", "/api/hello", hdr)
	expectRefusal(t, a, 401, "invalid_token")
	for _, ch := range a.header.Values("WWW-Authenticate") {
		if strings.HasPrefix(ch, "Bearer") {
			t.Fatalf("a guard refusing Bearer tokens offers them: %q", ch)
		}
	}
	lenient, _ := l.guard(func(c *resource.Config) { c.AllowBearer = true })
	a = call(lenient.Middleware(hello), "GET", "/api/hello", hdr)
	if a.status != 200 || a.str("jkt") != "" || a.str("sub") == "" {
		t.Fatalf("Bearer with AllowBearer: %d %v", a.status, a.body)
	}
	a = call(lenient.Middleware(hello), "GET", "/api/hello", nil)
	if ch := a.header.Values("WWW-Authenticate"); len(ch) != 2 || !strings.HasPrefix(ch[1], `Bearer realm="latch"`) {
		t.Fatalf("challenges %q", ch)
	}
}

func TestWrongAudienceAndIssuerRefused(t *testing.T) {
	l := startLatch(t, func(c *auth.Config) { c.Audience = "https://api.other.example" })
	c := l.signUp("hank", true)
	for name, mod := range map[string]func(*resource.Config){
		"audience":                      func(c *resource.Config) { c.Audience = apiURL },
		"default audience (the issuer)": func(*resource.Config) {},
	} {
		g, _ := l.guard(mod)
		a := c.dpopCall(g.Middleware(hello), "GET", "/api/hello")
		expectRefusal(t, a, 401, "invalid_token")
		if !strings.Contains(a.str("error_description"), "audience") {
			t.Fatalf("%s: %v", name, a.body)
		}
	}
	g, _ := l.guard(func(c *resource.Config) { c.Audience = "https://api.other.example" })
	if a := c.dpopCall(g.Middleware(hello), "GET", "/api/hello"); a.status != 200 {
		t.Fatalf("right audience: %d %v", a.status, a.body)
	}
}

func TestExpiredTokenRefused(t *testing.T) {
	l := startLatch(t)
	g, _ := l.guard()
	h := g.Middleware(hello)
	c := l.signUp("iris", true)
	if a := c.dpopCall(h, "GET", "/x"); a.status != 200 {
		t.Fatalf("%d %v", a.status, a.body)
	}
	// Cached as verified, yet refused once expired (with Latch's 5 s skew).
	l.clock.Advance(10*time.Minute + 6*time.Second)
	a := c.dpopCall(h, "GET", "/x")
	expectRefusal(t, a, 401, "invalid_token")
	if !strings.Contains(a.str("error_description"), "expired") {
		t.Fatalf("%v", a.body)
	}
}

// TestKeyRotationMidRun rotates Latch's signing key while the guard runs:
// a token of the new key makes it fetch the JWK Set once, and tokens of
// the retired key keep verifying.
func TestKeyRotationMidRun(t *testing.T) {
	l := startLatch(t)
	g, cc := l.guard(func(c *resource.Config) { c.JWKSMinInterval = time.Second })
	h := g.Middleware(hello)
	c := l.signUp("jack", true)
	if a := c.dpopCall(h, "GET", "/x"); a.status != 200 {
		t.Fatalf("%d %v", a.status, a.body)
	}
	if n := cc.jwks.Load(); n != 1 {
		t.Fatalf("%d fetches before rotation", n)
	}
	old := c.access
	if _, err := l.srv.RotateKeys(ctx, ""); err != nil {
		t.Fatal(err)
	}
	c.refreshTokens()
	if kidOf(t, old) == kidOf(t, c.access) {
		t.Fatal("rotation did not change the kid")
	}
	l.clock.Advance(2 * time.Second)
	if a := c.dpopCall(h, "GET", "/x"); a.status != 200 {
		t.Fatalf("token of the new key: %d %v", a.status, a.body)
	}
	if n := cc.jwks.Load(); n != 2 {
		t.Fatalf("%d fetches after rotation, want 2", n)
	}
	c.access = old
	if a := c.dpopCall(h, "GET", "/x"); a.status != 200 {
		t.Fatalf("token of the retired key: %d %v", a.status, a.body)
	}
	if n := cc.jwks.Load(); n != 2 {
		t.Fatalf("%d fetches, want no more", n)
	}
}

func kidOf(t testing.TB, jwt string) string {
	t.Helper()
	raw, err := b64.DecodeString(strings.Split(jwt, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := jsonUnmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	kid, _ := h["kid"].(string)
	return kid
}

// TestUnknownKidFlood sends many tokens naming kids the issuer never had:
// the guard fetches the JWK Set at most once per interval.
func TestUnknownKidFlood(t *testing.T) {
	l := startLatch(t)
	g, cc := l.guard(func(c *resource.Config) { c.JWKSMinInterval = time.Minute })
	h := g.Middleware(hello)
	c := l.signUp("kate", true)
	if a := c.dpopCall(h, "GET", "/x"); a.status != 200 {
		t.Fatalf("%d %v", a.status, a.body)
	}
	attacker := newKey(t)
	forge := func(i int) string {
		return signJWS(t, attacker, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "kid-" + string(rune('a'+i%26)) + time.Now().String()},
			map[string]any{"iss": l.issuer, "sub": "x", "aud": l.issuer, "exp": l.clock.Now().Add(time.Minute).Unix(), "iat": l.clock.Now().Unix(), "jti": "j", "client_id": "c"})
	}
	check := func(rounds int) {
		var wg sync.WaitGroup
		for i := range rounds {
			wg.Add(1)
			go func(tok string) {
				defer wg.Done()
				a := call(h, "GET", "/x", map[string][]string{"Authorization": {"Bearer " + tok}})
				if a.status != 401 || a.str("error") != "invalid_token" {
					t.Errorf("forged token: %d %v", a.status, a.body)
				}
			}(forge(i))
		}
		wg.Wait()
	}
	// The first unknown kid within a minute of the initial fetch fetches
	// nothing.
	check(200)
	if n := cc.jwks.Load(); n != 1 {
		t.Fatalf("%d fetches during the flood, want 1 (the first)", n)
	}
	l.clock.Advance(61 * time.Second)
	check(200)
	if n := cc.jwks.Load(); n != 2 {
		t.Fatalf("%d fetches after the interval, want 2", n)
	}
}

func TestNonceFlow(t *testing.T) {
	l := startLatch(t)
	g, _ := l.guard(func(c *resource.Config) { c.DPoPNonce = true })
	h := g.Middleware(hello)
	c := l.signUp("liam", true)
	path := "/api/hello"
	first := proof(t, c.key, l.clock.Now(), "GET", apiURL+path, c.access)
	a := call(h, "GET", path, map[string][]string{"Authorization": {"DPoP " + c.access}, "DPoP": {first}})
	expectRefusal(t, a, 401, "use_dpop_nonce")
	nonce := a.header.Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("use_dpop_nonce without DPoP-Nonce")
	}
	want := `DPoP error="use_dpop_nonce", error_description="A DPoP nonce is required; use the one in the DPoP-Nonce header.", algs="ES256 EdDSA", resource_metadata="https://api.example/.well-known/oauth-protected-resource"`
	if ch := a.header.Values("WWW-Authenticate"); len(ch) != 1 || ch[0] != want {
		t.Fatalf("challenge %q", ch)
	}
	wrong := proof(t, c.key, l.clock.Now(), "GET", apiURL+path, c.access, func(_, cl map[string]any) { cl["nonce"] = "AAAAAAAAAAAAAAAAAAAAAA" })
	expectRefusal(t, call(h, "GET", path, map[string][]string{"Authorization": {"DPoP " + c.access}, "DPoP": {wrong}}), 401, "use_dpop_nonce")
	retry := proof(t, c.key, l.clock.Now(), "GET", apiURL+path, c.access, func(_, cl map[string]any) { cl["nonce"] = nonce })
	a = call(h, "GET", path, map[string][]string{"Authorization": {"DPoP " + c.access}, "DPoP": {retry}})
	if a.status != 200 {
		t.Fatalf("with the nonce: %d %v", a.status, a.body)
	}
	if a.header.Get("DPoP-Nonce") == "" {
		t.Fatal("a success carries no DPoP-Nonce")
	}
	// Two windows later the nonce is stale.
	l.clock.Advance(2*time.Minute + time.Second)
	c.refreshTokens()
	stale := proof(t, c.key, l.clock.Now(), "GET", apiURL+path, c.access, func(_, cl map[string]any) { cl["nonce"] = nonce })
	expectRefusal(t, call(h, "GET", path, map[string][]string{"Authorization": {"DPoP " + c.access}, "DPoP": {stale}}), 401, "use_dpop_nonce")
}

// TestReplayWithinAndAcrossInstances: one guard refuses a proof it has
// seen; two guards share no replay cache, so each accepts it once. That
// is the documented limitation of an in-process cache.
func TestReplayWithinAndAcrossInstances(t *testing.T) {
	l := startLatch(t)
	g1, _ := l.guard()
	g2, _ := l.guard()
	h1, h2 := g1.Middleware(hello), g2.Middleware(hello)
	c := l.signUp("mia", true)
	hdr := map[string][]string{"Authorization": {"DPoP " + c.access}, "DPoP": {proof(t, c.key, l.clock.Now(), "GET", apiURL+"/x", c.access)}}
	if a := call(h1, "GET", "/x", hdr); a.status != 200 {
		t.Fatalf("%d %v", a.status, a.body)
	}
	a := call(h1, "GET", "/x", hdr)
	expectRefusal(t, a, 401, "invalid_dpop_proof")
	if !strings.Contains(a.str("error_description"), "already been used") {
		t.Fatalf("%v", a.body)
	}
	if a := call(h2, "GET", "/x", hdr); a.status != 200 {
		t.Fatalf("a second instance shares nothing, so it accepts the proof once: %d %v", a.status, a.body)
	}
	expectRefusal(t, call(h2, "GET", "/x", hdr), 401, "invalid_dpop_proof")
	// Past the proof's iat window, neither would accept it anyway.
	l.clock.Advance(61 * time.Second)
	expectRefusal(t, call(h1, "GET", "/x", hdr), 401, "invalid_dpop_proof")
}

// introspectionClient registers an introspection client through the
// running server's admin socket.
func (l *latch) introspectionClient(id string) string {
	l.t.Helper()
	ac, err := auth.DialAdmin(l.cfg.DataDir)
	if err != nil {
		l.t.Fatal(err)
	}
	secret, err := ac.CreateClient(ctx, id)
	if err != nil {
		l.t.Fatal(err)
	}
	return secret
}

// revoke revokes a token at Latch as the introspection client.
func (l *latch) revoke(id, secret, token string) {
	l.t.Helper()
	st, _, body := l.do("POST", "/revoke", formOf("token", token), map[string]string{"Authorization": basic(id, secret)})
	if st != 200 {
		l.t.Fatalf("revoke: %d %v", st, body)
	}
}

func TestIntrospectionStaleness(t *testing.T) {
	l := startLatch(t)
	secret := l.introspectionClient("api")
	g, _ := l.guard(func(c *resource.Config) {
		c.Introspection = &resource.Introspection{ClientID: "api", ClientSecret: secret, MaxStale: 20 * time.Second}
	})
	h := g.Middleware(hello)
	c := l.signUp("noah", true)
	if a := c.dpopCall(h, "GET", "/x"); a.status != 200 {
		t.Fatalf("%d %v", a.status, a.body)
	}
	l.revoke("api", secret, c.access)
	// Within the bound the last answer stands (offline verification still
	// passes: the token is unexpired and well signed).
	l.clock.Advance(10 * time.Second)
	if a := c.dpopCall(h, "GET", "/x"); a.status != 200 {
		t.Fatalf("within the staleness bound: %d %v", a.status, a.body)
	}
	// Once the bound has passed since the last answer, the revocation shows.
	l.clock.Advance(11 * time.Second)
	a := c.dpopCall(h, "GET", "/x")
	expectRefusal(t, a, 401, "invalid_token")
	if !strings.Contains(a.str("error_description"), "revoked") {
		t.Fatalf("%v", a.body)
	}
	// A guard without introspection cannot know.
	plain, _ := l.guard()
	if a := c.dpopCall(plain.Middleware(hello), "GET", "/x"); a.status != 200 {
		t.Fatalf("offline only: %d %v", a.status, a.body)
	}
}

func TestIntrospectionFailureFailsClosed(t *testing.T) {
	l := startLatch(t)
	g, _ := l.guard(func(c *resource.Config) {
		c.Introspection = &resource.Introspection{ClientID: "api", ClientSecret: "wrong"}
	})
	c := l.signUp("olga", true)
	a := c.dpopCall(g.Middleware(hello), "GET", "/x")
	expectRefusal(t, a, 503, "temporarily_unavailable")
	if a.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	// The proof was not spent: the same request succeeds once the issuer
	// answers (here, with the right credentials on a new guard does not
	// apply; the replay cache is the first guard's).
	p := proof(t, c.key, l.clock.Now(), "GET", apiURL+"/x", c.access)
	hdr := map[string][]string{"Authorization": {"DPoP " + c.access}, "DPoP": {p}}
	expectRefusal(t, call(g.Middleware(hello), "GET", "/x", hdr), 503, "temporarily_unavailable")
	if a := call(g.Middleware(hello), "GET", "/x", hdr); a.str("error_description") == "The DPoP proof has already been used." {
		t.Fatal("a 503 spent the proof")
	}
}

func TestIssuerUnreachable(t *testing.T) {
	g, err := resource.New(resource.Config{Issuer: "http://127.0.0.1:1", PublicURL: apiURL, FetchTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	a := call(g.Middleware(hello), "GET", "/x", map[string][]string{"Authorization": {"DPoP a.b.c"}})
	expectRefusal(t, a, 503, "temporarily_unavailable")
	if err := g.Refresh(ctx); err == nil {
		t.Fatal("Refresh reached an issuer that is not there")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]resource.Config{
		"no issuer":           {PublicURL: apiURL},
		"no public URL":       {Issuer: "https://id.example"},
		"relative public URL": {Issuer: "https://id.example", PublicURL: "/api"},
		"public URL query":    {Issuer: "https://id.example", PublicURL: apiURL + "?a=b"},
		"realm with a quote":  {Issuer: "https://id.example", PublicURL: apiURL, Realm: `a"b`},
		"introspection without secret": {Issuer: "https://id.example", PublicURL: apiURL,
			Introspection: &resource.Introspection{ClientID: "api"}},
	} {
		if _, err := resource.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestStaleKeySetRefreshedInBackground: once the installed JWK Set is older
// than JWKSRefresh a request starts one background fetch, and keeps being
// served from the installed set meanwhile.
func TestStaleKeySetRefreshedInBackground(t *testing.T) {
	l := startLatch(t)
	g, cc := l.guard(func(c *resource.Config) { c.JWKSRefresh = time.Minute })
	h := g.Middleware(hello)
	c := l.signUp("pia", true)
	if a := c.dpopCall(h, "GET", "/x"); a.status != 200 {
		t.Fatalf("%d %v", a.status, a.body)
	}
	l.clock.Advance(2 * time.Minute)
	if a := c.dpopCall(h, "GET", "/x"); a.status != 200 {
		t.Fatalf("with a stale set: %d %v", a.status, a.body)
	}
	for i := 0; cc.jwks.Load() < 2; i++ {
		if i == 500 {
			t.Fatalf("no background fetch: %d fetches", cc.jwks.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if a := c.dpopCall(h, "GET", "/x"); a.status != 200 || cc.jwks.Load() != 2 {
		t.Fatalf("after the refresh: %d %v, %d fetches", a.status, a.body, cc.jwks.Load())
	}
}
