package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/latchid/latch/store"
)

func testCopies(t *testing.T, open opener) {
	cases(t, open, map[string]func(t *testing.T, s store.Store){
		"ReturnedValuesAreCopies":        copiesReturned,
		"ReturnedValuesOutliveTheirView": copiesOutlive,
		"WrittenValuesAreCopied":         copiesWritten,
		"PendingCeremoniesAreCopied":     copiesPending,
	})
}

// records is one of every record with slices or maps, as written.
type records struct {
	User    store.User
	Cred    store.Credential
	Session store.Session
	Cer     store.Ceremony
	Client  store.Client
	Consent store.Consent
	Totp    store.TOTP
	Codes   store.RecoveryCodes
	Key     store.SigningKey
	Event   store.AuditEvent
	Rt      store.RefreshToken
}

func newRecords() *records {
	return &records{
		User: store.User{ID: "u", Handle: []byte("handle"), Username: "alice", Groups: []string{"admins"}, CreatedAt: T0},
		Cred: store.Credential{ID: []byte("cred"), UserID: "u", Transports: []string{"usb"}, AAGUID: []byte("aaguid-16-bytes!"),
			Record: []byte("record"), CreatedAt: T0},
		Session: store.Session{ID: "s", UserID: "u", AMR: []string{"pop"}, Refresh: []byte("refresh"), CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)},
		Cer:     store.Ceremony{ID: "cer", Kind: "login", Handle: []byte("handle"), Session: []byte("state"), AMR: []string{"hwk"}, ExpiresAt: T0},
		Client: store.Client{ID: "c", SecretHash: []byte("hash"), RedirectURIs: []string{"https://a.example/cb"},
			PostLogoutRedirectURIs: []string{"https://a.example/"}, WebOrigins: []string{"https://a.example"}, JWKS: []byte(`{"keys":[]}`), CreatedAt: T0},
		Consent: store.Consent{UserID: "u", ClientID: "c", Scopes: []string{"openid"}, GrantedAt: T0},
		Totp:    store.TOTP{UserID: "u", Secret: []byte("seed"), CreatedAt: T0},
		Codes:   store.RecoveryCodes{UserID: "u", Hashes: [][]byte{[]byte("h1")}, CreatedAt: T0},
		Key:     store.SigningKey{ID: "k", Alg: "ES256", Private: []byte("private"), CreatedAt: T0},
		Event:   store.AuditEvent{Seq: 1, Time: T0, Type: "signin", UserID: "u", Detail: map[string]string{"amr": "pop"}},
		Rt:      store.RefreshToken{Hash: "rt", SessionID: "s", UserID: "u", ExpiresAt: T0.Add(time.Hour)},
	}
}

func (r *records) put(tx store.Tx) error {
	if err := tx.PutUser(&r.User); err != nil {
		return err
	}
	return errors.Join(
		tx.PutCredential(&r.Cred), tx.PutSession(&r.Session), tx.PutCeremony(&r.Cer), tx.PutClient(&r.Client),
		tx.PutConsent(&r.Consent), tx.PutTOTP(&r.Totp), tx.PutRecoveryCodes(&r.Codes), tx.PutSigningKey(&r.Key),
		tx.AppendAudit(&r.Event), tx.PutRefreshToken(&r.Rt),
	)
}

// read reads every record back.
func read(tx store.Tx) (*records, error) {
	var r records
	var errs []error
	u, err := tx.User("u")
	errs = append(errs, err)
	if err == nil {
		r.User = *u
	}
	c, err := tx.Credential([]byte("cred"))
	errs = append(errs, err)
	if err == nil {
		r.Cred = *c
	}
	ses, err := tx.Session("s")
	errs = append(errs, err)
	if err == nil {
		r.Session = *ses
	}
	cer, err := tx.Ceremony("cer", T0.Add(-time.Hour))
	errs = append(errs, err)
	if err == nil {
		r.Cer = *cer
	}
	cl, err := tx.Client("c")
	errs = append(errs, err)
	if err == nil {
		r.Client = *cl
	}
	co, err := tx.Consent("u", "c")
	errs = append(errs, err)
	if err == nil {
		r.Consent = *co
	}
	f, err := tx.TOTP("u")
	errs = append(errs, err)
	if err == nil {
		r.Totp = *f
	}
	rc, err := tx.RecoveryCodes("u")
	errs = append(errs, err)
	if err == nil {
		r.Codes = *rc
	}
	keys, err := tx.SigningKeys()
	errs = append(errs, err)
	if err == nil && len(keys) == 1 {
		r.Key = keys[0]
	}
	events, err := tx.AuditEvents(1)
	errs = append(errs, err)
	if err == nil && len(events) == 1 {
		r.Event = events[0]
	}
	rt, err := tx.RefreshToken("rt")
	errs = append(errs, err)
	if err == nil {
		r.Rt = *rt
	}
	return &r, errors.Join(errs...)
}

// scribble changes every slice and map of r in place.
func scribble(r *records) {
	for _, b := range [][]byte{r.User.Handle, r.Cred.ID, r.Cred.AAGUID, r.Cred.Record, r.Session.Refresh, r.Cer.Handle, r.Cer.Session,
		r.Client.SecretHash, r.Client.JWKS, r.Totp.Secret, r.Codes.Hashes[0], r.Key.Private} {
		if len(b) > 0 {
			b[0] ^= 0xff
		}
	}
	for _, s := range [][]string{r.User.Groups, r.Cred.Transports, r.Session.AMR, r.Cer.AMR, r.Client.RedirectURIs,
		r.Client.PostLogoutRedirectURIs, r.Client.WebOrigins, r.Consent.Scopes} {
		if len(s) > 0 {
			s[0] = "scribbled"
		}
	}
	r.Codes.Hashes[0] = []byte("scribbled")
	r.Event.Detail["amr"] = "scribbled"
	r.Event.Detail["new"] = "scribbled"
}

// compare reports every record of got that differs from want.
func compare(t *testing.T, what string, got, want *records) {
	t.Helper()
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := range g.NumField() {
		if !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
			t.Errorf("%s: %s = %+v, want %+v", what, g.Type().Field(i).Name, g.Field(i).Interface(), w.Field(i).Interface())
		}
	}
}

// copiesReturned: changing what a Tx returned changes nothing stored, in
// the same transaction or after it.
func copiesReturned(t *testing.T, s store.Store) {
	want := newRecords()
	mustUpdate(t, s, newRecords().put)
	mustUpdate(t, s, func(tx store.Tx) error {
		first, err := read(tx)
		if err != nil {
			return err
		}
		scribble(first)
		again, err := read(tx)
		if err != nil {
			return err
		}
		compare(t, "read again in the same Update", again, want)
		// Lists too.
		users, err := tx.Users()
		if err != nil {
			return err
		}
		users[0].Groups[0], users[0].Handle[0] = "scribbled", 'X'
		creds, err := tx.CredentialsByUser("u")
		if err != nil {
			return err
		}
		creds[0].Transports[0], creds[0].Record[0] = "scribbled", 'X'
		sessions, err := tx.SessionsByUser("u")
		if err != nil {
			return err
		}
		sessions[0].AMR[0], sessions[0].Refresh[0] = "scribbled", 'X'
		clients, err := tx.Clients()
		if err != nil {
			return err
		}
		clients[0].RedirectURIs[0], clients[0].SecretHash[0] = "scribbled", 'X'
		consents, err := tx.Consents("u")
		if err != nil {
			return err
		}
		consents[0].Scopes[0] = "scribbled"
		return tx.ScanAudit(func(e *store.AuditEvent) error { e.Detail["amr"] = "scribbled"; return nil })
	})
	mustView(t, s, func(tx store.Tx) error {
		got, err := read(tx)
		if err != nil {
			return err
		}
		compare(t, "read in a later View", got, want)
		return nil
	})
	mustView(t, s, func(tx store.Tx) error {
		got, err := read(tx)
		if err != nil {
			return err
		}
		scribble(got)
		return nil
	})
	mustView(t, s, func(tx store.Tx) error {
		got, err := read(tx)
		if err != nil {
			return err
		}
		compare(t, "read after a View scribbled on its values", got, want)
		return nil
	})
}

// copiesOutlive: values read in a View stay as read after it returns,
// however much is written after.
func copiesOutlive(t *testing.T, s store.Store) {
	want := newRecords()
	mustUpdate(t, s, newRecords().put)
	var got *records
	var users []store.User
	mustView(t, s, func(tx store.Tx) (err error) {
		if got, err = read(tx); err != nil {
			return err
		}
		users, err = tx.Users()
		return err
	})
	// Rewrite everything, and write much more, so that a store whose
	// values pointed into its own buffers would have reused them.
	changed := newRecords()
	scribble(changed)
	changed.Event = store.AuditEvent{Time: T0, Type: "later", Detail: map[string]string{"amr": "otp"}}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := changed.put(tx); err != nil {
			return err
		}
		for i := range 2000 {
			if err := tx.PutRevoked(fmt.Sprintf("filler-%04d", i), T0.Add(time.Hour)); err != nil {
				return err
			}
		}
		return nil
	})
	compare(t, "values read before the rewrite", got, want)
	if len(users) != 1 || !reflect.DeepEqual(users[0], want.User) {
		t.Errorf("Users read before the rewrite = %+v", users)
	}
}

// copiesWritten: changing a value after writing it changes nothing
// stored.
func copiesWritten(t *testing.T, s store.Store) {
	want := newRecords()
	written := newRecords()
	mustUpdate(t, s, written.put)
	scribble(written)
	mustView(t, s, func(tx store.Tx) error {
		got, err := read(tx)
		if err != nil {
			return err
		}
		compare(t, "after the writer changed its values", got, want)
		return nil
	})
}

// copiesPending: a pending ceremony is the one put, whatever its caller
// does with the value it passed after. (The store's contract says nothing
// of the slices inside it: the bbolt store holds the caller's, so the
// suite changes only the fields of the value itself.)
func copiesPending(t *testing.T, s store.Store) {
	want := newRecords().Cer
	c := newRecords().Cer
	if err := s.PutPending(&c, T0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	c.ID, c.Kind = "other", "other"
	c.ExpiresAt = T0.Add(-time.Hour)
	got, err := s.TakePending(t.Context(), "cer", T0.Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("taken %+v, want %+v", *got, want)
	}
}
