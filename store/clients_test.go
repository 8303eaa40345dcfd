package store

import (
	"reflect"
	"testing"
)

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
