package storetest

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/store"
)

// allBytes is a secret holding every byte value, so that sealing and
// storing it must be binary-safe.
func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func testSigningKeys(t *testing.T, open opener) {
	cases(t, open, map[string]func(t *testing.T, s store.Store){
		"RoundTripOrderedByCreation": signingKeysRoundTrip,
		"SealingRoundTripsAnySecret": signingKeysSealing,
		"WithoutPrivateKeyIsRefused": signingKeysInvalid,
	})
}

func signingKeysRoundTrip(t *testing.T, s store.Store) {
	newer := store.SigningKey{ID: "k2", Alg: "EdDSA", Private: []byte("second-private"), CreatedAt: T0.Add(time.Hour)}
	older := store.SigningKey{ID: "k1", Alg: "ES256", Private: []byte("first-private"), CreatedAt: T0,
		RetiredAt: T0.Add(time.Hour), PublishUntil: T0.Add(2 * time.Hour)}
	// Created at the same time as k1: the id decides.
	twin := store.SigningKey{ID: "k0", Alg: "ES256", Private: []byte("twin-private"), CreatedAt: T0}
	mustUpdate(t, s, func(tx store.Tx) error {
		return errors.Join(tx.PutSigningKey(&newer), tx.PutSigningKey(&older), tx.PutSigningKey(&twin))
	})
	mustView(t, s, func(tx store.Tx) error {
		got, err := tx.SigningKeys()
		if err != nil {
			return err
		}
		if want := []store.SigningKey{twin, older, newer}; !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error { return errors.Join(tx.DeleteSigningKey("k1"), tx.DeleteSigningKey("k0")) })
	for _, id := range []string{"k1", "", "nope"} {
		if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.DeleteSigningKey(id) }); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleting missing key %q: err = %v, want ErrNotFound", id, err)
		}
	}
	// Retiring rewrites it.
	newer.RetiredAt, newer.PublishUntil = T0.Add(3*time.Hour), T0.Add(4*time.Hour)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutSigningKey(&newer) })
	mustView(t, s, func(tx store.Tx) error {
		got, err := tx.SigningKeys()
		if err != nil {
			return err
		}
		if len(got) != 1 || !reflect.DeepEqual(got[0], newer) {
			t.Errorf("after delete and retire: %+v", got)
		}
		return nil
	})
}

// signingKeysSealing: private keys and TOTP seeds are sealed by the store
// and come back byte for byte, each under its own id.
func signingKeysSealing(t *testing.T, s store.Store) {
	putUsers(t, s, "alice", "bob")
	secret := allBytes()
	long := bytes.Repeat([]byte("0123456789abcdef"), 1024)
	mustUpdate(t, s, func(tx store.Tx) error {
		return errors.Join(
			tx.PutSigningKey(&store.SigningKey{ID: "all", Alg: "ES256", Private: secret, CreatedAt: T0}),
			tx.PutSigningKey(&store.SigningKey{ID: "long", Alg: "ES256", Private: long, CreatedAt: T0.Add(time.Second)}),
			tx.PutSigningKey(&store.SigningKey{ID: "one", Alg: "EdDSA", Private: []byte{0}, CreatedAt: T0.Add(2 * time.Second)}),
			tx.PutTOTP(&store.TOTP{UserID: "alice", Secret: secret}),
			tx.PutTOTP(&store.TOTP{UserID: "bob", Secret: []byte("bob's seed")}),
		)
	})
	mustView(t, s, func(tx store.Tx) error {
		keys, err := tx.SigningKeys()
		if err != nil {
			return err
		}
		if len(keys) != 3 || !bytes.Equal(keys[0].Private, secret) || !bytes.Equal(keys[1].Private, long) || !bytes.Equal(keys[2].Private, []byte{0}) {
			t.Errorf("private keys did not round trip: %d keys", len(keys))
		}
		for user, want := range map[string][]byte{"alice": secret, "bob": []byte("bob's seed")} {
			f, err := tx.TOTP(user)
			if err != nil || !bytes.Equal(f.Secret, want) {
				t.Errorf("TOTP seed of %s did not round trip: %v", user, err)
			}
		}
		return nil
	})
}

func signingKeysInvalid(t *testing.T, s store.Store) {
	for name, k := range map[string]store.SigningKey{
		"no private key": {ID: "k", Alg: "ES256"},
		"empty id":       {Alg: "ES256", Private: []byte("p")},
		"oversized id":   {ID: strings.Repeat("k", maxKeyLen+1), Alg: "ES256", Private: []byte("p")},
	} {
		if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.PutSigningKey(&k) }); err == nil {
			t.Errorf("%s: PutSigningKey accepted it", name)
		}
	}
	mustView(t, s, func(tx store.Tx) error {
		if keys, err := tx.SigningKeys(); err != nil || len(keys) != 0 {
			t.Errorf("invalid keys were stored: %+v, %v", keys, err)
		}
		return nil
	})
}

func testClients(t *testing.T, open opener) {
	cases(t, open, map[string]func(t *testing.T, s store.Store){
		"RoundTripAndListing": clientRoundTrip,
		"Delete":              clientDelete,
	})
}

func clientRoundTrip(t *testing.T, s store.Store) {
	want := []store.Client{
		{ID: "api", SecretHash: []byte("hash-a"), CreatedAt: T0},
		{ID: "billing", SecretHash: []byte("hash-b"), CreatedAt: T0},
		{ID: "web", SecretHash: []byte("h"), CreatedAt: T0, RotatedAt: T0.Add(time.Hour), RedirectURIs: []string{"https://app.example/cb", "https://app.example/cb2"},
			Public: true, FirstParty: true, PostLogoutRedirectURIs: []string{"https://app.example/"}, WebOrigins: []string{"https://app.example"},
			IDTokenAlg: "RS256", JWKSURI: "https://app.example/jwks", JWKS: []byte(`{"keys":[]}`), BackchannelLogoutURI: "https://app.example/logout"},
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, c := range []store.Client{want[2], want[1], want[0]} {
			if err := tx.PutClient(&c); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, s, func(tx store.Tx) error {
		for _, w := range want {
			got, err := tx.Client(w.ID)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(*got, w) {
				t.Errorf("Client = %+v, want %+v", *got, w)
			}
		}
		all, err := tx.Clients()
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(all, want) {
			t.Errorf("Clients = %+v, want %+v", all, want)
		}
		for _, id := range []string{"nope", "", strings.Repeat("c", 70000)} {
			if _, err := tx.Client(id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("unknown client %.10q: err = %v", id, err)
			}
		}
		return nil
	})
	// A rotation replaces the secret.
	want[0].SecretHash, want[0].RotatedAt = []byte("hash-a2"), T0.Add(time.Minute)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutClient(&want[0]) })
	mustView(t, s, func(tx store.Tx) error {
		if got, err := tx.Client("api"); err != nil || !reflect.DeepEqual(*got, want[0]) {
			t.Errorf("after the rotation: %+v, %v", got, err)
		}
		return nil
	})
	for name, c := range map[string]store.Client{"empty id": {}, "oversized id": {ID: strings.Repeat("c", maxKeyLen+1)}} {
		if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.PutClient(&c) }); err == nil {
			t.Errorf("%s: PutClient accepted it", name)
		}
	}
}

func clientDelete(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, id := range []string{"api", "billing"} {
			if err := tx.PutClient(&store.Client{ID: id, SecretHash: []byte(id)}); err != nil {
				return err
			}
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteClient("api") })
	// Listed in byte order of their ids, not a locale's collation.
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, id := range []string{"b", "A", "a", "B", "é"} {
			if err := tx.PutClient(&store.Client{ID: "order-" + id}); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, s, func(tx store.Tx) error {
		all, err := tx.Clients()
		if err != nil {
			return err
		}
		var ids []string
		for _, c := range all {
			ids = append(ids, c.ID)
		}
		if want := []string{"billing", "order-A", "order-B", "order-a", "order-b", "order-é"}; !slices.Equal(ids, want) {
			t.Errorf("Clients = %v, want %v", ids, want)
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, id := range []string{"b", "A", "a", "B", "é"} {
			if err := tx.DeleteClient("order-" + id); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.DeleteClient("api") }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting a deleted client: %v", err)
	}
	if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.DeleteClient("") }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting an empty id: %v", err)
	}
	mustView(t, s, func(tx store.Tx) error {
		all, err := tx.Clients()
		if err != nil {
			return err
		}
		if len(all) != 1 || all[0].ID != "billing" {
			t.Errorf("Clients = %+v, want only billing", all)
		}
		if _, err := tx.Client("api"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted client: %v", err)
		}
		return nil
	})
}

func testConsents(t *testing.T, open opener) {
	cases(t, open, map[string]func(t *testing.T, s store.Store){
		"KeptPerUserAndClientAndGoWithTheAccount": consentsPerUser,
	})
}

func consentsPerUser(t *testing.T, s store.Store) {
	putUsers(t, s, "u1", "u10")
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, c := range []string{"web", "app"} {
			if err := tx.PutConsent(&store.Consent{UserID: "u1", ClientID: c, Scopes: []string{"openid", c}, GrantedAt: T0}); err != nil {
				return err
			}
		}
		return tx.PutConsent(&store.Consent{UserID: "u10", ClientID: "web", Scopes: []string{"openid"}, GrantedAt: T0})
	})
	mustView(t, s, func(tx store.Tx) error {
		c, err := tx.Consent("u1", "web")
		want := store.Consent{UserID: "u1", ClientID: "web", Scopes: []string{"openid", "web"}, GrantedAt: T0}
		if err != nil || !reflect.DeepEqual(*c, want) {
			t.Fatalf("Consent = %+v %v, want %+v", c, err, want)
		}
		for _, k := range [][2]string{{"u2", "web"}, {"u1", "nope"}, {"", "web"}, {"u1", ""}, {strings.Repeat("u", 70000), "web"}} {
			if _, err := tx.Consent(k[0], k[1]); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("consent of %.10q for %.10q: %v", k[0], k[1], err)
			}
		}
		all, err := tx.Consents("u1")
		if err != nil || len(all) != 2 || all[0].ClientID != "app" || all[1].ClientID != "web" || all[0].UserID != "u1" {
			t.Errorf("Consents = %+v %v", all, err)
		}
		if none, err := tx.Consents("u2"); err != nil || len(none) != 0 {
			t.Errorf("Consents of a user without any = %+v %v", none, err)
		}
		if _, err := tx.User("u1"); err != nil {
			t.Errorf("the user record no longer reads beside consents: %v", err)
		}
		return nil
	})
	// A new grant replaces the old one.
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutConsent(&store.Consent{UserID: "u1", ClientID: "web", Scopes: []string{"openid", "email"}, GrantedAt: T0.Add(time.Hour)})
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		return errors.Join(tx.DeleteConsent("u1", "app"), tx.DeleteConsent("u1", "app"), tx.DeleteConsent("", ""))
	})
	mustView(t, s, func(tx store.Tx) error {
		all, err := tx.Consents("u1")
		if err != nil || len(all) != 1 || !slices.Equal(all[0].Scopes, []string{"openid", "email"}) || !all[0].GrantedAt.Equal(T0.Add(time.Hour)) {
			t.Errorf("Consents after a new grant and a withdrawal = %+v %v", all, err)
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteUser("u1") })
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.Consent("u1", "web"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a consent outlived its account: %v", err)
		}
		if _, err := tx.Consent("u10", "web"); err != nil {
			t.Errorf("another account's consent went with it: %v", err)
		}
		return nil
	})
}

func testTOTP(t *testing.T, open opener) {
	cases(t, open, map[string]func(t *testing.T, s store.Store){
		"RoundTripAndDelete":       totpRoundTrip,
		"WithoutSecretIsRefused":   totpInvalid,
		"StatusLeavesTheSecretOut": totpStatus,
	})
}

func totpRoundTrip(t *testing.T, s store.Store) {
	putUsers(t, s, "u1")
	want := store.TOTP{
		UserID: "u1", Secret: []byte("seed"), Confirmed: true, CreatedAt: T0,
		LastStep: 12345, Failures: 2, Lockouts: 1, LockedUntil: T0.Add(time.Minute),
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutTOTP(&want) })
	mustView(t, s, func(tx store.Tx) error {
		got, err := tx.TOTP("u1")
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("got %+v\nwant %+v", *got, want)
		}
		return nil
	})
	// A step used rewrites it.
	want.LastStep, want.Failures = 12346, 0
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutTOTP(&want) })
	mustView(t, s, func(tx store.Tx) error {
		if got, err := tx.TOTP("u1"); err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("after the update: %+v, %v", got, err)
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteTOTP("u1") })
	tests := []struct {
		name string
		call func(tx store.Tx) error
	}{
		{"deleted factor is not found", func(tx store.Tx) error { _, err := tx.TOTP("u1"); return err }},
		{"deleted factor has no status", func(tx store.Tx) error { _, err := tx.TOTPStatus("u1"); return err }},
		{"deleting again is not found", func(tx store.Tx) error { return tx.DeleteTOTP("u1") }},
		{"deleting an empty id is not found", func(tx store.Tx) error { return tx.DeleteTOTP("") }},
		{"a factor for a missing account is not stored", func(tx store.Tx) error { return tx.PutTOTP(&store.TOTP{UserID: "nobody", Secret: []byte("s")}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Update(t.Context(), tt.call); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		})
	}
}

func totpInvalid(t *testing.T, s store.Store) {
	putUsers(t, s, "u")
	for name, f := range map[string]store.TOTP{
		"no secret":         {UserID: "u"},
		"empty user id":     {Secret: []byte("s")},
		"oversized user id": {UserID: strings.Repeat("u", maxKeyLen+1), Secret: []byte("s")},
	} {
		if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.PutTOTP(&f) }); err == nil {
			t.Errorf("%s: PutTOTP accepted it", name)
		}
	}
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.TOTPStatus("u"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an invalid factor was stored: %v", err)
		}
		return nil
	})
}

// totpStatus checks the status read: the same throttling state as TOTP,
// and no secret.
func totpStatus(t *testing.T, s store.Store) {
	putUsers(t, s, "u1")
	want := store.TOTP{UserID: "u1", Secret: []byte("seed"), Confirmed: true, CreatedAt: T0, LastStep: 9, Failures: 1, Lockouts: 2, LockedUntil: T0}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutTOTP(&want) })
	mustView(t, s, func(tx store.Tx) error {
		got, err := tx.TOTPStatus("u1")
		status := want
		status.Secret = nil
		if err != nil || !reflect.DeepEqual(*got, status) {
			t.Errorf("TOTPStatus = %+v, %v; want %+v", got, err, status)
		}
		if _, err := tx.TOTPStatus("u2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TOTPStatus of a user without one: %v", err)
		}
		return nil
	})
}

func testRecoveryCodes(t *testing.T, open opener) {
	cases(t, open, map[string]func(t *testing.T, s store.Store){
		"RoundTripAndGoWithTheAccount": recoveryRoundTrip,
	})
}

func recoveryRoundTrip(t *testing.T, s store.Store) {
	putUsers(t, s, "u1", "u10")
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.RecoveryCodes("u1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an account without codes: err = %v, want ErrNotFound", err)
		}
		return nil
	})
	want := store.RecoveryCodes{UserID: "u1", Hashes: [][]byte{[]byte("h1"), []byte("h2"), allBytes()}, CreatedAt: T0}
	other := store.RecoveryCodes{UserID: "u10", Hashes: [][]byte{[]byte("x")}, CreatedAt: T0}
	mustUpdate(t, s, func(tx store.Tx) error { return errors.Join(tx.PutRecoveryCodes(&want), tx.PutRecoveryCodes(&other)) })
	mustView(t, s, func(tx store.Tx) error {
		got, err := tx.RecoveryCodes("u1")
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("got %+v, want %+v", *got, want)
		}
		return nil
	})
	// A code spent: the set is replaced by the rest.
	want.Hashes = want.Hashes[1:]
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutRecoveryCodes(&want) })
	mustView(t, s, func(tx store.Tx) error {
		if got, err := tx.RecoveryCodes("u1"); err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("after spending one: %+v, %v", got, err)
		}
		return nil
	})
	if err := s.Update(t.Context(), func(tx store.Tx) error {
		return tx.PutRecoveryCodes(&store.RecoveryCodes{UserID: "nobody", Hashes: [][]byte{[]byte("h")}})
	}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("codes for a missing account: err = %v, want ErrNotFound", err)
	}
	if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.PutRecoveryCodes(&store.RecoveryCodes{}) }); err == nil {
		t.Error("codes without a user id were accepted")
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteUser("u1") })
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.RecoveryCodes("u1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after the account is deleted: err = %v, want ErrNotFound", err)
		}
		if got, err := tx.RecoveryCodes("u10"); err != nil || !reflect.DeepEqual(*got, other) {
			t.Errorf("another account's codes: %+v, %v", got, err)
		}
		return nil
	})
	// An account made again under the id starts without codes.
	putUsers(t, s, "u1")
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.RecoveryCodes("u1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a deleted account's codes came back: %v", err)
		}
		return nil
	})
}

func testSignInFailures(t *testing.T, open opener) {
	cases(t, open, map[string]func(t *testing.T, s store.Store){
		"KeptAndGoWithTheAccount":      failuresKept,
		"SignInStateReadsThemTogether": signInState,
	})
}

// signInState: SignInState is the user, its TOTP factor's status and its
// throttling state, as the three reads of their own give them, with and
// without a factor and a state; a missing user is ErrNotFound.
func signInState(t *testing.T, s store.Store) {
	putUsers(t, s, "bare", "full")
	mustUpdate(t, s, func(tx store.Tx) error {
		return errors.Join(
			tx.PutTOTP(&store.TOTP{UserID: "full", Secret: []byte("0123456789abcdefghij"), Confirmed: true, Failures: 2}),
			tx.PutSignInFailures(&store.SignInFailures{UserID: "full", Failures: 3, Lockouts: 1, LockedUntil: T0}))
	})
	mustView(t, s, func(tx store.Tx) error {
		for _, id := range []string{"bare", "full"} {
			st, err := tx.SignInState(id)
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			u, _ := tx.User(id)
			f, _ := tx.SignInFailures(id)
			if !reflect.DeepEqual(st.User, *u) || !reflect.DeepEqual(st.Failures, *f) {
				t.Errorf("%s: state %+v, want user %+v and failures %+v", id, st, *u, *f)
			}
			totp, err := tx.TOTPStatus(id)
			switch {
			case errors.Is(err, store.ErrNotFound):
				if st.TOTP != nil {
					t.Errorf("%s: a TOTP factor where there is none: %+v", id, st.TOTP)
				}
			case err != nil:
				t.Fatal(err)
			case st.TOTP == nil || st.TOTP.Confirmed != totp.Confirmed || st.TOTP.Failures != totp.Failures || len(st.TOTP.Secret) != 0:
				t.Errorf("%s: TOTP %+v, want the status %+v without its secret", id, st.TOTP, totp)
			}
		}
		if st, err := tx.SignInState("full"); err != nil || st.TOTP == nil || !st.TOTP.Confirmed || st.Failures.Failures != 3 || st.Failures.Lockouts != 1 {
			t.Errorf("full: %+v, %v", st, err)
		}
		if _, err := tx.SignInState("nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a missing user: %v, want ErrNotFound", err)
		}
		return nil
	})
}

func failuresKept(t *testing.T, s store.Store) {
	putUsers(t, s, "u1", "u10")
	mustView(t, s, func(tx store.Tx) error {
		for _, id := range []string{"u1", "nobody"} {
			f, err := tx.SignInFailures(id)
			if err != nil || !reflect.DeepEqual(*f, store.SignInFailures{UserID: id}) {
				t.Errorf("fresh state of %s: %+v, %v", id, f, err)
			}
		}
		return nil
	})
	want := store.SignInFailures{UserID: "u1", Failures: 3, Lockouts: 1, LockedUntil: T0}
	mustUpdate(t, s, func(tx store.Tx) error {
		return errors.Join(tx.PutSignInFailures(&want), tx.PutSignInFailures(&store.SignInFailures{UserID: "u10", Failures: 1}))
	})
	mustView(t, s, func(tx store.Tx) error {
		f, err := tx.SignInFailures("u1")
		if err != nil || !reflect.DeepEqual(*f, want) {
			t.Fatalf("stored state: %+v, %v; want %+v", f, err, want)
		}
		// The state is no passkey and no session of the account.
		if creds, err := tx.CredentialsByUser("u1"); err != nil || len(creds) != 0 {
			t.Fatalf("credentials %v, %v", creds, err)
		}
		if sessions, err := tx.SessionsByUser("u1"); err != nil || len(sessions) != 0 {
			t.Fatalf("sessions %v, %v", sessions, err)
		}
		return nil
	})
	err := s.Update(t.Context(), func(tx store.Tx) error {
		return tx.PutSignInFailures(&store.SignInFailures{UserID: "nobody", Failures: 1})
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("state for a missing account: %v", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteUser("u1") })
	putUsers(t, s, "u1")
	mustView(t, s, func(tx store.Tx) error {
		if f, err := tx.SignInFailures("u1"); err != nil || f.Failures != 0 || f.Lockouts != 0 || !f.LockedUntil.IsZero() {
			t.Fatalf("a deleted account's state came back: %+v, %v", f, err)
		}
		if f, err := tx.SignInFailures("u10"); err != nil || f.Failures != 1 {
			t.Fatalf("another account's state: %+v, %v", f, err)
		}
		return nil
	})
	// A cleared state reads as a fresh one.
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutSignInFailures(&store.SignInFailures{UserID: "u1", Failures: 1}) })
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutSignInFailures(&store.SignInFailures{UserID: "u1"}) })
	mustView(t, s, func(tx store.Tx) error {
		if f, err := tx.SignInFailures("u1"); err != nil || !reflect.DeepEqual(*f, store.SignInFailures{UserID: "u1"}) {
			t.Fatalf("a cleared state: %+v, %v", f, err)
		}
		return nil
	})
}
