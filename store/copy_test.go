package store

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// fillForCopy puts records of every lasting kind in db, a few of each.
func fillForCopy(t *testing.T, db Store) {
	t.Helper()
	err := db.Update(t.Context(), func(tx Tx) error {
		for i := range 3 {
			id := fmt.Sprintf("user-%d", i)
			if err := tx.PutUser(&User{ID: id, Handle: []byte(id), Username: "name" + id, DisplayName: "Name " + id, CreatedAt: t0, Groups: []string{"staff"}}); err != nil {
				return err
			}
			for j := range 2 {
				if err := tx.PutCredential(&Credential{ID: []byte(fmt.Sprintf("cred-%d-%d", i, j)), UserID: id, Name: "key", CreatedAt: t0, Transports: []string{"internal"}}); err != nil {
					return err
				}
			}
			for j := range 2 {
				sid := fmt.Sprintf("session-%d-%d", i, j)
				if err := tx.PutSession(&Session{ID: sid, UserID: id, CreatedAt: t0.Add(time.Duration(j) * time.Minute), AuthTime: t0, ExpiresAt: t0.Add(time.Hour), AMR: []string{"hwk"}, Device: "Firefox"}); err != nil {
					return err
				}
				if err := tx.PutRefreshToken(&RefreshToken{Hash: "rt-" + sid, SessionID: sid, UserID: id, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
					return err
				}
			}
			if err := tx.PutConsent(&Consent{UserID: id, ClientID: "app", Scopes: []string{"openid"}, GrantedAt: t0}); err != nil {
				return err
			}
		}
		if err := tx.PutTOTP(&TOTP{UserID: "user-0", Secret: []byte("twenty byte secret!!"), Confirmed: true, CreatedAt: t0, LastStep: 42}); err != nil {
			return err
		}
		if err := tx.PutRecoveryCodes(&RecoveryCodes{UserID: "user-1", Hashes: [][]byte{[]byte("h1"), []byte("h2")}, CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.PutSignInFailures(&SignInFailures{UserID: "user-2", Failures: 3}); err != nil {
			return err
		}
		if err := tx.PutRevoked("jti:abc", t0.Add(time.Hour)); err != nil {
			return err
		}
		if err := tx.PutSigningKey(&SigningKey{ID: "k1", Alg: "ES256", Private: []byte("private"), CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.PutClient(&Client{ID: "app", SecretHash: []byte("hash"), CreatedAt: t0, RedirectURIs: []string{"https://app.example/cb"}}); err != nil {
			return err
		}
		for i := range 5 {
			if err := tx.AppendAudit(&AuditEvent{Time: t0.Add(time.Duration(i) * time.Second), Type: "signin", UserID: "user-0", Detail: map[string]string{"n": fmt.Sprint(i)}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot reads every lasting record of db, for comparing two stores.
func snapshot(t *testing.T, db Store) map[string]any {
	t.Helper()
	m := map[string]any{}
	err := db.View(t.Context(), func(tx Tx) error {
		users, err := tx.Users()
		if err != nil {
			return err
		}
		m["users"] = users
		for _, u := range users {
			creds, _ := tx.CredentialsByUser(u.ID)
			sessions, _ := tx.SessionsByUser(u.ID)
			consents, _ := tx.Consents(u.ID)
			totp, _ := tx.TOTP(u.ID)
			codes, _ := tx.RecoveryCodes(u.ID)
			failures, _ := tx.SignInFailures(u.ID)
			m[u.ID] = []any{creds, sessions, consents, totp, codes, failures}
		}
		var rts []RefreshToken
		if err := tx.ScanRefreshTokens(func(rt *RefreshToken) error { rts = append(rts, *rt); return nil }); err != nil {
			return err
		}
		m["refresh"] = rts
		m["revoked"], _ = tx.Revoked(t0)
		m["keys"], _ = tx.SigningKeys()
		m["clients"], _ = tx.Clients()
		var events []AuditEvent
		if err := tx.ScanAudit(func(e *AuditEvent) error { events = append(events, *e); return nil }); err != nil {
			return err
		}
		m["audit"] = events
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCopyCopiesEveryLastingRecord(t *testing.T) {
	from := openTestDB(t)
	fillForCopy(t, from)
	to := openTestDB(t)
	rep, err := Copy(t.Context(), from, to, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := CopyCounts{Users: 3, Credentials: 6, TOTP: 1, RecoveryCodes: 1, SignInFailures: 1, Sessions: 6, RefreshTokens: 6, Revoked: 1, Consents: 3, SigningKeys: 1, Clients: 1, AuditEvents: 5}
	if rep.CopyCounts != want {
		t.Fatalf("counts %+v, want %+v", rep.CopyCounts, want)
	}
	var source AuditCheck
	mustView(t, from, func(tx *boltTx) (err error) { source, err = tx.VerifyAudit(); return err })
	if rep.Audit.Events != 5 || rep.Audit.Break != nil || !bytes.Equal(rep.Audit.HeadMAC, source.HeadMAC) {
		t.Fatalf("audit of the copy %+v, source's head %x", rep.Audit, source.HeadMAC)
	}
	if a, b := snapshot(t, from), snapshot(t, to); !reflect.DeepEqual(a, b) {
		t.Fatalf("the copy differs:\nfrom %+v\nto   %+v", a, b)
	}
	if _, err := Copy(t.Context(), from, to, t0); !errors.Is(err, ErrTargetNotEmpty) {
		t.Fatalf("a second copy into the same store: %v, want ErrTargetNotEmpty", err)
	}
}

func TestCopyRefusesABrokenSourceChainAndAnotherKey(t *testing.T) {
	from := openTestDB(t)
	fillForCopy(t, from)
	other, err := Open(Options{Path: filepath.Join(t.TempDir(), "latch.db"), KEK: bytes.Repeat([]byte{7}, KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := Copy(t.Context(), from, other, t0); err == nil {
		t.Fatal("a copy into a store under another master key passed its check")
	}

	broken := openTestDB(t)
	fillForCopy(t, broken)
	mustUpdate(t, broken, func(tx *boltTx) error {
		return tx.btx.Bucket(bucketAudit).Delete(auditEntryKey(2))
	})
	if _, err := Copy(t.Context(), broken, openTestDB(t), t0); err == nil {
		t.Fatal("a source whose audit chain breaks was copied")
	}
}
