package sdjwt

import (
	"crypto"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/latchid/latch/tokens/jose"
)

const statusTestURI = "https://issuer.example.com/credentials/status/list-1"

// statusTestToken signs a list with two revoked entries.
func statusTestToken(t testing.TB, key *jose.SigningKey, mod func(*StatusListClaims)) (string, *StatusList) {
	t.Helper()
	l, err := NewStatusList(1, 1<<17)
	if err != nil {
		t.Fatal(err)
	}
	l.Set(7, StatusInvalid)
	l.Set(100_000, StatusInvalid)
	c := StatusListClaims{
		Subject: statusTestURI, Issuer: sdTestIssuer,
		IssuedAt: sdTestNow, ExpiresAt: sdTestNow.Add(10 * time.Minute), TTL: 5 * time.Minute, List: l,
	}
	if mod != nil {
		mod(&c)
	}
	token, err := SignStatusList(c, key)
	if err != nil {
		t.Fatal(err)
	}
	return token, l
}

func keyLookupOf(keys ...*jose.SigningKey) SDKeyLookup {
	return func(kid string) (crypto.PublicKey, string, bool) {
		for _, k := range keys {
			if k.ID == kid {
				return k.Public(), k.Alg, true
			}
		}
		return nil, "", false
	}
}

func TestStatusListTokenRoundTrip(t *testing.T) {
	for _, alg := range []string{jose.AlgES256, jose.AlgEdDSA} {
		key, err := jose.GenerateSigningKey(alg, sdTestNow)
		if err != nil {
			t.Fatal(err)
		}
		token, l := statusTestToken(t, key, nil)
		h, p := decodeTestSegment(t, token, 0), decodeTestSegment(t, token, 1)
		if h["typ"] != "statuslist+jwt" || h["kid"] != key.ID || h["alg"] != alg {
			t.Fatalf("header %v", h)
		}
		if p["sub"] != statusTestURI || p["ttl"] != float64(300) || p["iat"] != float64(sdTestNow.Unix()) ||
			p["exp"] != float64(sdTestNow.Add(10*time.Minute).Unix()) || p["iss"] != sdTestIssuer {
			t.Fatalf("payload %v", p)
		}
		sl := p["status_list"].(map[string]any)
		if ref := refStatusDecode(t, 1, sl["lst"].(string)); sl["bits"] != float64(1) || ref[7] != 1 || ref[100_000] != 1 || ref[8] != 0 || len(ref) != 1<<17 {
			t.Fatalf("status_list %v does not read back in the second decoder", sl["bits"])
		}
		got, err := VerifyStatusListToken(StatusListVerifyRequest{
			Token: token, Subject: statusTestURI, Issuer: sdTestIssuer, Keys: keyLookupOf(key), Now: sdTestNow.Add(time.Minute),
		})
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if got.TTL != 5*time.Minute || !got.IssuedAt.Equal(sdTestNow) || got.List.Len() != l.Len() || got.Subject != statusTestURI {
			t.Fatalf("%s: %+v", alg, got)
		}
		if s, _ := got.List.Get(100_000); s != StatusInvalid {
			t.Fatal("revoked entry reads valid")
		}
	}
}

func decodeTestSegment(t testing.TB, token string, i int) map[string]any {
	t.Helper()
	m, err := sdDecodeObject(mustB64(t, strings.Split(token, ".")[i]))
	if err != nil {
		t.Fatal(err)
	}
	// Numbers as float64, for comparing with literals.
	for k, v := range m {
		if n, ok := v.(interface{ Float64() (float64, error) }); ok {
			m[k], _ = n.Float64()
		}
		if sub, ok := v.(map[string]any); ok {
			for sk, sv := range sub {
				if n, ok := sv.(interface{ Float64() (float64, error) }); ok {
					sub[sk], _ = n.Float64()
				}
			}
		}
	}
	return m
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := b64.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyStatusListTokenRejects(t *testing.T) {
	key, _ := jose.GenerateSigningKey(jose.AlgES256, sdTestNow)
	other, _ := jose.GenerateSigningKey(jose.AlgES256, sdTestNow)
	good, _ := statusTestToken(t, key, nil)
	noExp, _ := statusTestToken(t, key, func(c *StatusListClaims) { c.ExpiresAt = time.Time{} })
	now := sdTestNow.Add(time.Minute)
	priv := key.Signer()
	header := map[string]any{"alg": "ES256", "kid": key.ID, "typ": "statuslist+jwt"}
	payload := func(mod func(map[string]any)) map[string]any {
		p := map[string]any{"sub": statusTestURI, "iat": sdTestNow.Unix(), "ttl": 300,
			"status_list": map[string]any{"bits": 1, "lst": "eNrbuRgAAhcBXQ"}}
		if mod != nil {
			mod(p)
		}
		return p
	}
	forged := func(h map[string]any, p any) string { return signTestJWS(t, h, p, "ES256", priv) }
	withHeader := func(mod func(map[string]any)) map[string]any {
		h := map[string]any{}
		for k, v := range header {
			h[k] = v
		}
		mod(h)
		return h
	}
	cases := map[string]struct {
		token, subject string
		now            time.Time
		want           string
	}{
		"expired":               {good, statusTestURI, sdTestNow.Add(10 * time.Minute), "expired"},
		"sub of another list":   {good, statusTestURI + "x", now, "sub does not match"},
		"signed by another key": {forged(withHeader(func(h map[string]any) { h["kid"] = other.ID }), payload(nil)), statusTestURI, now, "signature invalid"},
		"unknown kid":           {forged(withHeader(func(h map[string]any) { h["kid"] = "nope" }), payload(nil)), statusTestURI, now, "key unknown"},
		"no kid":                {forged(withHeader(func(h map[string]any) { delete(h, "kid") }), payload(nil)), statusTestURI, now, "kid missing"},
		"typ jwt":               {forged(withHeader(func(h map[string]any) { h["typ"] = "JWT" }), payload(nil)), statusTestURI, now, "typ must be"},
		"alg none":              {forged(withHeader(func(h map[string]any) { h["alg"] = "none" }), payload(nil)), statusTestURI, now, "alg not allowed"},
		"alg HS256":             {signTestJWS(t, withHeader(func(h map[string]any) { h["alg"] = "HS256" }), payload(nil), "HS256", []byte("k")), statusTestURI, now, "alg not allowed"},
		"crit":                  {forged(withHeader(func(h map[string]any) { h["crit"] = []string{"x"} }), payload(nil)), statusTestURI, now, "crit"},
		"signature altered":     {good[:len(good)-2] + "AA", statusTestURI, now, "signature invalid"},
		"no iat":                {forged(header, payload(func(p map[string]any) { delete(p, "iat") })), statusTestURI, now, "iat missing"},
		"iat in the future":     {forged(header, payload(func(p map[string]any) { p["iat"] = now.Add(time.Hour).Unix() })), statusTestURI, now, "in the future"},
		"nbf not reached":       {forged(header, payload(func(p map[string]any) { p["nbf"] = now.Add(time.Hour).Unix() })), statusTestURI, now, "not yet valid"},
		"ttl zero":              {forged(header, payload(func(p map[string]any) { p["ttl"] = 0 })), statusTestURI, now, "ttl"},
		"ttl a string":          {forged(header, payload(func(p map[string]any) { p["ttl"] = "300" })), statusTestURI, now, "ttl"},
		"iss not a string":      {forged(header, payload(func(p map[string]any) { p["iss"] = 1 })), statusTestURI, now, "iss"},
		"no status_list":        {forged(header, payload(func(p map[string]any) { delete(p, "status_list") })), statusTestURI, now, "status_list missing"},
		"bits 3":                {forged(header, payload(func(p map[string]any) { p["status_list"] = map[string]any{"bits": 3, "lst": "eNrbuRgAAhcBXQ"} })), statusTestURI, now, "bits"},
		"bits a string":         {forged(header, payload(func(p map[string]any) { p["status_list"] = map[string]any{"bits": "1", "lst": "eNrbuRgAAhcBXQ"} })), statusTestURI, now, "bits"},
		"lst not zlib":          {forged(header, payload(func(p map[string]any) { p["status_list"] = map[string]any{"bits": 1, "lst": "AAAA"} })), statusTestURI, now, "zlib"},
		"duplicate sub":         {forged(header, []byte(`{"sub":"x","sub":"`+statusTestURI+`","iat":1790000000,"status_list":{"bits":1,"lst":"eNrbuRgAAhcBXQ"}}`)), statusTestURI, now, "malformed"},
		"not a jws":             {"a.b", statusTestURI, now, "malformed"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := VerifyStatusListToken(StatusListVerifyRequest{Token: c.token, Subject: c.subject, Keys: keyLookupOf(key, other), Now: c.now})
			var se *StatusListError
			if !errors.As(err, &se) || !strings.Contains(se.Description, c.want) {
				t.Fatalf("got %v, want a StatusListError about %q", err, c.want)
			}
		})
	}
	if _, err := VerifyStatusListToken(StatusListVerifyRequest{Token: good, Subject: statusTestURI, Issuer: "https://other.example", Keys: keyLookupOf(key), Now: now}); err == nil {
		t.Fatal("issuer mismatch accepted")
	}
	// The same forging helper makes an acceptable token when nothing is wrong,
	// so the cases above fail for the reason they name.
	if _, err := VerifyStatusListToken(StatusListVerifyRequest{Token: forged(header, payload(nil)), Subject: statusTestURI, Keys: keyLookupOf(key), Now: now}); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
	if _, err := VerifyStatusListToken(StatusListVerifyRequest{Token: noExp, Subject: statusTestURI, Keys: keyLookupOf(key), Now: now.Add(24 * time.Hour)}); err != nil {
		t.Fatalf("a token without exp does not expire: %v", err)
	}
}

// jwx v3, a second JOSE implementation, verifies the Status List Token and
// an SD-JWT carrying the status claim with the JWKS Latch publishes.
func TestJWXVerifiesStatusListToken(t *testing.T) {
	es, ed, ring := oracleRing(t)
	set := oracleSet(t, ring)
	for _, key := range []*jose.SigningKey{es, ed} {
		token, _ := statusTestToken(t, key, func(c *StatusListClaims) {
			c.IssuedAt, c.ExpiresAt = accessT0, accessT0.Add(10*time.Minute)
		})
		tok, err := jwt.Parse([]byte(token), jwt.WithKeySet(set, jws.WithRequireKid(true)),
			jwt.WithClock(jwt.ClockFunc(func() time.Time { return accessT0.Add(time.Minute) })),
			jwt.WithSubject(statusTestURI))
		if err != nil {
			t.Fatalf("%s: jwx refuses the status list token: %v", key.Alg, err)
		}
		var sl map[string]any
		if err := tok.Get("status_list", &sl); err != nil || sl["bits"] != float64(1) {
			t.Fatalf("%s: jwx reads status_list %v (%v)", key.Alg, sl, err)
		}
		msg, err := jws.Parse([]byte(token))
		if err != nil {
			t.Fatal(err)
		}
		if typ, _ := msg.Signatures()[0].ProtectedHeaders().Type(); typ != "statuslist+jwt" {
			t.Fatalf("typ %q", typ)
		}

		cred, err := SDIssue(SDIssueRequest{
			Issuer: sdTestIssuer, VCT: sdTestVCT, IssuedAt: accessT0, ExpiresAt: accessT0.Add(time.Hour),
			HolderJWK: sdTestECJWK(t, &mustECKey(t).PublicKey), Claims: map[string]any{"username": "alice"},
			Status: &StatusRef{Index: 4242, URI: statusTestURI},
		}, key.Signer(), key.Alg, key.ID)
		if err != nil {
			t.Fatal(err)
		}
		payload, err := jws.Verify([]byte(cred.IssuerJWT), jws.WithKeySet(set, jws.WithRequireKid(true)))
		if err != nil {
			t.Fatalf("%s: jwx refuses the SD-JWT with a status claim: %v", key.Alg, err)
		}
		if !strings.Contains(string(payload), `"status":{"status_list":{"idx":4242,"uri":"`+statusTestURI+`"}}`) {
			t.Fatalf("status claim as signed: %s", payload)
		}
	}
}

func TestSDStatusClaim(t *testing.T) {
	fx := sdNewFixture(t)
	issue := func(ref *StatusRef) (*SDCredential, error) {
		return SDIssue(SDIssueRequest{
			Issuer: sdTestIssuer, VCT: sdTestVCT, IssuedAt: sdTestNow.Add(-time.Hour), ExpiresAt: sdTestNow.Add(time.Hour),
			HolderJWK: fx.holderJWK, Claims: fx.claims(), Status: ref,
		}, fx.issuer, "ES256", sdTestKID)
	}
	cred, err := issue(&StatusRef{Index: 99, URI: statusTestURI})
	if err != nil {
		t.Fatal(err)
	}
	pres, err := SDVerify(fx.request(fx.present(t, cred.IssuerJWT, sdPick(t, cred, "username"), sdKBOptions{})))
	if err != nil {
		t.Fatal(err)
	}
	if pres.Status == nil || *pres.Status != (StatusRef{Index: 99, URI: statusTestURI}) {
		t.Fatalf("status %+v", pres.Status)
	}
	if pres.Claims["status"] == nil {
		t.Fatal("status must be an always-visible claim")
	}
	in, err := SDInspectIssued(cred.Compact, sdTestIssuer, fx.keys(), sdTestNow)
	if err != nil || in.Status == nil || in.Status.Index != 99 {
		t.Fatalf("inspect: %+v %v", in, err)
	}
	for _, bad := range []StatusRef{{Index: -1, URI: statusTestURI}, {Index: 1, URI: ""}, {Index: 1, URI: "/relative"}} {
		if _, err := issue(&bad); err == nil {
			t.Fatalf("issued status %+v", bad)
		}
	}
	// A malformed status_list signed by the issuer is refused by the verifier.
	for name, status := range map[string]any{
		"idx negative":    map[string]any{"status_list": map[string]any{"idx": -1, "uri": statusTestURI}},
		"idx fractional":  map[string]any{"status_list": map[string]any{"idx": 1.5, "uri": statusTestURI}},
		"uri missing":     map[string]any{"status_list": map[string]any{"idx": 1}},
		"not an object":   "revoked",
		"empty object":    map[string]any{},
		"list not object": map[string]any{"status_list": []any{1}},
	} {
		p := fx.basePayload(t)
		p["status"] = status
		jwt := fx.signIssuer(t, p)
		_, err := SDVerify(fx.request(fx.present(t, jwt, nil, sdKBOptions{})))
		var se *SDError
		if !errors.As(err, &se) || !strings.Contains(se.Description, "status") {
			t.Fatalf("%s: %v", name, err)
		}
	}
}
