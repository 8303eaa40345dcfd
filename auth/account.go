package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/webauthn/aaguids"
)

// userCache keeps recently used profiles in memory so that protected
// requests such as /userinfo do not reach the store. Every write path of
// this process that changes what a profile shows (TOTP on or off, an
// account disabled or enabled through the admin socket) forgets its entry
// once committed, and so does every such write of another node sharing
// the store, when the node hears of it (cluster.go). Until then an entry
// can be one commit behind, so a transaction that must act on the account
// as it now is (starting a session) reads the account itself.
type userCache struct {
	mu sync.RWMutex
	m  map[string]*profile
	// gen counts forgets, so a read that raced a forget is not cached.
	gen uint64
}

// maxCachedUsers bounds the user cache; when full it starts over and
// refills with the users who are active.
const maxCachedUsers = 100_000

// profile is a user record plus the account facts /userinfo shows.
type profile struct {
	*store.User
	totpEnabled bool
}

func (uc *userCache) cached(id string) (p *profile, gen uint64) {
	uc.mu.RLock()
	defer uc.mu.RUnlock()
	return uc.m[id], uc.gen
}

func (uc *userCache) get(ctx context.Context, db store.Store, id string) (*profile, error) {
	p, gen := uc.cached(id)
	if p != nil {
		return p, nil
	}
	p = &profile{}
	err := db.View(ctx, func(tx store.Tx) error {
		var err error
		if p.User, err = tx.User(id); err != nil {
			return err
		}
		t, err := tx.TOTPStatus(id)
		p.totpEnabled = err == nil && t.Confirmed
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	uc.mu.Lock()
	defer uc.mu.Unlock()
	if uc.gen == gen { // no forget since the read began
		if uc.m == nil || len(uc.m) >= maxCachedUsers {
			uc.m = make(map[string]*profile)
		}
		uc.m[id] = p
	}
	return p, nil
}

// peek returns the user from the cache, or reads it in the caller's
// transaction without caching it (a write transaction must not start a
// read of its own).
func (uc *userCache) peek(tx store.Tx, id string) (*store.User, error) {
	if p, _ := uc.cached(id); p != nil {
		return p.User, nil
	}
	return tx.User(id)
}

func (uc *userCache) forget(id string) {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	uc.gen++
	delete(uc.m, id)
}

// forgetAll empties the cache (a resync with a shared store).
func (uc *userCache) forgetAll() {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	uc.gen++
	uc.m = nil
}

type userinfoResponse struct {
	Sub         string   `json:"sub"`
	Username    string   `json:"username"`
	DisplayName string   `json:"display_name"`
	AMR         []string `json:"amr"`
	AuthTime    int64    `json:"auth_time"`
	TOTPEnabled bool     `json:"totp_enabled"`
	// Groups is present (possibly empty) when the token grants groups.
	Groups []string `json:"groups,omitzero"`
}

func (s *Server) handleUserinfo(c *fiber.Ctx) error {
	p := principalOf(c)
	u := p.user
	noStore(c)
	if p.claims.ClientID != defaultClientID {
		out := oidcUserinfo{Sub: u.ID}
		if scopeHas(p.claims.Scope, scopeProfile) {
			out.PreferredUsername, out.Name = u.Username, u.DisplayName
		}
		if grantsGroups(p.claims.ClientID, p.claims.Scope) {
			out.Groups = nonNil(u.Groups)
		}
		return c.JSON(out)
	}
	res := userinfoResponse{
		Sub: u.ID, Username: u.Username, DisplayName: u.DisplayName,
		AMR: p.claims.AMR, AuthTime: p.claims.AuthTime.Unix(), TOTPEnabled: u.totpEnabled,
	}
	res.Groups = nonNil(u.Groups) // the service's own client is granted them
	return c.JSON(res)
}

type credentialItem struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	CreatedAt      time.Time `json:"created_at"`
	LastUsedAt     time.Time `json:"last_used_at"`
	BackupEligible bool      `json:"backup_eligible"`
	BackupState    bool      `json:"backup_state"`
	Transports     []string  `json:"transports"`
	AAGUID         string    `json:"aaguid"`
	// Provider names the passkey's provider when its AAGUID is known.
	Provider *providerView `json:"provider,omitempty"`
}

// providerView is a passkey provider with the paths of its icons (empty
// when the list has none).
type providerView struct {
	Name      string `json:"name"`
	IconLight string `json:"icon_light,omitempty"`
	IconDark  string `json:"icon_dark,omitempty"`
}

func credentialView(c *store.Credential) credentialItem {
	transports := c.Transports
	if transports == nil {
		transports = []string{}
	}
	item := credentialItem{
		ID: b64.EncodeToString(c.ID), Name: c.Name, CreatedAt: c.CreatedAt.UTC(), LastUsedAt: c.LastUsedAt.UTC(),
		BackupEligible: c.BackupEligible, BackupState: c.BackupState, Transports: transports, AAGUID: aaguids.Format(c.AAGUID),
	}
	if p, ok := aaguids.Lookup(c.AAGUID); ok {
		item.Provider = &providerView{Name: p.Name}
		if p.IconLight != nil {
			item.Provider.IconLight = providerIconPath(item.AAGUID, "light")
		}
		if p.IconDark != nil {
			item.Provider.IconDark = providerIconPath(item.AAGUID, "dark")
		}
	}
	return item
}

func providerIconPath(aaguid, variant string) string {
	return "/passkey-providers/" + aaguid + "/icon-" + variant + ".svg"
}

// handleProviderIcon serves a provider's icon from the embedded list. The
// SVG is third-party content: a sandboxing policy keeps it from running
// script or loading anything should someone open it directly, rather than
// as an image, on this origin.
func (s *Server) handleProviderIcon(c *fiber.Ctx) error {
	p, ok := aaguids.LookupString(c.Params("aaguid"))
	var icon []byte
	switch c.Params("file") {
	case "icon-light.svg":
		icon = p.IconLight
	case "icon-dark.svg":
		icon = p.IconDark
	}
	if !ok || icon == nil {
		return errNotFound("icon")
	}
	c.Set(fiber.HeaderContentType, "image/svg+xml")
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	return c.Send(icon)
}

func (s *Server) handleListCredentials(c *fiber.Ctx) error {
	sub := principalOf(c).claims.Subject
	var creds []store.Credential
	if err := s.db.View(c.UserContext(), func(tx store.Tx) error {
		var err error
		creds, err = tx.CredentialsByUser(sub)
		return err
	}); err != nil {
		return err
	}
	out := make([]credentialItem, len(creds))
	for i := range creds {
		out[i] = credentialView(&creds[i])
	}
	noStore(c)
	return c.JSON(out)
}

// credentialParam decodes the {id} path parameter; anything that is not a
// credential id of this user is simply not found.
func credentialParam(c *fiber.Ctx) ([]byte, error) {
	raw := c.Params("id")
	if len(raw) == 0 || len(raw) > 1400 {
		return nil, errNotFound("credential")
	}
	id, err := b64.DecodeString(raw)
	if err != nil {
		return nil, errNotFound("credential")
	}
	return id, nil
}

type renameRequest struct {
	Name *string `json:"name"`
}

func (s *Server) handleRenameCredential(c *fiber.Ctx) error {
	id, err := credentialParam(c)
	if err != nil {
		return err
	}
	var req renameRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Name == nil {
		return badRequest("name is required")
	}
	name, err := cleanCredentialName(*req.Name)
	if err != nil {
		return err
	}
	// A blank name goes back to the default: the provider's name.
	sub := principalOf(c).claims.Subject
	var updated *store.Credential
	err = s.db.Update(c.UserContext(), func(tx store.Tx) error {
		cred, err := tx.Credential(id)
		if err != nil || cred.UserID != sub {
			return errNotFound("credential")
		}
		cred.Name = defaultCredentialName(name, cred.AAGUID)
		updated = cred
		return tx.PutCredential(cred)
	})
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(credentialView(updated))
}

func (s *Server) handleDeleteCredential(c *fiber.Ctx) error {
	id, err := credentialParam(c)
	if err != nil {
		return err
	}
	sub := principalOf(c).claims.Subject
	now := s.now()
	err = s.db.Update(c.UserContext(), func(tx store.Tx) error {
		cred, err := tx.Credential(id)
		if err != nil || cred.UserID != sub {
			return errNotFound("credential")
		}
		all, err := tx.CredentialsByUser(sub)
		if err != nil {
			return err
		}
		if len(all) <= 1 {
			return Errorf(http.StatusConflict, CodeLastCredential, "the account's only passkey cannot be deleted")
		}
		if err := tx.DeleteCredential(id); err != nil {
			return err
		}
		return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "passkey_deleted", UserID: sub})
	})
	if err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (s *Server) handleLogout(c *fiber.Ctx) error {
	if err := optionalEmptyBody(c); err != nil {
		return err
	}
	if err := s.revokeSession(c.UserContext(), principalOf(c).claims.SessionID); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

// recentSignIn is how recent the sign-in behind a request must be for a
// change to how the account is signed in to (adding or deleting a passkey,
// enrolling or removing TOTP) or for deleting it: a token that lived on a
// stolen device, or a session left open, must not be enough to add the
// thief's own passkey or authenticator app, or to erase the account.
const recentSignIn = 5 * time.Minute

// amrOTP is the RFC 8176 method a TOTP or recovery code adds to a sign-in.
const amrOTP = "otp"

// amrValuesParam is the Latch-specific member of the step-up challenge and
// error body that names the sign-in methods the retry must include. RFC
// 9470 defines only acr_values and max_age; Latch tokens carry amr (RFC
// 8176), not acr, so the requirement is stated in amr's own terms, in the
// same space-separated form as acr_values.
const amrValuesParam = "amr_values"

// requireStepUp is the one step-up rule of every credential change and of
// account deletion (RFC 9470): the sign-in behind the token (auth_time)
// must be at most recentSignIn old, and once the account has TOTP on, the
// sign-in must have included it (amr has "otp"); else the answer is 401
// insufficient_user_authentication with max_age (and amr_values) in the
// WWW-Authenticate challenge and the body. It runs after requireAuth or
// optionalAuth; an anonymous request (a sign-up) has no sign-in to check
// and passes. action names the change in the error description.
func (s *Server) requireStepUp(action string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p := principalOf(c)
		if p == nil {
			return c.Next()
		}
		if err := s.checkStepUp(p, action); err != nil {
			return s.challenge(c, err)
		}
		return c.Next()
	}
}

// checkStepUp applies requireStepUp's rule to one caller.
func (s *Server) checkStepUp(p *principal, action string) *Error {
	needOTP := p.user.totpEnabled && !slices.Contains(p.claims.AMR, amrOTP)
	if s.now().Sub(p.claims.AuthTime) <= recentSignIn && !needOTP {
		return nil
	}
	e := Errorf(http.StatusUnauthorized, CodeInsufficientAuth,
		"%s needs a sign-in within the last %d minutes: sign in again, then retry", action, int(recentSignIn.Minutes()))
	e.Extra = map[string]any{"max_age": int(recentSignIn.Seconds())}
	if needOTP {
		e.Description = fmt.Sprintf("%s needs a sign-in within the last %d minutes that included two-step verification: "+
			"sign in again with your passkey and authenticator app code, then retry", action, int(recentSignIn.Minutes()))
		e.Extra[amrValuesParam] = amrOTP
	}
	return e
}

// handleDeleteAccount deletes the caller's account and everything kept
// under it, ending every session. requireStepUp has checked the sign-in.
func (s *Server) handleDeleteAccount(c *fiber.Ctx) error {
	if err := optionalEmptyBody(c); err != nil {
		return err
	}
	if err := s.DeleteUser(c.UserContext(), principalOf(c).claims.Subject); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

// optionalEmptyBody admits no body, or an empty JSON object, for an action
// that takes no input.
func optionalEmptyBody(c *fiber.Ctx) error {
	if len(c.Request().Body()) == 0 {
		return nil
	}
	var empty struct{}
	return decodeJSON(c, &empty)
}
