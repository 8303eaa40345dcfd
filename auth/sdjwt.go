package auth

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/store"

	"github.com/latchid/latch/tokens/sdjwt"
)

// sdDisclosable lists the claims a holder may choose to reveal, in the order
// they are offered; iss, iat, exp, vct and cnf are always visible.
var sdDisclosable = []string{"sub", "username", "display_name", "amr", "created_at", "groups"}

type issueSDJWTRequest struct {
	Claims []string `json:"claims"`
}

func (s *Server) handleIssueSDJWT(c *fiber.Ctx) error {
	var req issueSDJWTRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p := principalOf(c)
	if p.proof == nil {
		return s.challenge(c, Errorf(http.StatusUnauthorized, CodeInvalidToken,
			"a DPoP-bound access token is required: the credential is bound to its key"))
	}
	want := sdDisclosable
	if req.Claims == nil && len(p.user.Groups) == 0 {
		// By default an account in no groups gets no empty "groups".
		want = sdDisclosable[:len(sdDisclosable)-1]
	}
	if req.Claims != nil {
		if len(req.Claims) > len(sdDisclosable) {
			return badRequest("too many claims requested")
		}
		want = nil
		for _, name := range req.Claims {
			if !slices.Contains(sdDisclosable, name) {
				return badRequest("claim %q cannot be issued; choose from %s", truncate(name, 32), strings.Join(sdDisclosable, ", "))
			}
			if !slices.Contains(want, name) {
				want = append(want, name)
			}
		}
	}
	user := p.user
	all := map[string]any{
		"sub": user.ID, "username": user.Username, "display_name": user.DisplayName,
		"amr": p.claims.AMR, "created_at": user.CreatedAt.Unix(), "groups": nonNil(user.Groups),
	}
	claims := make(map[string]any, len(want))
	for _, name := range want {
		claims[name] = all[name]
	}
	status, err := s.allocateStatus(c.UserContext())
	if err != nil {
		return err
	}
	now := s.now()
	key := s.keys.Active()
	cred, err := sdjwt.SDIssue(sdjwt.SDIssueRequest{
		Issuer: s.cfg.Issuer, VCT: s.cfg.Issuer + "/credentials/identity",
		IssuedAt: now, ExpiresAt: now.Add(s.cfg.CredentialTTL),
		HolderJWK: p.proof.JWK, Claims: claims, // Decoys 0: a random 2 to 5, so the count of claims does not show
		Status: status,
	}, key.Signer(), key.Alg, key.ID)
	s.metrics.issued.WithLabelValues("sd_jwt", outcome(err)).Inc()
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(fiber.Map{"format": "dc+sd-jwt", "credential": cred.Compact})
}

type verifySDJWTRequest struct {
	Presentation string `json:"presentation"`
	Aud          string `json:"aud"`
	Nonce        string `json:"nonce"`
}

func (s *Server) handleVerifySDJWT(c *fiber.Ctx) error {
	var req verifySDJWTRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Presentation == "" || req.Aud == "" || req.Nonce == "" {
		return badRequest("presentation, aud and nonce are required")
	}
	if len(req.Aud) > 2048 || len(req.Nonce) > 512 {
		return badRequest("aud or nonce is too long")
	}
	now := s.now()
	pres, err := sdjwt.SDVerify(sdjwt.SDVerifyRequest{
		Presentation: req.Presentation, Audience: req.Aud, Nonce: req.Nonce, Issuer: s.cfg.Issuer,
		Now: now, MaxKBAge: s.cfg.KBMaxAge, Keys: s.keyLookup(now),
		IsRevoked: func(issuerJWT string) bool { return s.revoked.has(revokedSDJWT(sdDigestOf(issuerJWT))) },
	})
	desc := "invalid presentation"
	if se, ok := err.(*sdjwt.SDError); ok {
		desc = se.Description
	}
	if err == nil {
		if desc, err = s.credentialStatus(c.UserContext(), pres.Status); err != nil {
			return err
		}
		if desc != "" {
			err = errors.New(desc)
		}
	}
	if err != nil {
		s.metrics.verifications.WithLabelValues("sd_jwt", "invalid").Inc()
		return c.Status(http.StatusBadRequest).JSON(fiber.Map{
			"valid": false, "error": "invalid_presentation", "error_description": desc,
		})
	}
	s.metrics.verifications.WithLabelValues("sd_jwt", "success").Inc()
	noStore(c)
	return c.JSON(fiber.Map{"valid": true, "claims": pres.Claims, "cnf": pres.CNF})
}

// keyLookup adapts the keyring to the SD-JWT verifier.
func (s *Server) keyLookup(now time.Time) sdjwt.SDKeyLookup {
	return func(kid string) (crypto.PublicKey, string, bool) { return s.keys.Lookup(kid, now) }
}

// sdDigestOf names a credential on the blacklist by a digest of what its
// issuer signed (header and payload). The signature is left out on purpose:
// an ECDSA signature has a second valid form (s and n-s), and a revoked
// credential must not come back under another spelling of it.
func sdDigestOf(issuerJWT string) string {
	signed := issuerJWT
	if i := strings.LastIndexByte(issuerJWT, '.'); i >= 0 {
		signed = issuerJWT[:i]
	}
	sum := sha256.Sum256([]byte(signed))
	return b64.EncodeToString(sum[:])
}

// revokeSDJWT blacklists a credential (whole, or its issuer JWT alone) until
// it expires, provided it verifiably was issued here and rv may: an
// introspection client, a proof of the credential's holder key, or the
// holder's own DPoP-bound access token for the subject the credential
// discloses (a holder whose key has changed since).
func (s *Server) revokeSDJWT(ctx context.Context, token string, rv *revoker) error {
	now := s.now()
	cred, err := sdjwt.SDInspectIssued(token, s.cfg.Issuer, s.keyLookup(now), now)
	if err != nil || !cred.ExpiresAt.After(now) {
		return nil
	}
	if !rv.client {
		if err := rv.prove(); err != nil {
			return err
		}
		ownSubject := rv.holder != nil && cred.Subject != "" && rv.holder.claims.Subject == cred.Subject
		if rv.proof.JKT != cred.HolderJKT && !ownSubject {
			return Errorf(http.StatusBadRequest, CodeInvalidDPoPProof,
				"only the credential's holder may revoke it: the DPoP proof is not made with its holder key")
		}
		if err := rv.spend(); err != nil {
			return err
		}
	}
	key := revokedSDJWT(sdDigestOf(cred.IssuerJWT))
	listID, onList := "", false
	if cred.Status != nil {
		listID, onList = s.statusListID(cred.Status.URI)
	}
	err = s.db.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutRevoked(key, cred.ExpiresAt); err != nil {
			return err
		}
		if !onList {
			return nil
		}
		// An entry this store never gave out changes nothing; the
		// blacklist entry still holds.
		if err := tx.SetStatus(listID, cred.Status.Index, sdjwt.StatusInvalid); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.revoked.add(key, cred.ExpiresAt)
	if onList {
		s.statusListChanged(listID)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}
