package webauthn

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/webauthn/webauthntest"
)

// TestBeginLoginOptions checks the request options for both login styles.
func TestBeginLoginOptions(t *testing.T) {
	rp := newTestRP(t, nil)
	cred := Credential{ID: []byte("credential-one"), Transports: []string{"internal", "hybrid"}}
	type requestOptions struct {
		Challenge        string
		Timeout          int
		RPID             string `json:"rpId"`
		UserVerification string
		AllowCredentials []struct {
			Type, ID   string
			Transports []string
		}
	}
	cases := []struct {
		name      string
		allow     []Credential
		wantAllow int
	}{
		{"discoverable login sends no allow list", nil, 0},
		{"username-first login lists the user's credentials", []Credential{cred}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			options, session, err := rp.BeginLogin(c.allow)
			if err != nil || len(session) == 0 {
				t.Fatalf("BeginLogin: %v", err)
			}
			var got requestOptions
			if err := json.Unmarshal(options, &got); err != nil {
				t.Fatal(err)
			}
			challenge, err := base64.RawURLEncoding.DecodeString(got.Challenge)
			if err != nil || len(challenge) != 32 {
				t.Errorf("challenge %q is not 32 bytes of unpadded base64url", got.Challenge)
			}
			if got.RPID != testRPID || got.UserVerification != "required" || got.Timeout != 300000 {
				t.Errorf("options %s", options)
			}
			if len(got.AllowCredentials) != c.wantAllow {
				t.Fatalf("allowCredentials %v, want %d", got.AllowCredentials, c.wantAllow)
			}
			if c.wantAllow == 1 {
				a := got.AllowCredentials[0]
				if a.Type != "public-key" || a.ID != base64.RawURLEncoding.EncodeToString(cred.ID) || len(a.Transports) != 2 {
					t.Errorf("allow entry %+v", a)
				}
			}
		})
	}
}

// TestFinishLoginFailures runs one dishonest or broken assertion per case.
func TestFinishLoginFailures(t *testing.T) {
	rp := newTestRP(t, nil)
	auth := webauthntest.New(testRPID, testOrigin)
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	aliceCred := register(t, rp, auth, alice)
	bobCred := register(t, rp, auth, bob)
	aliceCreds := []Credential{aliceCred}

	cases := []struct {
		name   string
		allow  []Credential
		o      webauthntest.Options
		user   User
		creds  []Credential
		reason string
	}{
		{name: "tampered clientDataJSON breaks the signature", allow: aliceCreds, o: webauthntest.Options{TamperClientData: true}, reason: "signature did not verify"},
		{name: "wrong origin is rejected", allow: aliceCreds, o: webauthntest.Options{Origin: "https://evil.example"}, reason: "origin not allowed"},
		{name: "another RP ID hash is rejected", allow: aliceCreds, o: webauthntest.Options{RPID: "example.com", CredentialID: aliceCred.ID}, reason: "RP ID hash does not match"},
		{name: "missing UV flag is rejected when UV is required", allow: aliceCreds, o: webauthntest.Options{NoUserVerified: true}, reason: "user verification required"},
		{name: "missing UP flag is rejected", allow: aliceCreds, o: webauthntest.Options{NoUserPresent: true}, reason: "user presence required"},
		{name: "credential outside the user's list is unknown", allow: aliceCreds, o: webauthntest.Options{CredentialID: bobCred.ID, UserHandle: []byte{}}, reason: "unknown credential"},
		{name: "discoverable credential of another user is unknown", o: webauthntest.Options{CredentialID: bobCred.ID, UserHandle: alice.Handle}, reason: "unknown credential"},
		{name: "user handle of another user is rejected", o: webauthntest.Options{CredentialID: aliceCred.ID, UserHandle: bob.Handle}, reason: "user handle does not match"},
		{name: "right credential with the wrong user is rejected", o: webauthntest.Options{CredentialID: aliceCred.ID}, user: bob, creds: aliceCreds, reason: "user handle does not match"},
		{name: "discoverable login without a user handle is rejected", o: webauthntest.Options{CredentialID: aliceCred.ID, UserHandle: []byte{}}, reason: "user handle missing"},
		{name: "backup eligibility cannot appear after registration", allow: aliceCreds, o: webauthntest.Options{BackupEligible: true}, reason: "inconsistent backup flags"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			user, creds := c.user, c.creds
			if user.Handle == nil {
				user, creds = alice, aliceCreds
			}
			cred, err := login(t, rp, auth, user, creds, c.allow, c.o)
			assertReason(t, cred, err, c.reason)
		})
	}

	t.Run("response to another session has the wrong challenge", func(t *testing.T) {
		options, _, err := rp.BeginLogin(aliceCreds)
		if err != nil {
			t.Fatal(err)
		}
		_, other, err := rp.BeginLogin(aliceCreds)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := auth.Get(options, webauthntest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		a, err := rp.ParseAssertion(resp)
		if err != nil {
			t.Fatal(err)
		}
		cred, err := rp.FinishLogin(alice, aliceCreds, other, a)
		assertReason(t, cred, err, "challenge does not match the ceremony")
	})
	t.Run("unknown credential matches ErrUnknownCredential", func(t *testing.T) {
		_, err := login(t, rp, auth, alice, aliceCreds, nil, webauthntest.Options{CredentialID: bobCred.ID, UserHandle: alice.Handle})
		if !errors.Is(err, ErrUnknownCredential) || errors.Is(err, ErrExpired) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestFinishLoginCounter checks the clone policy: a counter must increase
// unless both the stored and the received counter are zero.
func TestFinishLoginCounter(t *testing.T) {
	rp := newTestRP(t, nil)
	alice := newUser(t, "alice")
	cases := []struct {
		name     string
		stored   uint32 // counter at registration
		received uint32
		accept   bool
	}{
		{"both zero is accepted (counterless passkey)", 0, 0, true},
		{"increasing counter is accepted", 5, 6, true},
		{"first use after a zero counter is accepted", 0, 1, true},
		{"repeated counter is rejected", 5, 5, false},
		{"counter going backwards is rejected", 5, 3, false},
		{"counter dropping to zero is rejected", 5, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			auth := webauthntest.New(testRPID, testOrigin)
			options, session, err := rp.BeginRegistration(alice, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := auth.Create(options, webauthntest.Options{Counter: ptr(c.stored)})
			if err != nil {
				t.Fatal(err)
			}
			cred, err := rp.FinishRegistration(alice, session, resp)
			if err != nil {
				t.Fatal(err)
			}
			updated, err := login(t, rp, auth, alice, []Credential{*cred}, nil, webauthntest.Options{Counter: ptr(c.received)})
			if !c.accept {
				assertReason(t, updated, err, "signature counter did not increase: possible cloned authenticator")
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if updated.SignCount != c.received {
				t.Fatalf("SignCount = %d, want %d", updated.SignCount, c.received)
			}
			rec, err := decodeRecord(*updated)
			if err != nil || rec.Authenticator.SignCount != c.received || rec.Authenticator.CloneWarning {
				t.Fatalf("record counter not updated: %+v, %v", rec.Authenticator, err)
			}
		})
	}
}

// TestFinishLoginBackupState checks BS is updated and BE kept.
func TestFinishLoginBackupState(t *testing.T) {
	rp := newTestRP(t, nil)
	auth := webauthntest.New(testRPID, testOrigin)
	alice := newUser(t, "alice")
	options, session, err := rp.BeginRegistration(alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := auth.Create(options, webauthntest.Options{BackupEligible: true})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := rp.FinishRegistration(alice, session, resp)
	if err != nil {
		t.Fatal(err)
	}
	if cred.BackupState {
		t.Fatal("BS set before the passkey was synced")
	}
	updated, err := login(t, rp, auth, alice, []Credential{*cred}, nil, webauthntest.Options{BackupState: true})
	if err != nil {
		t.Fatal(err)
	}
	if !updated.BackupState || !updated.BackupEligible {
		t.Fatalf("BE/BS = %v/%v, want true/true", updated.BackupEligible, updated.BackupState)
	}
}

// TestFinishLoginSessionChecks covers expired and foreign sessions.
func TestFinishLoginSessionChecks(t *testing.T) {
	rp := newTestRP(t, nil)
	auth := webauthntest.New(testRPID, testOrigin)
	alice := newUser(t, "alice")
	cred := register(t, rp, auth, alice)
	creds := []Credential{cred}

	t.Run("expired session is ErrExpired", func(t *testing.T) {
		// Same RP ID and origins, so the credential is valid here too.
		rp := newTestRP(t, func(cfg *Config) { cfg.Timeout = 20 * time.Millisecond })
		options, session, err := rp.BeginLogin(creds)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := auth.Get(options, webauthntest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		a, err := rp.ParseAssertion(resp)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
		if _, err := rp.FinishLogin(alice, creds, session, a); !errors.Is(err, ErrExpired) {
			t.Fatalf("err = %v, want ErrExpired", err)
		}
	})
	t.Run("registration session cannot finish a login", func(t *testing.T) {
		options, _, err := rp.BeginLogin(creds)
		if err != nil {
			t.Fatal(err)
		}
		_, regSession, err := rp.BeginRegistration(alice, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := auth.Get(options, webauthntest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		a, err := rp.ParseAssertion(resp)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rp.FinishLogin(alice, creds, regSession, a); !errors.Is(err, ErrInvalidSession) {
			t.Fatalf("err = %v, want ErrInvalidSession", err)
		}
	})
	t.Run("nil assertion is invalid", func(t *testing.T) {
		_, session, err := rp.BeginLogin(creds)
		if err != nil {
			t.Fatal(err)
		}
		_, err = rp.FinishLogin(alice, creds, session, nil)
		assertReason(t, nil, err, "malformed response")
	})
	t.Run("corrupt stored record is a server error, not the client's", func(t *testing.T) {
		options, session, err := rp.BeginLogin(creds)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := auth.Get(options, webauthntest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		a, err := rp.ParseAssertion(resp)
		if err != nil {
			t.Fatal(err)
		}
		bad := cred
		bad.Record = []byte(`{"id":"AAAA"}`)
		_, err = rp.FinishLogin(alice, []Credential{bad}, session, a)
		if err == nil || errors.Is(err, ErrInvalidCredential) {
			t.Fatalf("err = %v, want a non-client error", err)
		}
	})
}

// TestParseAssertionRejectsMalformedInput feeds hostile bytes to both
// response parsers.
func TestParseAssertionRejectsMalformedInput(t *testing.T) {
	rp := newTestRP(t, nil)
	alice := newUser(t, "alice")
	big := bytes.Repeat([]byte(" "), maxResponseSize+1)
	cases := []struct {
		name   string
		input  []byte
		reason string
	}{
		{"empty body", nil, "malformed response"},
		{"oversized body", big, "response too large"},
		{"not JSON", []byte("not json"), "malformed response"},
		{"JSON null", []byte("null"), "malformed response"},
		{"wrong member types", []byte(`{"id":5,"rawId":true,"type":1,"response":[]}`), "malformed response"},
		{"garbage base64 in rawId", []byte(`{"id":"!!!","rawId":"!!!","type":"public-key","response":{}}`), "malformed response"},
		{"padded garbage in clientDataJSON", []byte(`{"id":"AQID","rawId":"AQID","type":"public-key","response":{"clientDataJSON":"%%%","authenticatorData":"","signature":""}}`), "malformed response"},
		{"id and rawId disagree", []byte(`{"id":"AQID","rawId":"AQIE","type":"public-key","response":{}}`), "malformed response"},
		{"wrong credential type", []byte(`{"id":"AQID","rawId":"AQID","type":"password","response":{}}`), "malformed response"},
		{"trailing data", []byte(`{"id":"AQID","rawId":"AQID","type":"public-key","response":{}} {}`), "malformed response"},
		{"user handle over 64 bytes", userHandleResponse(65), "malformed response"},
	}
	_, regSession, err := rp.BeginRegistration(alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := rp.ParseAssertion(c.input)
			if a != nil {
				t.Fatal("ParseAssertion accepted it")
			}
			assertReason(t, nil, err, c.reason)
			cred, err := rp.FinishRegistration(alice, regSession, c.input)
			assertReason(t, cred, err, c.reason)
		})
	}
}

// userHandleResponse builds an otherwise well-formed assertion whose user
// handle has n bytes.
func userHandleResponse(n int) []byte {
	b64 := base64.RawURLEncoding.EncodeToString
	authData := make([]byte, 37)
	clientData := []byte(`{"type":"webauthn.get","challenge":"AAAA","origin":"http://localhost:8080"}`)
	doc, _ := json.Marshal(map[string]any{
		"id": "AQID", "rawId": "AQID", "type": "public-key",
		"response": map[string]string{
			"clientDataJSON": b64(clientData), "authenticatorData": b64(authData),
			"signature": b64([]byte{1}), "userHandle": b64(make([]byte, n)),
		},
	})
	return doc
}

// TestConcurrentCeremonies runs logins from several goroutines against one
// RP and one authenticator; run with -race.
func TestConcurrentCeremonies(t *testing.T) {
	rp := newTestRP(t, nil)
	auth := webauthntest.New(testRPID, testOrigin)
	users := make([]User, 4)
	creds := make([]Credential, 4)
	for i := range users {
		users[i] = newUser(t, "user")
		creds[i] = register(t, rp, auth, users[i])
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(users))
	for i := range users {
		wg.Go(func() {
			// Counters are per credential, and each goroutine uses its own.
			errs <- loginOnce(rp, auth, users[i], creds[i])
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// loginOnce runs a username-first login and reports any failure as an error,
// for use off the test goroutine.
func loginOnce(rp *RP, auth *webauthntest.Authenticator, user User, cred Credential) error {
	allow := []Credential{cred}
	options, session, err := rp.BeginLogin(allow)
	if err != nil {
		return err
	}
	resp, err := auth.Get(options, webauthntest.Options{})
	if err != nil {
		return err
	}
	a, err := rp.ParseAssertion(resp)
	if err != nil {
		return err
	}
	_, err = rp.FinishLogin(user, allow, session, a)
	return err
}

// TestCheckCounter checks the clone rule shared by verification and the
// service's in-transaction re-check: the counter must move forward, unless
// the authenticator keeps none (both zero).
func TestCheckCounter(t *testing.T) {
	cases := []struct {
		stored, received uint32
		ok               bool
	}{
		{0, 0, true}, {0, 1, true}, {5, 6, true},
		{5, 5, false}, {5, 4, false}, {5, 0, false}, {1, 0, false},
	}
	for _, c := range cases {
		err := CheckCounter(c.stored, c.received)
		if (err == nil) != c.ok {
			t.Errorf("CheckCounter(%d, %d) = %v, want ok=%v", c.stored, c.received, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidCredential) {
			t.Errorf("CheckCounter(%d, %d) = %v, not an ErrInvalidCredential", c.stored, c.received, err)
		}
	}
}
