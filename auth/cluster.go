package auth

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/latchid/latch/store"
)

// Several nodes can serve one issuer from one shared store (store.Shared,
// PostgreSQL). Whatever a node keeps in memory to answer without the store
// is then kept in step with the other nodes' writes:
//
//   - the blacklist mirror (revocation.go) takes every entry any node puts,
//     so a revoked token, an ended session, a disabled or deleted account
//     is refused everywhere within a second of its commit;
//   - the user cache forgets an account any node changed;
//   - the keyring reloads when any node rotates the signing key (the
//     rotation itself is judged inside its transaction, so one node
//     rotates: keys.go);
//   - the CORS origins reload when a client changes;
//   - DPoP proofs are spent in the store's shared replay record as well as
//     in this node's cache, so a proof used on one node is refused on all.
//
// After a lost connection the store reports a resync, and everything
// mirrored is reloaded whole. Everything else (refresh rotation, TOTP
// steps, ceremonies, sign counters, back-off counters, consents) lives in
// the store and is exact through its transactions. Rate limits stay per
// node.

// cluster is the node's view of a shared store; nil fields on one node.
type cluster struct {
	shared store.Shared
	// synced is false from start, and after the store could not be
	// reached, until a resync has reloaded what the node mirrors:
	// readiness answers 503 meanwhile.
	synced atomic.Bool
}

// sharedTimeout bounds a single call of a node to the shared store made
// outside a request's own context (spending a DPoP proof).
const sharedTimeout = 5 * time.Second

// spendProof is the DPoP replay record shared by the nodes
// (DPoPConfig.Spend).
func (s *Server) spendProof(key string, until time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	fresh, err := s.cluster.shared.SpendOnce(ctx, "dpop:"+key, until)
	if err != nil {
		s.log.Error("shared replay record", "err", err)
		e := errUnavailable()
		e.Description = "the service's database cannot be reached right now; try again shortly"
		return false, e
	}
	return fresh, nil
}

// followShared applies the shared store's changes until ctx ends, watching
// again (with a pause) whenever a watch ends early.
func (s *Server) followShared(ctx context.Context) {
	for ctx.Err() == nil {
		err := s.cluster.shared.Watch(ctx, func(ch store.Change) { s.applyChange(ctx, ch) })
		if ctx.Err() != nil {
			return
		}
		s.cluster.synced.Store(false)
		s.log.Error("watching the shared store", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// applyChange brings what this node mirrors in step with one change.
func (s *Server) applyChange(ctx context.Context, ch store.Change) {
	switch ch.Kind {
	case store.ChangeResync:
		if err := s.resync(ctx); err != nil {
			s.cluster.synced.Store(false)
			s.log.Error("resync with the shared store", "err", err)
			return
		}
		s.cluster.synced.Store(true)
	case store.ChangeRevoked:
		s.revoked.add(ch.Key, ch.Until)
	case store.ChangeUser:
		s.users.forget(ch.Key)
	case store.ChangeSigningKeys:
		if _, err := s.reloadKeys(ctx); err != nil {
			s.log.Error("reload signing keys", "err", err)
		}
	case store.ChangeClient:
		if err := s.loadClientOrigins(ctx); err != nil {
			s.log.Error("reload client origins", "err", err)
		}
	}
}

// resync reloads everything the node mirrors.
func (s *Server) resync(ctx context.Context) error {
	r, err := loadRevocations(ctx, s.db, s.now())
	if err != nil {
		return err
	}
	s.revoked.replace(r)
	s.users.forgetAll()
	if _, err := s.reloadKeys(ctx); err != nil {
		return err
	}
	return s.loadClientOrigins(ctx)
}

// clusterReady reports whether a node of a shared store may take
// requests: the database answers and the node's mirror is in step.
func (s *Server) clusterReady(ctx context.Context) *Error {
	if s.cluster.shared == nil {
		return nil
	}
	if err := s.cluster.shared.Ping(ctx); err != nil {
		s.cluster.synced.Store(false)
		e := errUnavailable()
		e.Description = "the service's database cannot be reached; not ready until it answers"
		return e
	}
	if !s.cluster.synced.Load() {
		e := errUnavailable()
		e.Description = "catching up with the other nodes' changes; ready once done"
		return e
	}
	return nil
}
