package auth

import (
	"context"
	"sync"
	"time"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/tokens"
)

// revocationList mirrors the store's blacklist in memory so that the check
// on every protected request never touches the disk. Entries are added only
// after the store has committed them, and dropped once they expire.
type revocationList struct {
	mu      sync.RWMutex
	entries map[string]time.Time
}

func loadRevocations(ctx context.Context, db store.Store, now time.Time) (*revocationList, error) {
	r := &revocationList{}
	err := db.View(ctx, func(tx store.Tx) error {
		m, err := tx.Revoked(now)
		r.entries = m
		return err
	})
	if r.entries == nil {
		r.entries = map[string]time.Time{}
	}
	return r, err
}

// Keys of the blacklist: one namespace per kind of revoked thing.
const (
	prefixJTI     = "jti:"
	prefixSession = "sid:"
)

func revokedJTI(jti string) string      { return prefixJTI + jti }
func revokedSession(sid string) string  { return prefixSession + sid }
func revokedSDJWT(digest string) string { return "sd:" + digest }

// tokenRevoked reports whether an access token is revoked, by its own jti
// or through its login session. Every protected request asks, so it takes
// the lock once and builds both keys on the stack (a map lookup keyed by a
// converted byte slice does not allocate).
func (r *revocationList) tokenRevoked(claims *tokens.AccessClaims) bool {
	var buf [96]byte
	r.mu.RLock()
	defer r.mu.RUnlock()
	if _, ok := r.entries[string(append(append(buf[:0], prefixJTI...), claims.ID...))]; ok {
		return true
	}
	_, ok := r.entries[string(append(append(buf[:0], prefixSession...), claims.SessionID...))]
	return ok
}

func (r *revocationList) has(key string) bool {
	r.mu.RLock()
	_, ok := r.entries[key]
	r.mu.RUnlock()
	return ok
}

func (r *revocationList) add(key string, until time.Time) {
	r.mu.Lock()
	if cur, ok := r.entries[key]; !ok || until.After(cur) {
		r.entries[key] = until
	}
	r.mu.Unlock()
}

// replace takes the entries of a fresh load (a resync), keeping any added
// since that load began: an entry is never dropped before it ends.
func (r *revocationList) replace(fresh *revocationList) {
	r.mu.Lock()
	for k, until := range r.entries {
		if cur, ok := fresh.entries[k]; !ok || until.After(cur) {
			fresh.entries[k] = until
		}
	}
	r.entries = fresh.entries
	r.mu.Unlock()
}

func (r *revocationList) sweep(now time.Time) {
	r.mu.Lock()
	for k, until := range r.entries {
		if !until.After(now) {
			delete(r.entries, k)
		}
	}
	r.mu.Unlock()
}

func (r *revocationList) run(ctx context.Context, every time.Duration, now func() time.Time) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.sweep(now())
		}
	}
}

// revoke persists blacklist entries and, once committed, mirrors them.
func (s *Server) revoke(ctx context.Context, entries map[string]time.Time) error {
	err := s.db.Update(ctx, func(tx store.Tx) error {
		for k, until := range entries {
			if err := tx.PutRevoked(k, until); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for k, until := range entries {
		s.revoked.add(k, until)
	}
	return nil
}
