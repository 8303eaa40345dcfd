package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/latchid/latch/store"

	"github.com/latchid/latch/tokens/jose"
)

// loadKeyring reads the signing keys from the store, creating the first one
// on first start. The newest unretired key signs; retired keys stay published
// until every token they signed has expired.
func loadKeyring(ctx context.Context, db store.Store, alg string, window time.Duration, now time.Time) (*jose.Keyring, error) {
	active, retired, err := readKeys(ctx, db, window, now)
	if err != nil {
		return nil, err
	}
	if active == nil {
		if _, err := rotateKeys(ctx, db, alg, window, now, noActiveKey); err != nil {
			return nil, err
		}
		if active, retired, err = readKeys(ctx, db, window, now); err != nil {
			return nil, err
		}
		if active == nil {
			return nil, fmt.Errorf("load signing keys: no active key after creating one")
		}
	}
	return jose.NewKeyring(active, retired...), nil
}

// readKeys loads the keys. A retired key stays published for at least
// window after its retirement, whatever the rotation recorded: a rotation
// made offline by the CLI may not know this server's token lifetimes.
func readKeys(ctx context.Context, db store.Store, window time.Duration, now time.Time) (*jose.SigningKey, []jose.KeyringEntry, error) {
	var recs []store.SigningKey
	if err := db.View(ctx, func(tx store.Tx) error {
		var err error
		recs, err = tx.SigningKeys()
		return err
	}); err != nil {
		return nil, nil, fmt.Errorf("load signing keys: %w", err)
	}
	var active *jose.SigningKey
	var retired []jose.KeyringEntry
	for _, r := range recs {
		k, err := jose.ParseSigningKey(r.ID, r.Alg, r.CreatedAt, r.Private)
		if err != nil {
			return nil, nil, fmt.Errorf("load signing key %s: %w", r.ID, err)
		}
		switch {
		case r.Alg == rsaKeyAlg:
			// The RSA key signs only ID tokens of RS256 clients: never the
			// active key, published for as long as it is kept.
			retired = append(retired, jose.KeyringEntry{Key: k})
		case r.RetiredAt.IsZero():
			if active != nil {
				// Two unretired keys can only come from an interrupted
				// rotation; the newer one wins, the older stays published.
				retired = append(retired, jose.KeyringEntry{Key: active, PublishUntil: now.Add(24 * time.Hour)})
			}
			active = k
		default:
			until := r.PublishUntil
			if min := r.RetiredAt.Add(window); min.After(until) {
				until = min
			}
			if until.After(now) {
				retired = append(retired, jose.KeyringEntry{Key: k, PublishUntil: until})
			}
		}
	}
	return active, retired, nil
}

// RotateKeys creates a new signing key and retires the current one, which
// stays published for publishFor (the longest lifetime of anything it signed).
// It works on a store directly, so the CLI can use it on a stopped server.
func RotateKeys(ctx context.Context, db store.Store, alg string, publishFor time.Duration, now time.Time) (*jose.SigningKey, error) {
	return rotateKeys(ctx, db, alg, publishFor, now, func(*store.SigningKey) bool { return true })
}

// rotateKeys is RotateKeys when due says so of the active key (nil when
// there is none), judged inside the transaction that rotates: of nodes
// sharing a store that decide at once to rotate a key that is due, or to
// create the first one, one does and the others find it done. It returns
// the new key, or nil when due said no.
func rotateKeys(ctx context.Context, db store.Store, alg string, publishFor time.Duration, now time.Time, due func(active *store.SigningKey) bool) (*jose.SigningKey, error) {
	k, err := jose.GenerateSigningKey(alg, now)
	if err != nil {
		return nil, err
	}
	der, err := k.MarshalPrivate()
	if err != nil {
		return nil, err
	}
	rotated := false
	err = db.Update(ctx, func(tx store.Tx) error {
		rotated = false
		recs, err := tx.SigningKeys()
		if err != nil {
			return err
		}
		var active *store.SigningKey
		for i := range recs {
			if r := &recs[i]; r.Alg != rsaKeyAlg && r.RetiredAt.IsZero() && (active == nil || r.CreatedAt.After(active.CreatedAt)) {
				active = r
			}
		}
		if !due(active) {
			return nil
		}
		for i := range recs {
			r := &recs[i]
			if r.Alg == rsaKeyAlg {
				continue // not rotated with the active key (see ensureRSAKey)
			}
			if r.RetiredAt.IsZero() {
				r.RetiredAt = now
				r.PublishUntil = now.Add(publishFor)
				if err := tx.PutSigningKey(r); err != nil {
					return err
				}
			} else if !r.PublishUntil.After(now.Add(-maxPublishWindow)) {
				// Long past any server's window: nothing it signed is alive.
				if err := tx.DeleteSigningKey(r.ID); err != nil {
					return err
				}
			}
		}
		rotated = true
		return tx.PutSigningKey(&store.SigningKey{ID: k.ID, Alg: k.Alg, Private: der, CreatedAt: now})
	})
	if err != nil {
		return nil, fmt.Errorf("store signing key: %w", err)
	}
	if !rotated {
		return nil, nil
	}
	return k, nil
}

// noActiveKey is the due of a first start: create a key unless another
// start already did.
func noActiveKey(active *store.SigningKey) bool { return active == nil }

// maxPublishWindow bounds every server's publish window (lifetimes are
// capped by Validate), so a key retired longer ago than this can be deleted.
const maxPublishWindow = 31 * 24 * time.Hour

// publishWindow is how long a retired key must stay in the JWKS: the longest
// lifetime of a token or credential it may have signed, plus clock skew.
func publishWindow(cfg Config) time.Duration {
	return max(cfg.AccessTTL, cfg.CredentialTTL, statusListLifetime(cfg)) + time.Minute
}

// RotateKeys rotates the signing key of a running server to a new key of
// alg ("" = the configured algorithm), which signs from then on.
func (s *Server) RotateKeys(ctx context.Context, alg string) (*jose.SigningKey, error) {
	alg, err := keyAlg(alg, s.cfg.KeyAlg)
	if err != nil {
		return nil, err
	}
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if _, err := RotateKeys(ctx, s.db, alg, publishWindow(s.cfg), s.now()); err != nil {
		return nil, err
	}
	return s.reloadKeys(ctx)
}

// rotateIfDue rotates the signing key once the active one has reached the
// configured age. The age is judged again in the rotating transaction, so
// that of several nodes sharing the store only one rotates; the others
// take up its key when they hear of it (cluster.go), or here.
func (s *Server) rotateIfDue(ctx context.Context) {
	k := s.keys.Active()
	now := s.now()
	if k == nil || now.Sub(k.CreatedAt) < s.cfg.KeyRotation {
		return
	}
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	rotated, err := rotateKeys(ctx, s.db, s.cfg.KeyAlg, publishWindow(s.cfg), now, func(active *store.SigningKey) bool {
		return active == nil || now.Sub(active.CreatedAt) >= s.cfg.KeyRotation
	})
	if err == nil {
		_, err = s.reloadKeys(ctx)
	}
	switch {
	case err != nil:
		s.log.Error("automatic key rotation failed", "err", err)
	case rotated != nil:
		s.log.Info("signing key rotated", "kid", rotated.ID)
	}
}

func (s *Server) reloadKeys(ctx context.Context) (*jose.SigningKey, error) {
	active, retired, err := readKeys(ctx, s.db, publishWindow(s.cfg), s.now())
	if err != nil {
		return nil, err
	}
	s.keys.Replace(active, retired...)
	return active, nil
}

// autoRotate rotates the key whenever the active one is older than the
// configured period.
func (s *Server) autoRotate(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.rotateIfDue(ctx)
		}
	}
}

// rsaKeyAlg is the algorithm of the one RSA key, kept beside the active
// key for the ID tokens of clients registered for RS256.
const rsaKeyAlg = "RS256"

// ensureRSAKey creates the RSA signing key unless the store has one.
// The check and the creation are one transaction, so nodes sharing a store
// make one between them.
func ensureRSAKey(ctx context.Context, db store.Store, now time.Time) error {
	// Looked for first, since making an RSA key takes a while.
	has := false
	if err := db.View(ctx, func(tx store.Tx) (err error) {
		has, err = hasRSAKey(tx)
		return err
	}); err != nil || has {
		return err
	}
	k, err := jose.GenerateSigningKey(rsaKeyAlg, now)
	if err != nil {
		return err
	}
	der, err := k.MarshalPrivate()
	if err != nil {
		return err
	}
	return db.Update(ctx, func(tx store.Tx) error {
		if has, err := hasRSAKey(tx); err != nil || has {
			return err
		}
		return tx.PutSigningKey(&store.SigningKey{ID: k.ID, Alg: k.Alg, Private: der, CreatedAt: now})
	})
}

func hasRSAKey(tx store.Tx) (bool, error) {
	recs, err := tx.SigningKeys()
	for _, r := range recs {
		if r.Alg == rsaKeyAlg {
			return true, err
		}
	}
	return false, err
}
