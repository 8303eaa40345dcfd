package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/tokens"
	"github.com/latchid/latch/webauthn"
	"github.com/latchid/latch/webauthn/aaguids"

	"github.com/latchid/latch/tokens/dpop"
)

// Ceremony kinds kept in the store.
const (
	ceremonySignUp     = "signup"
	ceremonyAddPasskey = "add_passkey"
	ceremonyLogin      = "login"
	ceremonyMFA        = "mfa"
)

// amrPasskey is the RFC 8176 method of a passkey sign-in: proof of
// possession of a key (user verification is required by default).
const amrPasskey = "pop"

var b64 = base64.RawURLEncoding

type beginResponse struct {
	Ceremony  string          `json:"ceremony"`
	PublicKey json.RawMessage `json:"publicKey"`
}

type registerBeginRequest struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	// Mediation "conditional" starts, for a signed-in person, the
	// registration of a passkey the browser creates without a prompt
	// (conditional create); "" is an ordinary registration.
	Mediation string `json:"mediation"`
}

func (s *Server) handleRegisterBegin(c *fiber.Ctx) error {
	var req registerBeginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var (
		res *beginResponse
		err error
	)
	p := principalOf(c)
	switch {
	case req.Mediation != "" && req.Mediation != "conditional":
		return badRequest(`mediation must be "conditional" or absent`)
	case req.Mediation != "" && p == nil:
		return badRequest("mediation is for adding a passkey to a signed-in account")
	}
	if p != nil {
		res, err = s.beginAddPasskey(c.UserContext(), p.user.User, req.Mediation == "conditional")
	} else {
		res, err = s.beginSignUp(c.UserContext(), req)
	}
	s.metrics.ceremonies.WithLabelValues("register_begin", outcome(err)).Inc()
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(res)
}

func (s *Server) beginSignUp(ctx context.Context, req registerBeginRequest) (*beginResponse, error) {
	if err := checkLen("username", req.Username, 1024); err != nil {
		return nil, err
	}
	if err := checkLen("display_name", req.DisplayName, 1024); err != nil {
		return nil, err
	}
	if req.Username == "" {
		return nil, badRequest("username is required")
	}
	username, err := NormalizeUsername(req.Username)
	if err != nil {
		return nil, err
	}
	display, err := cleanDisplayName(req.DisplayName, username)
	if err != nil {
		return nil, err
	}
	err = s.db.View(ctx, func(tx store.Tx) error {
		_, err := tx.UserByUsername(username)
		return err
	})
	switch {
	case err == nil:
		return nil, errUsernameTaken()
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	// The WebAuthn user handle is the account id: 128 random bits, as
	// opaque as a separate random handle (never the username or anything
	// personal), and a discoverable sign-in finds the account without an
	// index.
	userID := randomID(16)
	handle := []byte(userID)
	opts, session, err := s.rp.BeginRegistration(webauthn.User{Handle: handle, Name: username, DisplayName: display}, nil)
	if err != nil {
		return nil, err
	}
	return s.saveCeremony(&store.Ceremony{
		Kind: ceremonySignUp, UserID: userID, Username: username, DisplayName: display, Handle: handle, Session: session,
	}, opts)
}

// beginAddPasskey starts adding a passkey to user, the enabled account the
// request was authenticated as; conditional for one the browser creates
// without a prompt.
func (s *Server) beginAddPasskey(ctx context.Context, user *store.User, conditional bool) (*beginResponse, error) {
	var creds []store.Credential
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		creds, err = tx.CredentialsByUser(user.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	begin := s.rp.BeginRegistration
	if conditional {
		begin = s.rp.BeginConditionalRegistration
	}
	opts, session, err := begin(waUser(user), waCredentials(creds))
	if err != nil {
		return nil, err
	}
	return s.saveCeremony(&store.Ceremony{Kind: ceremonyAddPasskey, UserID: user.ID, Session: session}, opts)
}

func (s *Server) saveCeremony(cer *store.Ceremony, opts json.RawMessage) (*beginResponse, error) {
	now := s.now()
	cer.ID = tokens.NewOrderedID(now)
	cer.ExpiresAt = now.Add(s.cfg.CeremonyTTL)
	if err := s.db.PutPending(cer, now); err != nil {
		return nil, err
	}
	return &beginResponse{Ceremony: cer.ID, PublicKey: opts}, nil
}

// takeCeremony consumes the ceremony of a finish request, whatever the
// outcome: a ceremony id works once.
func (s *Server) takeCeremony(ctx context.Context, id, kind string, now time.Time) (*store.Ceremony, error) {
	cer, err := s.db.TakePending(ctx, id, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errCeremony()
	case err != nil:
		return nil, err
	case cer.Kind != kind:
		return nil, errCeremony()
	}
	return cer, nil
}

type registerFinishRequest struct {
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
	Name       string          `json:"name"`
}

type registerFinishResponse struct {
	*tokenResponse
	CredentialID string `json:"credential_id"`
}

func (s *Server) handleRegisterFinish(c *fiber.Ctx) error {
	var req registerFinishRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := checkCeremonyRequest(req.Ceremony, req.Credential); err != nil {
		return err
	}
	name, err := cleanCredentialName(req.Name)
	if err != nil {
		return err
	}
	p := principalOf(c)
	var proof *dpop.Proof
	if p == nil {
		if proof, err = s.tokenEndpointProof(c); err != nil {
			return err
		}
	}
	res, err := s.finishRegistration(c.UserContext(), p, req.Ceremony, req.Credential, name, proof, s.signInClientOf(c))
	s.metrics.ceremonies.WithLabelValues("register", outcome(err)).Inc()
	if err != nil {
		return err
	}
	noStore(c)
	if p != nil {
		return c.JSON(fiber.Map{"credential_id": res.CredentialID})
	}
	s.metrics.issued.WithLabelValues("webauthn_register", "success").Inc()
	return c.JSON(res)
}

func (s *Server) finishRegistration(ctx context.Context, p *principal, ceremonyID string, response []byte, name string, proof *dpop.Proof, from signInClient) (*registerFinishResponse, error) {
	now := s.now()
	kind := ceremonySignUp
	if p != nil {
		kind = ceremonyAddPasskey
	}
	cer, err := s.takeCeremony(ctx, ceremonyID, kind, now)
	if err != nil {
		return nil, err
	}
	if p != nil && cer.UserID != p.claims.Subject {
		return nil, errCeremony()
	}
	user := &store.User{ID: cer.UserID, Handle: cer.Handle, Username: cer.Username, DisplayName: cer.DisplayName, CreatedAt: now}
	if p != nil {
		user = p.user.User // read when the request was authenticated; never changed here
	}
	wc, err := s.rp.FinishRegistration(waUser(user), cer.Session, response)
	if err != nil {
		return nil, credentialError(err)
	}
	cred := &store.Credential{
		ID: wc.ID, UserID: user.ID, Name: defaultCredentialName(name, wc.AAGUID), CreatedAt: now, LastUsedAt: now,
		Transports: wc.Transports, AAGUID: wc.AAGUID, BackupEligible: wc.BackupEligible, BackupState: wc.BackupState,
		SignCount: wc.SignCount, Record: wc.Record,
	}
	var issued *issuedSession
	err = s.db.Update(ctx, func(tx store.Tx) error {
		issued = nil
		if p == nil {
			if err := tx.PutUser(user); err != nil {
				return err
			}
		}
		if err := tx.PutCredential(cred); errors.Is(err, store.ErrNotFound) {
			return errNotFound("account") // deleted since the request was authenticated
		} else if err != nil {
			return err
		}
		if p != nil {
			return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "passkey_added", UserID: user.ID})
		}
		var err error
		issued, err = s.startSession(tx, user, []string{amrPasskey}, now, proof, from)
		if err != nil {
			return err
		}
		return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "signup", UserID: user.ID})
	})
	switch {
	case errors.Is(err, store.ErrUsernameTaken):
		return nil, errUsernameTaken()
	case errors.Is(err, store.ErrCredentialExists):
		return nil, Errorf(http.StatusBadRequest, CodeInvalidCredential, "this passkey is already registered")
	case err != nil:
		return nil, err
	}
	res := &registerFinishResponse{CredentialID: b64.EncodeToString(cred.ID)}
	if issued != nil {
		if res.tokenResponse, err = s.tokenResponse(issued); err != nil {
			return nil, err
		}
	}
	return res, nil
}

type loginBeginRequest struct {
	Username string `json:"username"`
}

func (s *Server) handleLoginBegin(c *fiber.Ctx) error {
	var req loginBeginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	res, err := s.beginLogin(c.UserContext(), req.Username)
	s.metrics.ceremonies.WithLabelValues("login_begin", outcome(err)).Inc()
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(res)
}

func (s *Server) beginLogin(ctx context.Context, rawUsername string) (*beginResponse, error) {
	cer := &store.Ceremony{Kind: ceremonyLogin}
	if rawUsername != "" {
		if err := checkLen("username", rawUsername, 1024); err != nil {
			return nil, err
		}
		username, err := NormalizeUsername(rawUsername)
		if err != nil {
			return nil, err
		}
		// The options never list credentials, for known and unknown names
		// alike: every passkey here is discoverable, and an allow list
		// would tell who has an account and how many passkeys. The name is
		// remembered and enforced when the ceremony finishes.
		err = s.db.View(ctx, func(tx store.Tx) error {
			u, err := tx.UserByUsername(username)
			switch {
			case err == nil:
				cer.UserID = u.ID
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		cer.Username = username
	}
	opts, session, err := s.rp.BeginLogin(nil)
	if err != nil {
		return nil, err
	}
	cer.Session = session
	return s.saveCeremony(cer, opts)
}

type loginFinishRequest struct {
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
}

func (s *Server) handleLoginFinish(c *fiber.Ctx) error {
	var req loginFinishRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := checkCeremonyRequest(req.Ceremony, req.Credential); err != nil {
		return err
	}
	proof, err := s.tokenEndpointProof(c)
	if err != nil {
		return err
	}
	res, err := s.finishLogin(c.UserContext(), req.Ceremony, req.Credential, proof, s.signInClientOf(c))
	s.metrics.ceremonies.WithLabelValues("login", outcome(err)).Inc()
	if err != nil {
		return err
	}
	noStore(c)
	s.metrics.issued.WithLabelValues("webauthn_login", "success").Inc()
	return c.JSON(res)
}

func (s *Server) finishLogin(ctx context.Context, ceremonyID string, response []byte, proof *dpop.Proof, from signInClient) (*tokenResponse, error) {
	now := s.now()
	cer, err := s.takeCeremony(ctx, ceremonyID, ceremonyLogin, now)
	if err != nil {
		return nil, err
	}
	assertion, err := s.rp.ParseAssertion(response)
	if err != nil {
		s.failures.countUnknown(now)
		return nil, credentialError(err)
	}
	var (
		user  *store.User
		creds []store.Credential
	)
	err = s.db.View(ctx, func(tx store.Tx) error {
		var err error
		switch {
		case len(assertion.UserHandle) > 0:
			user, creds, err = tx.AccountByHandle(assertion.UserHandle)
		default:
			var cred *store.Credential
			if cred, err = tx.Credential(assertion.CredentialID); err == nil {
				user, err = tx.User(cred.UserID)
			}
			if err == nil {
				creds, err = tx.CredentialsByUser(user.ID)
			}
		}
		switch {
		case errors.Is(err, store.ErrNotFound):
			return unknownCredential()
		case err != nil:
			return err
		}
		if cer.Username != "" && cer.UserID != user.ID {
			return foreignCredential()
		}
		// A user handle of a live account with a passkey it no longer
		// holds (deleted on the account page): as unknown as any other,
		// and not charged to the account, since the handle is all it
		// shares with it.
		if !slices.ContainsFunc(creds, func(c store.Credential) bool { return bytes.Equal(c.ID, assertion.CredentialID) }) {
			return unknownCredential()
		}
		return nil
	})
	if e, ok := asError(err); ok && e.Code == CodeInvalidCredential {
		s.failures.countUnknown(now)
	}
	if err != nil {
		// A passkey of another account (or of none) for the name: anyone
		// can answer so with their own passkey, so it is not charged to the
		// account, which would make the name's lockout an existence test.
		return nil, err
	}
	wc, err := s.rp.FinishLogin(waUser(user), waCredentials(creds), cer.Session, assertion)
	if err != nil {
		return nil, s.signInFailed(ctx, user.ID, "passkey not verified", credentialError(err))
	}
	if user.Disabled {
		s.auditSignInFailure(ctx, user.ID, "account disabled")
		return nil, errDisabled()
	}
	var (
		issued   *issuedSession
		mfaToken string
		failure  error
	)
	err = s.db.Update(ctx, func(tx store.Tx) error {
		issued, mfaToken, failure = nil, "", nil
		// Re-read: a concurrent sign-in may have moved the counter and a
		// rename may have changed the name since the read above.
		cred, err := tx.Credential(wc.ID)
		if errors.Is(err, store.ErrNotFound) {
			failure = unknownCredential() // deleted meanwhile
			return nil
		}
		if err != nil {
			return err
		}
		if err := webauthn.CheckCounter(cred.SignCount, wc.SignCount); err != nil {
			failure = credentialError(err)
			return tx.AppendAudit(signInFailedEvent(now, user.ID, "passkey", "signature counter went back (a cloned passkey?)"))
		}
		cred.SignCount, cred.BackupState, cred.Record, cred.LastUsedAt = wc.SignCount, wc.BackupState, wc.Record, now
		if err := tx.PutCredential(cred); err != nil {
			return err
		}
		// The account, its second factor and its back-off, in one read.
		st, err := tx.SignInState(user.ID)
		if err != nil {
			return err
		}
		if err := clearSignInFailures(tx, &st.Failures); err != nil {
			return err
		}
		if t := st.TOTP; t != nil && t.Confirmed {
			var hash string
			mfaToken, hash = tokens.NewOpaque()
			return tx.PutCeremony(&store.Ceremony{
				ID: hash, Kind: ceremonyMFA, UserID: user.ID, AMR: []string{amrPasskey}, AuthTime: now,
				ExpiresAt: now.Add(s.cfg.MFATokenTTL), Session: mfaState(t.Lockouts),
			})
		}
		if st.User.Disabled {
			return errDisabled()
		}
		if issued, err = s.startSession(tx, &st.User, []string{amrPasskey}, now, proof, from); err != nil {
			return err
		}
		return tx.AppendAudit(signInEvent(now, issued))
	})
	switch {
	case err != nil:
		return nil, err
	case failure != nil:
		return nil, s.signInFailed(ctx, user.ID, "", failure) // audited in the transaction
	}
	if mfaToken != "" {
		return nil, &Error{
			Status: http.StatusUnauthorized, Code: CodeMFARequired,
			Description: "a second factor is required: send a TOTP code or recovery code to /totp/verify",
			Extra:       map[string]any{"mfa_token": mfaToken},
		}
	}
	return s.tokenResponse(issued)
}

func checkCeremonyRequest(ceremony string, credential json.RawMessage) error {
	if ceremony == "" {
		return badRequest("ceremony is required")
	}
	if len(ceremony) > 128 {
		return errCeremony()
	}
	if len(credential) == 0 || string(credential) == "null" {
		return badRequest("credential is required")
	}
	return nil
}

// cleanCredentialName checks a passkey name a person chose; a blank one
// comes back empty, for defaultCredentialName to fill in.
func cleanCredentialName(raw string) (string, error) {
	name := strings.TrimSpace(raw)
	if name == "" {
		return "", nil
	}
	if utf8.RuneCountInString(name) > 64 {
		return "", badRequest("name must be at most 64 characters")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", badRequest("name contains control characters")
		}
	}
	return name, nil
}

// defaultCredentialName names a passkey its person did not name: after its
// provider when the AAGUID is in the list ("iCloud Keychain"), else
// "Passkey". A stored name is never blank.
func defaultCredentialName(name string, aaguid []byte) string {
	if name != "" {
		return name
	}
	if p, ok := aaguids.Lookup(aaguid); ok {
		return p.Name
	}
	return "Passkey"
}

func credentialError(err error) error {
	if errors.Is(err, webauthn.ErrExpired) || errors.Is(err, webauthn.ErrInvalidSession) {
		return errCeremony()
	}
	if errors.Is(err, webauthn.ErrInvalidCredential) {
		return Errorf(http.StatusBadRequest, CodeInvalidCredential, "%s", err.Error())
	}
	return err
}

// unknownCredential answers a passkey that no account here holds (never
// registered, deleted, or its account deleted). The reason member tells a
// client it may ask the device to forget the passkey (WebAuthn's
// signalUnknownCredential); a passkey of another account, which is alive,
// gets foreignCredential instead.
func unknownCredential() *Error {
	e := Errorf(http.StatusBadRequest, CodeInvalidCredential, "the passkey is not recognised for this sign-in")
	e.Extra = map[string]any{"reason": reasonUnknownCredential}
	return e
}

// reasonUnknownCredential marks an invalid_credential answer whose passkey
// is known to no account here.
const reasonUnknownCredential = "unknown_credential"

// foreignCredential answers a passkey of another account than the one the
// ceremony was begun for (by username).
func foreignCredential() *Error {
	return Errorf(http.StatusBadRequest, CodeInvalidCredential, "the passkey is not recognised for this sign-in")
}

func errUsernameTaken() *Error {
	return Errorf(http.StatusConflict, CodeUsernameTaken, "this username is already taken")
}

func waUser(u *store.User) webauthn.User {
	return webauthn.User{Handle: u.Handle, Name: u.Username, DisplayName: u.DisplayName}
}

func waCredentials(creds []store.Credential) []webauthn.Credential {
	out := make([]webauthn.Credential, len(creds))
	for i, c := range creds {
		out[i] = webauthn.Credential{
			ID: c.ID, Record: c.Record, Transports: c.Transports, AAGUID: c.AAGUID,
			SignCount: c.SignCount, BackupEligible: c.BackupEligible, BackupState: c.BackupState,
		}
	}
	return out
}

// randomID returns n random bytes, base64url-encoded.
func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return b64.EncodeToString(b)
}
