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
	mustUpdate(t, db, func(tx *Tx) error {
		for _, c := range []Client{want[1], want[0]} {
			if err := tx.PutClient(&c); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, db, func(tx *Tx) error {
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
	mustUpdate(t, db, func(tx *Tx) error {
		for _, id := range []string{"api", "billing"} {
			if err := tx.PutClient(&Client{ID: id, SecretHash: []byte(id)}); err != nil {
				return err
			}
		}
		return nil
	})
	mustUpdate(t, db, func(tx *Tx) error { return tx.DeleteClient("api") })
	if err := db.Update(t.Context(), func(tx *Tx) error { return tx.DeleteClient("api") }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting a deleted client: %v", err)
	}
	if err := db.Update(t.Context(), func(tx *Tx) error { return tx.DeleteClient("") }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting an empty id: %v", err)
	}
	mustView(t, db, func(tx *Tx) error {
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
