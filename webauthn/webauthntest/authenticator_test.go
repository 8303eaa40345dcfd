package webauthntest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

const (
	rpID   = "localhost"
	origin = "http://localhost:8080"
	// challenge is "challenge-challenge-challenge-32" in unpadded base64url.
	challenge = "Y2hhbGxlbmdlLWNoYWxsZW5nZS1jaGFsbGVuZ2UtMzI"
)

// creation returns creation options for the given user handle (base64url).
func creation(userID string, exclude ...string) []byte {
	var ex []string
	for _, id := range exclude {
		ex = append(ex, `{"type":"public-key","id":"`+id+`"}`)
	}
	return []byte(`{"rp":{"id":"localhost","name":"Latch"},"user":{"id":"` + userID + `","name":"a","displayName":"a"},` +
		`"challenge":"` + challenge + `","pubKeyCredParams":[{"type":"public-key","alg":-7}],` +
		`"excludeCredentials":[` + strings.Join(ex, ",") + `],"attestation":"none"}`)
}

// request returns request options with the given allow list (base64url IDs).
func request(allow ...string) []byte {
	var al []string
	for _, id := range allow {
		al = append(al, `{"type":"public-key","id":"`+id+`"}`)
	}
	return []byte(`{"challenge":"` + challenge + `","rpId":"localhost","allowCredentials":[` + strings.Join(al, ",") + `]}`)
}

// registrationJSON is RegistrationResponseJSON as a browser's toJSON() shapes it.
type registrationJSON struct {
	ID, RawID, Type, AuthenticatorAttachment string
	ClientExtensionResults                   map[string]any
	Response                                 struct {
		ClientDataJSON, AuthenticatorData, PublicKey, AttestationObject string
		Transports                                                      []string
		PublicKeyAlgorithm                                              int
	}
}

// authenticationJSON is AuthenticationResponseJSON.
type authenticationJSON struct {
	ID, RawID, Type, AuthenticatorAttachment string
	ClientExtensionResults                   map[string]any
	Response                                 struct {
		ClientDataJSON, AuthenticatorData, Signature, UserHandle string
	}
}

// TestCreateProducesBrowserShapedJSON checks every member a browser's
// credential.toJSON() includes is present and consistent.
func TestCreateProducesBrowserShapedJSON(t *testing.T) {
	a := New(rpID, origin)
	out, err := a.Create(creation("dXNlcg"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "rawId", "type", "response", "clientExtensionResults", "authenticatorAttachment"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("member %q missing from %s", k, out)
		}
	}
	var r registrationJSON
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	object, err := b64(r.Response.AttestationObject)
	if err != nil {
		t.Fatal(err)
	}
	var att struct {
		Fmt      string `cbor:"fmt"`
		AuthData []byte `cbor:"authData"`
	}
	if err := cbor.Unmarshal(object, &att); err != nil {
		t.Fatal(err)
	}
	authData, _ := b64(r.Response.AuthenticatorData)
	spki, _ := b64(r.Response.PublicKey)
	pub, err := x509.ParsePKIXPublicKey(spki)
	_, isEC := pub.(*ecdsa.PublicKey)
	rpHash := sha256.Sum256([]byte(rpID))
	cd, _ := b64(r.Response.ClientDataJSON)
	var clientData struct{ Type, Challenge, Origin string }
	_ = json.Unmarshal(cd, &clientData)
	ids := a.CredentialIDs()

	checks := []struct {
		name string
		ok   bool
	}{
		{"id equals rawId", r.ID == r.RawID && r.ID != ""},
		{"type is public-key", r.Type == "public-key"},
		{"clientExtensionResults is an empty object", r.ClientExtensionResults != nil && len(r.ClientExtensionResults) == 0},
		{"attachment is platform", r.AuthenticatorAttachment == "platform"},
		{"transports are hybrid and internal", strings.Join(r.Response.Transports, ",") == "hybrid,internal"},
		{"algorithm is ES256", r.Response.PublicKeyAlgorithm == -7},
		{"publicKey is an EC SubjectPublicKeyInfo", err == nil && isEC},
		{"authenticatorData equals the one in the attestation object", bytes.Equal(authData, att.AuthData) && len(authData) > 37},
		{"authenticatorData starts with the RP ID hash", bytes.Equal(authData[:32], rpHash[:])},
		{"flags are UP, UV and AT", authData[32] == 0x45},
		{"client data is a create for the origin and challenge", clientData.Type == "webauthn.create" && clientData.Origin == origin && clientData.Challenge == challenge},
		{"credential is remembered", len(ids) == 1 && enc(ids[0]) == r.ID},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: %s", c.name, out)
		}
	}
}

// TestGetProducesBrowserShapedJSON checks the assertion JSON and the honest
// counter behaviour.
func TestGetProducesBrowserShapedJSON(t *testing.T) {
	a := New(rpID, origin)
	if _, err := a.Create(creation("dXNlcg"), Options{}); err != nil {
		t.Fatal(err)
	}
	for want := uint32(1); want <= 2; want++ {
		out, err := a.Get(request(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		var r authenticationJSON
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatal(err)
		}
		authData, _ := b64(r.Response.AuthenticatorData)
		sig, _ := b64(r.Response.Signature)
		if r.ID != r.RawID || r.Type != "public-key" || r.ClientExtensionResults == nil || r.AuthenticatorAttachment != "platform" {
			t.Fatalf("envelope: %s", out)
		}
		if r.Response.UserHandle != "dXNlcg" {
			t.Fatalf("userHandle %q, want the registered one", r.Response.UserHandle)
		}
		if len(authData) != 37 || len(sig) == 0 {
			t.Fatalf("authenticatorData %d bytes, signature %d bytes", len(authData), len(sig))
		}
		if got := uint32(authData[33])<<24 | uint32(authData[34])<<16 | uint32(authData[35])<<8 | uint32(authData[36]); got != want {
			t.Fatalf("counter %d, want %d", got, want)
		}
	}
}

// TestOverrides checks each per-call override changes what it says.
func TestOverrides(t *testing.T) {
	cases := []struct {
		name  string
		o     Options
		check func(flags byte, counter uint32, clientData []byte, rpHash []byte) bool
	}{
		{"NoUserVerified clears UV", Options{NoUserVerified: true}, func(f byte, _ uint32, _, _ []byte) bool { return f&0x04 == 0 && f&0x01 != 0 }},
		{"NoUserPresent clears UP", Options{NoUserPresent: true}, func(f byte, _ uint32, _, _ []byte) bool { return f&0x01 == 0 }},
		{"BackupEligible and BackupState set BE and BS", Options{BackupEligible: true, BackupState: true}, func(f byte, _ uint32, _, _ []byte) bool { return f&0x18 == 0x18 }},
		{"Counter sets the counter", Options{Counter: new(uint32(41))}, func(_ byte, c uint32, _, _ []byte) bool { return c == 41 }},
		{"Origin replaces the origin", Options{Origin: "https://evil.example"}, func(_ byte, _ uint32, cd, _ []byte) bool {
			return bytes.Contains(cd, []byte(`"origin":"https://evil.example"`))
		}},
		{"RPID replaces the RP ID hash", Options{RPID: "example.com"}, func(_ byte, _ uint32, _, h []byte) bool {
			want := sha256.Sum256([]byte("example.com"))
			return bytes.Equal(h, want[:])
		}},
		{"TamperClientData keeps challenge and origin but changes the bytes", Options{TamperClientData: true}, func(_ byte, _ uint32, cd, _ []byte) bool {
			return bytes.Contains(cd, []byte(challenge)) && bytes.Contains(cd, []byte(origin)) && bytes.HasSuffix(cd, []byte(`"crossOrigin":false}`))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := New(rpID, origin)
			if _, err := a.Create(creation("dXNlcg"), Options{}); err != nil {
				t.Fatal(err)
			}
			o := c.o
			if o.RPID != "" {
				o.CredentialID = a.CredentialIDs()[0]
			}
			out, err := a.Get(request(), o)
			if err != nil {
				t.Fatal(err)
			}
			var r authenticationJSON
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatal(err)
			}
			ad, _ := b64(r.Response.AuthenticatorData)
			cd, _ := b64(r.Response.ClientDataJSON)
			counter := uint32(ad[33])<<24 | uint32(ad[34])<<16 | uint32(ad[35])<<8 | uint32(ad[36])
			if !c.check(ad[32], counter, cd, ad[:32]) {
				t.Fatalf("override had no effect: flags %08b counter %d client data %s", ad[32], counter, cd)
			}
		})
	}
}

// TestAuthenticatorRefusals checks the cases where a browser would throw.
func TestAuthenticatorRefusals(t *testing.T) {
	a := New(rpID, origin)
	if _, err := a.Create(creation("dXNlcg"), Options{}); err != nil {
		t.Fatal(err)
	}
	held := enc(a.CredentialIDs()[0])
	cases := []struct {
		name string
		call func() error
	}{
		{"excluded credential already held", func() error { _, err := a.Create(creation("dXNlcg", held), Options{}); return err }},
		{"creation options for another RP", func() error {
			_, err := a.Create(bytes.Replace(creation("dXNlcg"), []byte(`"id":"localhost"`), []byte(`"id":"example.com"`), 1), Options{})
			return err
		}},
		{"creation options without ES256", func() error {
			_, err := a.Create(bytes.Replace(creation("dXNlcg"), []byte(`"alg":-7`), []byte(`"alg":-8`), 1), Options{})
			return err
		}},
		{"creation options without a challenge", func() error {
			_, err := a.Create(bytes.Replace(creation("dXNlcg"), []byte(challenge), nil, 1), Options{})
			return err
		}},
		{"creation options that are not JSON", func() error { _, err := a.Create([]byte("{"), Options{}); return err }},
		{"allow list naming no held credential", func() error { _, err := a.Get(request("AAAA"), Options{}); return err }},
		{"explicit credential that is not held", func() error { _, err := a.Get(request(), Options{CredentialID: []byte{1, 2, 3}}); return err }},
		{"request options for another RP", func() error {
			_, err := a.Get(bytes.Replace(request(), []byte(`"rpId":"localhost"`), []byte(`"rpId":"example.com"`), 1), Options{})
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); err == nil {
				t.Fatal("the authenticator answered")
			}
		})
	}
}

// TestGetPicksAllowedCredential checks the allow list chooses the credential
// and the empty list picks the newest.
func TestGetPicksAllowedCredential(t *testing.T) {
	a := New(rpID, origin)
	for _, user := range []string{"Zmlyc3Q", "c2Vjb25k"} { // "first", "second"
		if _, err := a.Create(creation(user), Options{}); err != nil {
			t.Fatal(err)
		}
	}
	ids := a.CredentialIDs()
	cases := []struct {
		name     string
		options  []byte
		wantID   []byte
		wantUser string
	}{
		{"allow list picks the named credential", request(enc(ids[0])), ids[0], "Zmlyc3Q"},
		{"discoverable login picks the newest", request(), ids[1], "c2Vjb25k"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := a.Get(c.options, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var r authenticationJSON
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatal(err)
			}
			if r.RawID != enc(c.wantID) || r.Response.UserHandle != c.wantUser {
				t.Fatalf("used %s for %s", r.RawID, r.Response.UserHandle)
			}
		})
	}
}

// TestConcurrentUse signs from several goroutines at once; run with -race.
func TestConcurrentUse(t *testing.T) {
	a := New(rpID, origin)
	if _, err := a.Create(creation("dXNlcg"), Options{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := a.Get(request(), Options{})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	out, err := a.Get(request(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var r authenticationJSON
	_ = json.Unmarshal(out, &r)
	ad, _ := b64(r.Response.AuthenticatorData)
	if ad[36] != 9 {
		t.Fatalf("counter %d after 9 uses: an increment was lost", ad[36])
	}
}
