package storetest

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/store"
)

func testBlacklist(t *testing.T, open opener) {
	cases(t, open, map[string]func(t *testing.T, s store.Store){
		"RevokedReturnsOnlyLiveEntries": revokedLive,
		"InvalidAreRefused":             revokedInvalid,
	})
	t.Run("NeverShortens", func(t *testing.T) { revokedNeverShortens(t, open) })
}

func revokedLive(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error {
		for key, until := range map[string]time.Time{
			"jti:live":    T0.Add(time.Hour),
			"jti:edge":    T0,
			"jti:expired": T0.Add(-time.Hour),
			"sid:live":    T0.Add(time.Microsecond),
		} {
			if err := tx.PutRevoked(key, until); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, s, func(tx store.Tx) error {
		got, err := tx.Revoked(T0)
		if err != nil {
			return err
		}
		want := map[string]time.Time{"jti:live": T0.Add(time.Hour), "sid:live": T0.Add(time.Microsecond)}
		if !maps.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("Revoked = %v, want %v", got, want)
		}
		all, err := tx.Revoked(T0.Add(-2 * time.Hour))
		if err != nil || len(all) != 4 {
			t.Errorf("Revoked before all ends = %v, %v; want 4 entries", all, err)
		}
		return nil
	})
}

func revokedNeverShortens(t *testing.T, open opener) {
	tests := []struct {
		name   string
		second time.Time
		want   time.Time
	}{
		{"a later end extends the revocation", T0.Add(2 * time.Hour), T0.Add(2 * time.Hour)},
		{"an earlier end is ignored", T0.Add(time.Minute), T0.Add(time.Hour)},
		{"the same end changes nothing", T0.Add(time.Hour), T0.Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			mustUpdate(t, s, func(tx store.Tx) error { return tx.PutRevoked("k", T0.Add(time.Hour)) })
			mustUpdate(t, s, func(tx store.Tx) error { return tx.PutRevoked("k", tt.second) })
			mustView(t, s, func(tx store.Tx) error {
				got, err := tx.Revoked(T0)
				if err != nil {
					return err
				}
				if len(got) != 1 || !got["k"].Equal(tt.want) {
					t.Errorf("Revoked = %v, want k until %v", got, tt.want)
				}
				return nil
			})
			// Swept once, at its one end, whichever that is.
			if n, err := s.Sweep(t.Context(), tt.want.Add(-time.Microsecond)); err != nil || n != 0 {
				t.Errorf("a sweep before the end removed %d, %v", n, err)
			}
			if n, err := s.Sweep(t.Context(), tt.want); err != nil || n != 1 {
				t.Errorf("the sweep at the end removed %d, %v; want 1", n, err)
			}
		})
	}
}

func revokedInvalid(t *testing.T, s store.Store) {
	tests := []struct {
		name  string
		key   string
		until time.Time
	}{
		{"empty key", "", T0},
		{"oversized key", strings.Repeat("k", maxKeyLen+1), T0},
		{"zero end time", "k", time.Time{}},
	}
	for _, tt := range tests {
		if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.PutRevoked(tt.key, tt.until) }); err == nil {
			t.Errorf("%s: PutRevoked accepted it", tt.name)
		}
	}
	mustView(t, s, func(tx store.Tx) error {
		if got, err := tx.Revoked(time.Time{}); err != nil || len(got) != 0 {
			t.Errorf("invalid entries were stored: %v, %v", got, err)
		}
		return nil
	})
}

func testCeremonies(t *testing.T, open opener) {
	cases(t, open, map[string]func(t *testing.T, s store.Store){
		"RoundTripAndExpiry":        ceremonyRoundTrip,
		"WithoutExpiryIsRefused":    ceremonyInvalid,
		"DeleteIsIdempotent":        ceremonyDelete,
		"NewExpiryMovesTheSweep":    ceremonyNewExpiry,
		"PendingIsTakenOnce":        pendingTakenOnce,
		"PendingRefusals":           pendingRefusals,
		"PendingAndStoredAreApart":  pendingApart,
		"PendingIsSweptWhenExpired": pendingSwept,
	})
}

func ceremonyRoundTrip(t *testing.T, s store.Store) {
	want := store.Ceremony{
		ID: "cer1", Kind: "registration", UserID: "u1", Username: "alice", DisplayName: "Alice",
		Handle: []byte("h"), Session: []byte(`{"challenge":"abc"}`), AMR: []string{"hwk"},
		AuthTime: T0.Add(-time.Minute), ExpiresAt: T0, Parent: "rec-1",
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutCeremony(&want) })
	tests := []struct {
		name    string
		now     time.Time
		wantErr error
	}{
		{"live ceremony is returned", T0.Add(-time.Nanosecond), nil},
		{"ceremony at its expiry instant is refused", T0, store.ErrNotFound},
		{"expired but unswept ceremony is refused", T0.Add(time.Hour), store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustView(t, s, func(tx store.Tx) error {
				got, err := tx.Ceremony("cer1", tt.now)
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if err == nil && !reflect.DeepEqual(*got, want) {
					t.Errorf("got %+v\nwant %+v", *got, want)
				}
				return nil
			})
		})
	}
	mustView(t, s, func(tx store.Tx) error {
		for _, id := range []string{"nope", "", strings.Repeat("c", 70000)} {
			if _, err := tx.Ceremony(id, T0.Add(-time.Hour)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("ceremony %.10q: %v, want ErrNotFound", id, err)
			}
		}
		return nil
	})
	// A put of the same id replaces it.
	bare := store.Ceremony{ID: "cer1", Kind: "login", ExpiresAt: T0.Add(time.Hour)}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutCeremony(&bare) })
	mustView(t, s, func(tx store.Tx) error {
		if got, err := tx.Ceremony("cer1", T0); err != nil || !reflect.DeepEqual(*got, bare) {
			t.Errorf("replaced: %+v, %v; want %+v", got, err, bare)
		}
		return nil
	})
}

func ceremonyInvalid(t *testing.T, s store.Store) {
	for name, c := range map[string]store.Ceremony{
		"no expiry":    {ID: "c"},
		"empty id":     {ExpiresAt: T0},
		"oversized id": {ID: strings.Repeat("c", maxKeyLen+1), ExpiresAt: T0},
	} {
		if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.PutCeremony(&c) }); err == nil {
			t.Errorf("%s: PutCeremony accepted it", name)
		}
		if err := s.PutPending(&c, T0.Add(-time.Hour)); err == nil {
			t.Errorf("%s: PutPending accepted it", name)
		}
	}
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.Ceremony("c", T0.Add(-time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a ceremony without expiry was stored: %v", err)
		}
		return nil
	})
}

func ceremonyDelete(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutCeremony(&store.Ceremony{ID: "c", ExpiresAt: T0}) })
	for _, name := range []string{"existing ceremony is deleted", "missing ceremony is not an error"} {
		t.Run(name, func(t *testing.T) {
			mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteCeremony("c") })
		})
	}
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.Ceremony("c", T0.Add(-time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted ceremony found: %v", err)
		}
		return nil
	})
	if n, err := s.Sweep(t.Context(), T0.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("a sweep after the delete removed %d, %v", n, err)
	}
}

func ceremonyNewExpiry(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutCeremony(&store.Ceremony{ID: "c", ExpiresAt: T0}) })
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutCeremony(&store.Ceremony{ID: "c", ExpiresAt: T0.Add(time.Hour)})
	})
	// Sweeping at the old expiry must not remove the extended ceremony.
	if n, err := s.Sweep(t.Context(), T0.Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("the sweep at the old expiry removed %d, %v", n, err)
	}
	mustView(t, s, func(tx store.Tx) error {
		_, err := tx.Ceremony("c", T0.Add(time.Minute))
		return err
	})
	if n, err := s.Sweep(t.Context(), T0.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("the sweep at the new expiry removed %d, %v; want 1", n, err)
	}
}

func pendingTakenOnce(t *testing.T, s store.Store) {
	want := store.Ceremony{ID: "cer1", Kind: "login", UserID: "u1", Username: "alice", DisplayName: "Alice", Handle: []byte("h"),
		Session: []byte(`{"c":1}`), AMR: []string{"hwk"}, AuthTime: T0.Add(-time.Hour), ExpiresAt: T0, Parent: "p"}
	if err := s.PutPending(&want, T0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := s.TakePending(t.Context(), "cer1", T0.Add(-time.Second))
	if err != nil {
		t.Fatalf("first take: %v", err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("got %+v, want %+v", *got, want)
	}
	if _, err := s.TakePending(t.Context(), "cer1", T0.Add(-time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second take: err = %v, want ErrNotFound", err)
	}
}

func pendingRefusals(t *testing.T, s store.Store) {
	tests := []struct {
		name string
		take string
		at   time.Time
	}{
		{"unknown id", "nope", T0.Add(-time.Second)},
		{"at its expiry instant", "cer", T0},
		{"after its expiry", "cer", T0.Add(time.Hour)},
		{"empty id", "", T0.Add(-time.Second)},
		{"oversized id", string(make([]byte, maxKeyLen+1)), T0.Add(-time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.PutPending(&store.Ceremony{ID: "cer", ExpiresAt: T0}, T0.Add(-time.Minute)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.TakePending(t.Context(), tt.take, tt.at); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		})
	}
}

// Taking a pending ceremony leaves a stored ceremony of another id alone.
func pendingApart(t *testing.T, s store.Store) {
	if err := s.PutPending(&store.Ceremony{ID: "p", ExpiresAt: T0}, T0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutCeremony(&store.Ceremony{ID: "c", ExpiresAt: T0}) })
	if _, err := s.TakePending(t.Context(), "p", T0.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.Ceremony("c", T0.Add(-time.Second)); err != nil {
			t.Errorf("taking a pending ceremony removed a stored one: %v", err)
		}
		return nil
	})
}

func pendingSwept(t *testing.T, s store.Store) {
	for i, exp := range []time.Time{T0.Add(-time.Minute), T0, T0.Add(time.Minute)} {
		if err := s.PutPending(&store.Ceremony{ID: string(rune('a' + i)), ExpiresAt: exp}, T0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Sweep(t.Context(), T0); err != nil || n != 2 {
		t.Fatalf("Sweep removed %d, %v; want 2", n, err)
	}
	if _, err := s.TakePending(t.Context(), "c", T0); err != nil {
		t.Errorf("the live ceremony after the sweep: %v", err)
	}
}
