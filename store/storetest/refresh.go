package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/store"
)

func testRefreshTokens(t *testing.T, open opener) {
	cases(t, open, map[string]func(t *testing.T, s store.Store){
		"RoundTrip":                   refreshRoundTrip,
		"Rotate":                      refreshRotate,
		"RotateToNoRecord":            refreshRotateToSession,
		"RotationKeepsTwoPerFamily":   refreshTwoPerFamily,
		"ScanVisitsEveryTokenInOrder": refreshScan,
		"ScanStopsAtAnError":          refreshScanStops,
		"SweptAfterExpiryNotBefore":   refreshSwept,
		"InvalidAreRefused":           refreshInvalid,
	})
}

func refreshRoundTrip(t *testing.T, s store.Store) {
	want := store.RefreshToken{
		Hash: "h1", SessionID: "s1", UserID: "u1", ClientID: "app", Scope: "openid",
		JKT: "jkt", IssuedAt: T0, ExpiresAt: T0.Add(time.Hour), RotatedAt: T0.Add(time.Minute), Previous: "h0",
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutRefreshToken(&want) })
	mustView(t, s, func(tx store.Tx) error {
		got, err := tx.RefreshToken("h1")
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("got %+v\nwant %+v", *got, want)
		}
		for _, h := range []string{"unknown", "", strings.Repeat("h", 70000)} {
			if _, err := tx.RefreshToken(h); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("hash %.10q: err = %v, want ErrNotFound", h, err)
			}
		}
		return nil
	})
	// A put of the same hash replaces the token.
	want.ExpiresAt, want.Scope = T0.Add(2*time.Hour), "openid profile"
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutRefreshToken(&want) })
	mustView(t, s, func(tx store.Tx) error {
		if got, err := tx.RefreshToken("h1"); err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("after the update: %+v, %v", got, err)
		}
		return nil
	})
}

// rotate rotates the token hash in one transaction if it was not rotated
// yet: how the service spends a refresh token.
func rotate(s store.Store, hash string, at time.Time, next *store.RefreshToken) error {
	return s.Update(context.Background(), func(tx store.Tx) error {
		old, err := tx.RefreshToken(hash)
		if err != nil {
			return err
		}
		if !old.RotatedAt.IsZero() {
			return errRotated
		}
		return tx.RotateRefreshToken(old, at, next)
	})
}

var errRotated = errors.New("already rotated")

func refreshRotate(t *testing.T, s store.Store) {
	exp := T0.Add(time.Hour)
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutRefreshToken(&store.RefreshToken{Hash: "old", SessionID: "s", UserID: "u", ClientID: "app", ExpiresAt: exp})
	})
	if err := rotate(s, "old", T0, &store.RefreshToken{Hash: "new", SessionID: "s", UserID: "u", ClientID: "app", ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	mustView(t, s, func(tx store.Tx) error {
		old, err := tx.RefreshToken("old")
		if err != nil || !old.RotatedAt.Equal(T0) || !old.ExpiresAt.Equal(exp) || old.ClientID != "app" {
			t.Errorf("old token after rotation: %+v, %v", old, err)
		}
		if next, err := tx.RefreshToken("new"); err != nil || !next.RotatedAt.IsZero() || next.Previous != "old" {
			t.Errorf("new token: %+v, %v", next, err)
		}
		return nil
	})
	// A second spend of the rotated token is seen as one.
	if err := rotate(s, "old", T0.Add(time.Second), &store.RefreshToken{Hash: "other", SessionID: "s", UserID: "u", ExpiresAt: exp}); !errors.Is(err, errRotated) {
		t.Fatalf("second rotation: %v", err)
	}
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.RefreshToken("other"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a refused rotation stored its token: %v", err)
		}
		return nil
	})
	// Both expire and are swept together.
	if n, err := s.Sweep(t.Context(), exp.Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("sweep removed %d, %v; want 2", n, err)
	}
}

// With next nil the family leaves the records: the old token stays,
// rotated.
func refreshRotateToSession(t *testing.T, s store.Store) {
	exp := T0.Add(time.Hour)
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutRefreshToken(&store.RefreshToken{Hash: "old", SessionID: "s", UserID: "u", ExpiresAt: exp})
	})
	if err := rotate(s, "old", T0, nil); err != nil {
		t.Fatal(err)
	}
	var hashes []string
	mustView(t, s, func(tx store.Tx) error {
		return tx.ScanRefreshTokens(func(rt *store.RefreshToken) error {
			hashes = append(hashes, rt.Hash)
			if !rt.RotatedAt.Equal(T0) {
				t.Errorf("token %s not marked rotated: %+v", rt.Hash, rt)
			}
			return nil
		})
	})
	if !slices.Equal(hashes, []string{"old"}) {
		t.Errorf("tokens kept: %v, want [old]", hashes)
	}
}

// refreshTwoPerFamily rotates one session's token many times: the store
// must hold its current token and the one just rotated (whose reuse is
// still recognised), not every token it ever had.
func refreshTwoPerFamily(t *testing.T, s store.Store) {
	exp := T0.Add(30 * 24 * time.Hour)
	mustUpdate(t, s, func(tx store.Tx) error {
		return errors.Join(
			tx.PutRefreshToken(&store.RefreshToken{Hash: "t0000", SessionID: "s", UserID: "u", ExpiresAt: exp}),
			// Another family, untouched by the rotations.
			tx.PutRefreshToken(&store.RefreshToken{Hash: "x", SessionID: "s2", UserID: "u", ExpiresAt: exp}),
		)
	})
	const rotations = 100
	for i := 1; i <= rotations; i++ {
		next := &store.RefreshToken{Hash: fmt.Sprintf("t%04d", i), SessionID: "s", UserID: "u", ExpiresAt: exp}
		if err := rotate(s, fmt.Sprintf("t%04d", i-1), T0.Add(time.Duration(i)*time.Minute), next); err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
	}
	mustView(t, s, func(tx store.Tx) error {
		var hashes []string
		if err := tx.ScanRefreshTokens(func(rt *store.RefreshToken) error { hashes = append(hashes, rt.Hash); return nil }); err != nil {
			return err
		}
		slices.Sort(hashes)
		if want := []string{fmt.Sprintf("t%04d", rotations-1), fmt.Sprintf("t%04d", rotations), "x"}; !slices.Equal(hashes, want) {
			t.Errorf("after %d rotations the store holds %v, want %v", rotations, hashes, want)
		}
		cur, err := tx.RefreshToken(fmt.Sprintf("t%04d", rotations))
		if err != nil || !cur.RotatedAt.IsZero() || cur.Previous != fmt.Sprintf("t%04d", rotations-1) {
			t.Errorf("current token: %+v, %v", cur, err)
		}
		prev, err := tx.RefreshToken(fmt.Sprintf("t%04d", rotations-1))
		if err != nil || !prev.RotatedAt.Equal(T0.Add(rotations*time.Minute)) || prev.SessionID != "s" {
			t.Errorf("the token just rotated must be kept, marked rotated: %+v, %v", prev, err)
		}
		if _, err := tx.RefreshToken(fmt.Sprintf("t%04d", rotations-2)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an older token is still kept: %v", err)
		}
		return nil
	})
}

func refreshScan(t *testing.T, s store.Store) {
	var want []store.RefreshToken
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, h := range []string{"c", "a", "b", "ab"} {
			rt := store.RefreshToken{Hash: h, SessionID: "s-" + h, UserID: "u", IssuedAt: T0, ExpiresAt: T0.Add(time.Hour)}
			want = append(want, rt)
			if err := tx.PutRefreshToken(&rt); err != nil {
				return err
			}
		}
		return nil
	})
	slices.SortFunc(want, func(a, b store.RefreshToken) int { return strings.Compare(a.Hash, b.Hash) })
	var got []store.RefreshToken
	mustView(t, s, func(tx store.Tx) error {
		return tx.ScanRefreshTokens(func(rt *store.RefreshToken) error { got = append(got, *rt); return nil })
	})
	if !reflect.DeepEqual(got, want) {
		t.Errorf("scanned %+v\nwant %+v (by hash)", got, want)
	}
}

func refreshScanStops(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, h := range []string{"a", "b", "c"} {
			if err := tx.PutRefreshToken(&store.RefreshToken{Hash: h, SessionID: "s", ExpiresAt: T0.Add(time.Hour)}); err != nil {
				return err
			}
		}
		return nil
	})
	stop := errors.New("stop")
	calls := 0
	err := s.View(t.Context(), func(tx store.Tx) error {
		return tx.ScanRefreshTokens(func(*store.RefreshToken) error { calls++; return stop })
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("scan returned %v after %d calls, want fn's error after 1", err, calls)
	}
}

// refreshSwept: a token is never swept before its expiry, and is swept
// once its expiry is an hour past at the latest (a store may sweep them
// by the hour; an expired token is refused by its ExpiresAt anyway).
func refreshSwept(t *testing.T, s store.Store) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	mustUpdate(t, s, func(tx store.Tx) error {
		return errors.Join(
			tx.PutRefreshToken(&store.RefreshToken{Hash: "rt", SessionID: "s", UserID: "u", ExpiresAt: exp}),
			tx.PutRefreshToken(&store.RefreshToken{Hash: "later", SessionID: "s2", UserID: "u", ExpiresAt: exp.Add(3 * time.Hour)}),
			// Moved: the old expiry is not where it is swept.
			tx.PutRefreshToken(&store.RefreshToken{Hash: "moved", SessionID: "s3", UserID: "u", ExpiresAt: exp}),
			tx.PutRefreshToken(&store.RefreshToken{Hash: "moved", SessionID: "s3", UserID: "u", ExpiresAt: exp.Add(3 * time.Hour)}),
		)
	})
	if n, err := s.Sweep(t.Context(), exp.Add(-time.Microsecond)); err != nil || n != 0 {
		t.Fatalf("a sweep before the expiry removed %d, %v", n, err)
	}
	if n, err := s.Sweep(t.Context(), exp.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("a sweep an hour after the expiry removed %d, %v; want 1", n, err)
	}
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.RefreshToken("rt"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the expired token: %v, want ErrNotFound", err)
		}
		for _, h := range []string{"later", "moved"} {
			if _, err := tx.RefreshToken(h); err != nil {
				t.Errorf("live token %s: %v", h, err)
			}
		}
		return nil
	})
	if n, err := s.Sweep(t.Context(), exp.Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("a second sweep removed %d, %v", n, err)
	}
	if n, err := s.Sweep(t.Context(), exp.Add(4*time.Hour)); err != nil || n != 2 {
		t.Fatalf("the last sweep removed %d, %v; want 2", n, err)
	}
}

func refreshInvalid(t *testing.T, s store.Store) {
	for name, rt := range map[string]store.RefreshToken{
		"empty hash":       {SessionID: "s", ExpiresAt: T0},
		"oversized hash":   {Hash: strings.Repeat("h", maxKeyLen+1), SessionID: "s", ExpiresAt: T0},
		"empty session id": {Hash: "h", ExpiresAt: T0},
	} {
		if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.PutRefreshToken(&rt) }); err == nil {
			t.Errorf("%s: PutRefreshToken accepted it", name)
		}
	}
	mustView(t, s, func(tx store.Tx) error {
		return tx.ScanRefreshTokens(func(rt *store.RefreshToken) error {
			t.Errorf("an invalid token was stored: %+v", rt)
			return nil
		})
	})
}
