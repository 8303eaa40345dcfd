package store

import (
	"errors"
	"testing"
)

func TestConsentsAreKeptPerUserAndClientAndGoWithTheAccount(t *testing.T) {
	db := openTestDB(t)
	u := &User{ID: "u1", Handle: []byte("u1"), Username: "alice", CreatedAt: t0}
	mustUpdate(t, db, func(tx *boltTx) error {
		if err := tx.PutUser(u); err != nil {
			return err
		}
		for _, c := range []string{"web", "app"} {
			if err := tx.PutConsent(&Consent{UserID: "u1", ClientID: c, Scopes: []string{"openid", c}, GrantedAt: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, db, func(tx *boltTx) error {
		c, err := tx.Consent("u1", "web")
		if err != nil || c.ClientID != "web" || len(c.Scopes) != 2 || c.Scopes[1] != "web" || !c.GrantedAt.Equal(t0) {
			t.Fatalf("Consent = %+v %v", c, err)
		}
		if _, err := tx.Consent("u2", "web"); !errors.Is(err, ErrNotFound) {
			t.Errorf("another user's consent: %v", err)
		}
		all, err := tx.Consents("u1")
		if err != nil || len(all) != 2 || all[0].ClientID != "app" {
			t.Errorf("Consents = %+v %v", all, err)
		}
		if _, err := tx.User("u1"); err != nil {
			t.Errorf("the user record no longer reads beside consents: %v", err)
		}
		return nil
	})
	mustUpdate(t, db, func(tx *boltTx) error { return tx.DeleteConsent("u1", "app") })
	mustUpdate(t, db, func(tx *boltTx) error { return tx.DeleteUser("u1") })
	mustView(t, db, func(tx *boltTx) error {
		if _, err := tx.Consent("u1", "web"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a consent outlived its account: %v", err)
		}
		return nil
	})
}
