package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/tokens"

	"github.com/latchid/latch/tokens/dpop"
)

// Account recovery. Every account can hold one set of single-use recovery
// codes (store.RecoveryCodes), hashed under recoveryKey. The same set
// stands in for the TOTP code at /totp/verify and recovers an account that
// has no passkey left:
//
//  1. POST /recovery/start with the username and a recovery code (and,
//     when the account has TOTP on, a TOTP code or a second recovery code)
//     opens a recovery session: a short-lived token whose only power is to
//     register a new passkey for that account. Nothing is spent yet.
//  2. POST /recovery/register/begin and /finish run a WebAuthn registration
//     ceremony in that session. The finish spends the codes, adds the
//     passkey, ends every other session of the account and signs the
//     person in, in one transaction.
//
// An operator can open the same kind of session without codes
// (IssueRecoveryLink: `latch users recover NAME`).
//
// A wrong first code and an unknown username get the same answer and the
// same work (one read, no write), so recovery tells nobody which names
// exist. Their failures are counted per username, known or not, in memory
// (recoveryFailures), and audited only in the aggregate signin_failures
// event: a per-account counter in the store would cost a commit only for
// names that exist, and its lockout would answer only for them. Codes have
// 80 bits, so the count is there to slow a flood, not to stop guessing.
// The second step is guessable (six digits), but only someone holding a
// valid code reaches it, so it is charged to the account's TOTP back-off
// (checkTOTP), persisted, as at /totp/verify.

const (
	ceremonyRecovery        = "recovery"
	ceremonyRecoveryPasskey = "recovery_passkey"

	// recoveryTTL bounds a recovery session opened with codes.
	recoveryTTL = 10 * time.Minute
	// recoveryLinkTTL bounds an operator's recovery link.
	recoveryLinkTTL = 15 * time.Minute
	// recoveryMaxFailures wrong first codes for one username are answered
	// invalid_code; after that, failures are rate_limited until the bucket
	// refills at recoveryFailureRate.
	recoveryMaxFailures = 10
	recoveryFailureRate = 1.0 / 60 // per second: one a minute
)

// newRecoveryCodes makes a new set of recovery codes for userID: the codes
// to show once, and the record of their hashes.
func (s *Server) newRecoveryCodes(userID string) ([]string, *store.RecoveryCodes) {
	codes := make([]string, recoveryCodeCount)
	set := &store.RecoveryCodes{UserID: userID, CreatedAt: s.now(), Hashes: make([][]byte, recoveryCodeCount)}
	for i := range codes {
		codes[i] = newRecoveryCode()
		set.Hashes[i] = s.recoveryHash(codes[i])
	}
	return codes, set
}

// accountRecoveryCodes returns the account's recovery codes, or nil when
// it has none.
func accountRecoveryCodes(tx store.Tx, userID string) (*store.RecoveryCodes, error) {
	codes, err := tx.RecoveryCodes(userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return codes, err
}

// hasRecoveryCode reports whether codes (nil: none) holds the code hashed
// as h. Every stored hash is compared, in constant time.
func hasRecoveryCode(codes *store.RecoveryCodes, h []byte) bool {
	found := false
	if codes != nil {
		for _, stored := range codes.Hashes {
			found = hmac.Equal(h, stored) || found
		}
	}
	return found
}

// spendRecoveryCode removes the code hashed as h from codes, reporting
// whether it was there.
func spendRecoveryCode(codes *store.RecoveryCodes, h []byte) bool {
	if !hasRecoveryCode(codes, h) {
		return false
	}
	for i, stored := range codes.Hashes {
		if hmac.Equal(h, stored) {
			codes.Hashes = append(codes.Hashes[:i:i], codes.Hashes[i+1:]...)
			break
		}
	}
	return true
}

type recoveryCodesStatus struct {
	Remaining int        `json:"remaining"`
	CreatedAt *time.Time `json:"created_at"`
}

// handleRecoveryCodesStatus tells how many recovery codes the caller has
// left, and since when; never the codes.
func (s *Server) handleRecoveryCodesStatus(c *fiber.Ctx) error {
	sub := principalOf(c).claims.Subject
	var out recoveryCodesStatus
	err := s.db.View(c.UserContext(), func(tx store.Tx) error {
		codes, err := accountRecoveryCodes(tx, sub)
		if codes != nil {
			t := codes.CreatedAt.UTC()
			out = recoveryCodesStatus{Remaining: len(codes.Hashes), CreatedAt: &t}
		}
		return err
	})
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(out)
}

// handleNewRecoveryCodes gives the caller a new set of recovery codes,
// replacing the old set. requireStepUp has checked the sign-in.
func (s *Server) handleNewRecoveryCodes(c *fiber.Ctx) error {
	if err := optionalEmptyBody(c); err != nil {
		return err
	}
	sub := principalOf(c).claims.Subject
	codes, set := s.newRecoveryCodes(sub)
	err := s.db.Update(c.UserContext(), func(tx store.Tx) error {
		if err := tx.PutRecoveryCodes(set); errors.Is(err, store.ErrNotFound) {
			return errNotFound("account")
		} else if err != nil {
			return err
		}
		return tx.AppendAudit(&store.AuditEvent{Time: set.CreatedAt, Type: "recovery_codes_created", UserID: sub})
	})
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(fiber.Map{"recovery_codes": codes, "created_at": set.CreatedAt.UTC()})
}

type recoveryStartRequest struct {
	Username           string `json:"username"`
	RecoveryCode       string `json:"recovery_code"`
	TOTPCode           string `json:"totp_code"`
	SecondRecoveryCode string `json:"second_recovery_code"`
}

type recoveryStartResponse struct {
	RecoveryToken string `json:"recovery_token"`
	ExpiresIn     int    `json:"expires_in"`
}

// errWrongRecovery is the one answer for an unknown username, an account
// without codes and a wrong code.
func errWrongRecovery() *Error {
	return errCode("this username and recovery code do not match an account")
}

func errRecoveryToken() *Error {
	return errGrant("invalid or expired recovery token: start the recovery again")
}

func (s *Server) handleRecoveryStart(c *fiber.Ctx) error {
	var req recoveryStartRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Username == "" || req.RecoveryCode == "" {
		return badRequest("username and recovery_code are required")
	}
	if req.TOTPCode != "" && req.SecondRecoveryCode != "" {
		return badRequest("send at most one of totp_code and second_recovery_code")
	}
	if len(req.Username) > 1024 || len(req.RecoveryCode) > 64 || len(req.TOTPCode) > 64 || len(req.SecondRecoveryCode) > 64 {
		return badRequest("field too long")
	}
	username, err := NormalizeUsername(req.Username)
	if err != nil {
		return err
	}
	res, err := s.startRecovery(c.UserContext(), username, req)
	s.metrics.ceremonies.WithLabelValues("recovery_start", outcome(err)).Inc()
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(res)
}

// startRecovery checks the codes and opens a recovery session. A wrong
// first code changes nothing in the store; a wrong second step counts
// against the account's TOTP back-off.
func (s *Server) startRecovery(ctx context.Context, username string, req recoveryStartRequest) (*recoveryStartResponse, error) {
	now := s.now()
	first := s.recoveryHash(req.RecoveryCode)
	// The first code is checked in a read: the same work whether or not
	// the name exists.
	var userID string
	err := s.db.View(ctx, func(tx store.Tx) error {
		u, err := tx.UserByUsername(username)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		codes, err := accountRecoveryCodes(tx, u.ID)
		if err != nil {
			return err
		}
		if hasRecoveryCode(codes, first) {
			userID = u.ID
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if userID == "" {
		return nil, s.recoveryFailed(username, now)
	}
	var (
		token   string
		failure error
	)
	err = s.db.Update(ctx, func(tx store.Tx) error {
		token, failure = "", nil
		user, err := tx.User(userID)
		if errors.Is(err, store.ErrNotFound) {
			failure = errWrongRecovery()
			return nil
		} else if err != nil {
			return err
		}
		codes, err := accountRecoveryCodes(tx, userID)
		if err != nil {
			return err
		}
		if !hasRecoveryCode(codes, first) { // spent or replaced since the read
			failure = errWrongRecovery()
			return nil
		}
		if user.Disabled {
			failure = errDisabled()
			return nil
		}
		spend := [][]byte{first}
		amr := []string{amrPasskey}
		rec, err := tx.TOTP(userID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case rec.Confirmed:
			if req.TOTPCode == "" && req.SecondRecoveryCode == "" {
				failure = Errorf(http.StatusBadRequest, CodeTOTPRequired,
					"this account also uses two-step verification: send a code from the authenticator app (totp_code) or a second recovery code (second_recovery_code)")
				return nil
			}
			// The second code is checked against the set without the first,
			// so one code cannot count twice; nothing is spent until the
			// new passkey is registered.
			rest := &store.RecoveryCodes{Hashes: slicesWithout(codes.Hashes, first)}
			failure = s.checkTOTP(rec, req.TOTPCode, req.SecondRecoveryCode, rest)
			if err := tx.PutTOTP(rec); err != nil {
				return err
			}
			if failure != nil {
				factor, reason := "totp", "wrong code at account recovery"
				if req.SecondRecoveryCode != "" {
					factor, reason = "recovery_code", "wrong second recovery code at account recovery"
				}
				if now.Before(rec.LockedUntil) {
					reason += "; the factor is now locked after repeated failures"
				}
				return tx.AppendAudit(signInFailedEvent(now, userID, factor, reason))
			}
			if req.SecondRecoveryCode != "" {
				spend = append(spend, s.recoveryHash(req.SecondRecoveryCode))
			}
			amr = append(amr, amrOTP, "mfa")
		}
		var hash string
		token, hash = tokens.NewOpaque()
		if err := tx.PutCeremony(&store.Ceremony{
			ID: hash, Kind: ceremonyRecovery, UserID: userID, AMR: amr, AuthTime: now,
			ExpiresAt: now.Add(recoveryTTL), Session: bytes.Join(spend, nil),
		}); err != nil {
			return err
		}
		return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "recovery_started", UserID: userID,
			Detail: map[string]string{"method": "recovery_code"}})
	})
	if err != nil {
		return nil, err
	}
	if failure != nil {
		return nil, failure
	}
	return &recoveryStartResponse{RecoveryToken: token, ExpiresIn: int(recoveryTTL.Seconds())}, nil
}

// recoveryFailed counts a wrong first code for username (known or not)
// and returns the answer: invalid_code, or rate_limited once the name has
// failed too often.
func (s *Server) recoveryFailed(username string, now time.Time) error {
	s.failures.countUnknown(now)
	if ok, wait := s.recoveryFailures.allow(username); !ok {
		return limited(wait, "failed recovery attempts for this username")
	}
	return errWrongRecovery()
}

// slicesWithout returns a copy of hashes without h.
func slicesWithout(hashes [][]byte, h []byte) [][]byte {
	out := make([][]byte, 0, len(hashes))
	for _, stored := range hashes {
		if !hmac.Equal(stored, h) {
			out = append(out, stored)
		}
	}
	return out
}

// splitHashes splits a recovery session's state into the code hashes it
// will spend.
func splitHashes(state []byte) [][]byte {
	var out [][]byte
	for len(state) >= sha256.Size {
		out = append(out, state[:sha256.Size])
		state = state[sha256.Size:]
	}
	return out
}

type recoveryTokenRequest struct {
	RecoveryToken string `json:"recovery_token"`
}

func checkRecoveryToken(token string) error {
	if token == "" {
		return badRequest("recovery_token is required")
	}
	if len(token) > 512 {
		return errRecoveryToken()
	}
	return nil
}

// recoverySession returns the live recovery session of token and its
// account, which must be enabled.
func (s *Server) recoverySession(tx store.Tx, token string, now time.Time) (*store.Ceremony, *store.User, error) {
	cer, err := tx.Ceremony(tokens.HashOpaque(token), now)
	if err != nil || cer.Kind != ceremonyRecovery {
		return nil, nil, errRecoveryToken()
	}
	user, err := tx.User(cer.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errRecoveryToken()
	} else if err != nil {
		return nil, nil, err
	}
	if user.Disabled {
		return nil, nil, errDisabled()
	}
	return cer, user, nil
}

func (s *Server) handleRecoveryRegisterBegin(c *fiber.Ctx) error {
	var req recoveryTokenRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := checkRecoveryToken(req.RecoveryToken); err != nil {
		return err
	}
	now := s.now()
	var (
		user  *store.User
		creds []store.Credential
	)
	err := s.db.View(c.UserContext(), func(tx store.Tx) error {
		var err error
		if _, user, err = s.recoverySession(tx, req.RecoveryToken, now); err != nil {
			return err
		}
		creds, err = tx.CredentialsByUser(user.ID)
		return err
	})
	var res *beginResponse
	if err == nil {
		// The account's passkeys are excluded as for any new passkey: an
		// authenticator that still holds one says so instead of making a
		// second.
		opts, session, berr := s.rp.BeginRegistration(waUser(user), waCredentials(creds))
		if err = berr; err == nil {
			res, err = s.saveCeremony(&store.Ceremony{
				Kind: ceremonyRecoveryPasskey, UserID: user.ID, Session: session, Parent: tokens.HashOpaque(req.RecoveryToken),
			}, opts)
		}
	}
	s.metrics.ceremonies.WithLabelValues("recovery_register_begin", outcome(err)).Inc()
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(res)
}

type recoveryFinishRequest struct {
	RecoveryToken string          `json:"recovery_token"`
	Ceremony      string          `json:"ceremony"`
	Credential    json.RawMessage `json:"credential"`
	Name          string          `json:"name"`
}

func (s *Server) handleRecoveryRegisterFinish(c *fiber.Ctx) error {
	var req recoveryFinishRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := checkRecoveryToken(req.RecoveryToken); err != nil {
		return err
	}
	if err := checkCeremonyRequest(req.Ceremony, req.Credential); err != nil {
		return err
	}
	name, err := cleanCredentialName(req.Name)
	if err != nil {
		return err
	}
	proof, err := s.tokenEndpointProof(c)
	if err != nil {
		return err
	}
	res, err := s.finishRecovery(c.UserContext(), req, name, proof, s.signInClientOf(c))
	s.metrics.ceremonies.WithLabelValues("recovery", outcome(err)).Inc()
	if err != nil {
		return err
	}
	s.metrics.issued.WithLabelValues("recovery", "success").Inc()
	noStore(c)
	return c.JSON(res)
}

// finishRecovery registers the new passkey of a recovery session and, in
// the same transaction, spends the session and its codes, ends every other
// session of the account and starts the new one.
func (s *Server) finishRecovery(ctx context.Context, req recoveryFinishRequest, name string, proof *dpop.Proof, from signInClient) (*registerFinishResponse, error) {
	now := s.now()
	parent := tokens.HashOpaque(req.RecoveryToken)
	cer, err := s.takeCeremony(ctx, req.Ceremony, ceremonyRecoveryPasskey, now)
	if err != nil {
		return nil, err
	}
	if cer.Parent != parent {
		return nil, errCeremony()
	}
	var user *store.User
	err = s.db.View(ctx, func(tx store.Tx) error {
		var err error
		_, user, err = s.recoverySession(tx, req.RecoveryToken, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	wc, err := s.rp.FinishRegistration(waUser(user), cer.Session, req.Credential)
	if err != nil {
		return nil, credentialError(err)
	}
	cred := &store.Credential{
		ID: wc.ID, UserID: user.ID, Name: name, CreatedAt: now, LastUsedAt: now,
		Transports: wc.Transports, AAGUID: wc.AAGUID, BackupEligible: wc.BackupEligible, BackupState: wc.BackupState,
		SignCount: wc.SignCount, Record: wc.Record,
	}
	var (
		issued  *issuedSession
		ended   []string
		failure error
		lt      *logoutTargets
	)
	err = s.db.Update(ctx, func(tx store.Tx) error {
		issued, ended, failure, lt = nil, nil, nil, newLogoutTargets()
		rs, current, err := s.recoverySession(tx, req.RecoveryToken, now)
		if err != nil {
			failure = err
			return nil
		}
		if rs.UserID != cer.UserID {
			failure = errCeremony()
			return nil
		}
		method := "operator_link"
		if spend := splitHashes(rs.Session); len(spend) > 0 {
			method = "recovery_code"
			codes, err := accountRecoveryCodes(tx, current.ID)
			if err != nil {
				return err
			}
			for _, h := range spend {
				if !spendRecoveryCode(codes, h) {
					// Spent by another recovery or a sign-in, or replaced by
					// a new set, since the session began: it is void.
					failure = errRecoveryToken()
					return tx.DeleteCeremony(parent)
				}
			}
			if err := tx.PutRecoveryCodes(codes); err != nil {
				return err
			}
		}
		if err := tx.PutCredential(cred); err != nil {
			return err
		}
		if ended, _, err = endOtherSessions(tx, current.ID, "", now, s.sessionBlacklistUntil(now), lt); err != nil {
			return err
		}
		if err := signInSucceeded(tx, current.ID); err != nil {
			return err
		}
		if err := tx.DeleteCeremony(parent); err != nil {
			return err
		}
		if issued, err = s.startSession(tx, current, rs.AMR, now, proof, from); err != nil {
			return err
		}
		return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "account_recovered", UserID: current.ID, Detail: map[string]string{
			"method": method, "sid": issued.session.ID, "sessions_ended": strconv.Itoa(len(ended)),
		}})
	})
	switch {
	case errors.Is(err, store.ErrCredentialExists):
		return nil, Errorf(http.StatusBadRequest, CodeInvalidCredential, "this passkey is already registered")
	case err != nil:
		return nil, err
	case failure != nil:
		return nil, failure
	}
	for _, sid := range ended {
		s.mirrorSessionRevocation(sid, now)
	}
	s.afterSessionsEnd(lt)
	res := &registerFinishResponse{CredentialID: b64.EncodeToString(cred.ID)}
	if res.tokenResponse, err = s.tokenResponse(issued); err != nil {
		return nil, err
	}
	return res, nil
}

// RecoveryLink is an operator-issued recovery link.
type RecoveryLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// issueRecoveryLink opens a recovery session for the account named
// username, without codes, and returns its link: {issuer}/recover#token=…
// (a fragment, so the token reaches no server log on the way). Only the
// token's hash is stored; it works once, for recoveryLinkTTL.
func issueRecoveryLink(ctx context.Context, db store.Store, issuer, username string, now time.Time) (*RecoveryLink, error) {
	token, hash := tokens.NewOpaque()
	expires := now.Add(recoveryLinkTTL)
	err := db.Update(ctx, func(tx store.Tx) error {
		u, err := userNamed(tx, username)
		if err != nil {
			return err
		}
		if u.Disabled {
			return Errorf(http.StatusForbidden, CodeAccountDisabled, "%s is disabled: enable it first (latch users enable %s)", u.Username, u.Username)
		}
		if err := tx.PutCeremony(&store.Ceremony{
			ID: hash, Kind: ceremonyRecovery, UserID: u.ID, AMR: []string{amrPasskey}, AuthTime: now, ExpiresAt: expires,
		}); err != nil {
			return err
		}
		return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "recovery_link_issued", UserID: u.ID})
	})
	if err != nil {
		return nil, err
	}
	return &RecoveryLink{URL: issuer + "/recover#token=" + token, ExpiresAt: expires.UTC()}, nil
}

// IssueRecoveryLink gives the account named username a single-use link,
// valid for 15 minutes, that lets its holder register a new passkey for it
// (and so sign in, ending every other session). The link is built on the
// configured issuer.
func (a *Admin) IssueRecoveryLink(ctx context.Context, username string) (*RecoveryLink, error) {
	return issueRecoveryLink(ctx, a.db, a.cfg.Issuer, username, time.Now())
}

// IssueRecoveryLink is Admin.IssueRecoveryLink on the running server.
func (s *Server) IssueRecoveryLink(ctx context.Context, username string) (*RecoveryLink, error) {
	return issueRecoveryLink(ctx, s.db, s.cfg.Issuer, username, s.now())
}
