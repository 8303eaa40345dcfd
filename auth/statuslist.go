package auth

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/store"

	"github.com/latchid/latch/tokens/sdjwt"
)

// Token Status Lists (draft-ietf-oauth-status-list) for the SD-JWT
// credentials: each credential names an entry of a list served at
// /credentials/status/{id}; revoking the credential sets that entry. The
// blacklist stays the answer for /credentials/verify and /revoke; the list
// is what verifiers elsewhere check offline.

// defaultStatusListSize is 2^17 entries: 16 KiB uncompressed, a few dozen
// bytes compressed while few are revoked, and a crowd of 131,072
// credentials that one fetch of the list hides a verifier's interest in.
const defaultStatusListSize = 1 << 17

// statusPathPrefix is the path of the lists, below the issuer.
const statusPathPrefix = "/credentials/status/"

// statusListIDLen is the length of the store's list ids (16 random bytes,
// base64url): anything else is refused before the store is asked.
const statusListIDLen = 22

// statusListCacheMax bounds the signed lists kept in memory; a list past
// it is signed again when next asked for.
const statusListCacheMax = 64

// statusListLifetime is the exp of a served list, counted from its iat: a
// list is signed again once it is ttl/2 old and a consumer caches it for at
// most ttl, so twice the ttl keeps every copy in use unexpired.
func statusListLifetime(cfg Config) time.Duration { return 2 * cfg.StatusListTTL }

// statusLists keeps the signed form of each list that was asked for. mu is
// held while a list is read and signed, and by a revocation dropping the
// list after its commit, so a list signed from a read older than that
// commit is never kept.
type statusLists struct {
	mu    sync.Mutex
	cache map[string]*servedList
}

// servedList is a list as last signed.
type servedList struct {
	token string
	iat   time.Time
	kid   string
	list  *sdjwt.StatusList
}

func (s *Server) statusURI(listID string) string { return s.cfg.Issuer + statusPathPrefix + listID }

// statusListID returns the id of a list of this server named by uri.
func (s *Server) statusListID(uri string) (string, bool) {
	id, ok := strings.CutPrefix(uri, s.cfg.Issuer+statusPathPrefix)
	return id, ok && validStatusListID(id)
}

func validStatusListID(id string) bool {
	if len(id) != statusListIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// allocateStatus gives a new credential its entry.
func (s *Server) allocateStatus(ctx context.Context) (*sdjwt.StatusRef, error) {
	var id string
	var idx int
	err := s.db.Update(ctx, func(tx store.Tx) error {
		var err error
		id, idx, err = tx.AllocateStatus(s.now(), s.cfg.StatusListSize)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &sdjwt.StatusRef{Index: idx, URI: s.statusURI(id)}, nil
}

// servedStatusList returns list id signed no longer than ttl/2 ago by the
// active key, signing it anew from the store when needed; store.ErrNotFound
// for a list that does not exist.
func (s *Server) servedStatusList(ctx context.Context, id string) (*servedList, error) {
	now := s.now()
	key := s.keys.Active()
	if key == nil {
		return nil, errUnavailable()
	}
	sl := &s.statusLists
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if e := sl.cache[id]; e != nil && e.kid == key.ID && now.Sub(e.iat) < s.cfg.StatusListTTL/2 && !now.Before(e.iat) {
		return e, nil
	}
	var rec *store.StatusList
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		rec, err = tx.StatusList(id)
		return err
	})
	if err != nil {
		return nil, err
	}
	list, err := sdjwt.NewStatusList(rec.Bits, rec.Size)
	if err != nil {
		return nil, err
	}
	for idx, status := range rec.Statuses {
		if err := list.Set(idx, status); err != nil {
			return nil, err
		}
	}
	token, err := sdjwt.SignStatusList(sdjwt.StatusListClaims{
		Subject: s.statusURI(id), Issuer: s.cfg.Issuer,
		IssuedAt: now, ExpiresAt: now.Add(statusListLifetime(s.cfg)), TTL: s.cfg.StatusListTTL, List: list,
	}, key)
	if err != nil {
		return nil, err
	}
	e := &servedList{token: token, iat: now, kid: key.ID, list: list}
	if sl.cache == nil {
		sl.cache = map[string]*servedList{}
	}
	if _, present := sl.cache[id]; !present && len(sl.cache) >= statusListCacheMax {
		for other := range sl.cache {
			delete(sl.cache, other)
			break
		}
	}
	sl.cache[id] = e
	return e, nil
}

// statusListChanged drops the signed copy of a list whose statuses changed;
// called after the change is committed.
func (s *Server) statusListChanged(id string) {
	s.statusLists.mu.Lock()
	delete(s.statusLists.cache, id)
	s.statusLists.mu.Unlock()
}

// credentialStatus checks a verified credential's entry on its list, as a
// verifier elsewhere would read it from the served list. A credential
// without a status claim (issued before status lists) has only the
// blacklist.
func (s *Server) credentialStatus(ctx context.Context, ref *sdjwt.StatusRef) (string, error) {
	if ref == nil {
		return "", nil
	}
	id, ok := s.statusListID(ref.URI)
	if !ok {
		return "the credential's status list is not one of this issuer's", nil
	}
	e, err := s.servedStatusList(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "the credential's status list does not exist", nil
	}
	if err != nil {
		return "", err
	}
	switch status, ok := e.list.Get(ref.Index); {
	case !ok:
		return "the credential's status index is outside its list", nil
	case status != sdjwt.StatusValid:
		return "credential revoked (status list)", nil
	}
	return "", nil
}

// handleStatusList serves a Status List Token: public, cacheable for its
// ttl, readable from any origin (the draft asks for CORS so that wallets and
// verifiers in browsers can fetch it).
func (s *Server) handleStatusList(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	if !validStatusListID(id) {
		return Errorf(http.StatusNotFound, CodeNotFound, "no such status list")
	}
	e, err := s.servedStatusList(c.UserContext(), id)
	if errors.Is(err, store.ErrNotFound) {
		return Errorf(http.StatusNotFound, CodeNotFound, "no such status list")
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/"+sdjwt.StatusListTyp)
	c.Set(fiber.HeaderCacheControl, "public, max-age="+strconv.Itoa(int(s.cfg.StatusListTTL/time.Second)))
	c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
	return c.Status(http.StatusOK).SendString(e.token)
}
