package store

import (
	"errors"
	"reflect"
	"testing"
)

func TestClientRoundTripAndListing(t *testing.T) {
	db := openTestDB(t)
	want := []Client{
		{ID: "api", SecretHash: []byte("hash-a"), CreatedAt: t0},
		{ID: "billing", SecretHash: []byte("hash-b"), CreatedAt: t0},
	}
	mustUpdate(t, db, func(tx *boltTx) error {
		for _, c := range []Client{want[1], want[0]} {
			if err := tx.PutClient(&c); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, db, func(tx *boltTx) error {
		got, err := tx.Client("api")
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(*got, want[0]) {
			t.Errorf("Client = %+v, want %+v", *got, want[0])
		}
		all, err := tx.Clients()
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(all, want) {
			t.Errorf("Clients = %+v, want %+v", all, want)
		}
		if _, err := tx.Client("nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown client: err = %v", err)
		}
		return nil
	})
}

func TestDeleteClient(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx *boltTx) error {
		for _, id := range []string{"api", "billing"} {
			if err := tx.PutClient(&Client{ID: id, SecretHash: []byte(id)}); err != nil {
				return err
			}
		}
		return nil
	})
	mustUpdate(t, db, func(tx *boltTx) error { return tx.DeleteClient("api") })
	if err := db.Update(t.Context(), func(tx Tx) error { return tx.DeleteClient("api") }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting a deleted client: %v", err)
	}
	if err := db.Update(t.Context(), func(tx Tx) error { return tx.DeleteClient("") }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting an empty id: %v", err)
	}
	mustView(t, db, func(tx *boltTx) error {
		all, err := tx.Clients()
		if err != nil {
			return err
		}
		if len(all) != 1 || all[0].ID != "billing" {
			t.Errorf("Clients = %+v, want only billing", all)
		}
		return nil
	})
}

// A client record written before OpenID Connect clients existed (only id,
// secret hash and times) still reads, as an introspection client.
func TestClientRecordFromBeforeOIDCReads(t *testing.T) {
	db := openTestDB(t)
	old := []byte(`{"v":1,"id":"api","secret_hash":"aGFzaA==","created_at":"2026-01-02T03:04:05Z"}`)
	mustUpdate(t, db, func(tx *boltTx) error { return tx.btx.Bucket(bucketClients).Put([]byte("api"), old) })
	mustView(t, db, func(tx *boltTx) error {
		c, err := tx.Client("api")
		if err != nil {
			return err
		}
		if c.ID != "api" || string(c.SecretHash) != "hash" || c.CreatedAt.Year() != 2026 || c.RedirectURIs != nil || c.Public {
			t.Errorf("old record read as %+v", c)
		}
		return nil
	})
	full := Client{ID: "web", SecretHash: []byte("h"), CreatedAt: t0, RedirectURIs: []string{"https://app.example/cb"},
		FirstParty: true, PostLogoutRedirectURIs: []string{"https://app.example/"}, WebOrigins: []string{"https://app.example"},
		IDTokenAlg: "RS256", JWKS: []byte(`{"keys":[]}`)}
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutClient(&full) })
	mustView(t, db, func(tx *boltTx) error {
		got, err := tx.Client("web")
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(*got, full) {
			t.Errorf("Client = %+v, want %+v", *got, full)
		}
		return nil
	})
}
