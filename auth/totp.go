package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/tokens"

	"github.com/latchid/latch/tokens/dpop"
)

// TOTP parameters: what every authenticator app supports (RFC 6238 defaults).
const (
	totpPeriod        = 30
	totpSecretSize    = 20 // 160 bits, as RFC 4226 section 4 recommends
	totpMaxFailures   = 5
	totpBaseLockout   = time.Minute
	totpMaxLockout    = 24 * time.Hour
	recoveryCodeCount = 10
)

var secretEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// totpCode computes the RFC 6238 code of one time step.
func totpCode(secret []byte, step int64, digits otp.Digits) string {
	code, err := hotp.GenerateCodeCustom(secretEncoding.EncodeToString(secret), uint64(step), hotp.ValidateOpts{
		Digits: digits, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return "" // cannot happen for a secret we encoded ourselves; never matches
	}
	return code
}

// matchStep returns the time step, within one step of now either way, whose
// code equals code. Every candidate is compared, in constant time.
func matchStep(secret []byte, code string, now time.Time) (int64, bool) {
	cur := now.Unix() / totpPeriod
	var found int64
	ok := 0
	for _, step := range [...]int64{cur - 1, cur, cur + 1} {
		if subtle.ConstantTimeCompare([]byte(totpCode(secret, step, otp.DigitsSix)), []byte(code)) == 1 {
			found, ok = step, 1
		}
	}
	return found, ok == 1
}

// normalizeCode strips the spaces apps show inside codes and checks the form.
func normalizeCode(raw string, digits int) (string, bool) {
	code := strings.ReplaceAll(strings.TrimSpace(raw), " ", "")
	if len(code) != digits {
		return "", false
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return code, true
}

// recoveryHash hashes a recovery code under a key derived from the master
// key, so a stolen database alone does not allow guessing codes offline.
func (s *Server) recoveryHash(code string) []byte {
	m := hmac.New(sha256.New, s.recoveryKey)
	m.Write([]byte(strings.ToLower(strings.ReplaceAll(strings.TrimSpace(code), "-", ""))))
	return m.Sum(nil)
}

func newRecoveryCode() string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	c := strings.ToLower(secretEncoding.EncodeToString(b)) // 16 characters, 80 bits
	return c[:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:]
}

type enrollResponse struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
	QRPNG      string `json:"qr_png"`
}

func (s *Server) handleTOTPEnroll(c *fiber.Ctx) error {
	var empty struct{}
	if err := decodeJSON(c, &empty); err != nil {
		return err
	}
	user := principalOf(c).user
	sub := user.ID
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: s.cfg.RPName, AccountName: user.Username, Period: totpPeriod, SecretSize: totpSecretSize,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return err
	}
	secret, err := secretEncoding.DecodeString(key.Secret())
	if err != nil {
		return err
	}
	img, err := key.Image(256, 256)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return err
	}
	now := s.now()
	err = s.db.Update(c.UserContext(), func(tx store.Tx) error {
		rec, err := tx.TOTP(sub)
		switch {
		case errors.Is(err, store.ErrNotFound):
			rec = &store.TOTP{UserID: sub}
		case err != nil:
			return err
		case rec.Confirmed:
			return Errorf(http.StatusConflict, "totp_already_enabled", "TOTP is already active; delete it before enrolling again")
		}
		// Lockout state survives re-enrolment so that it cannot be reset
		// by starting over.
		rec.Secret, rec.CreatedAt, rec.LastStep = secret, now, 0
		if err := tx.PutTOTP(rec); errors.Is(err, store.ErrNotFound) {
			return errNotFound("account") // deleted since the request was authenticated
		} else if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(enrollResponse{
		Secret: key.Secret(), OTPAuthURI: key.URL(),
		QRPNG: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()),
	})
}

type codeRequest struct {
	Code string `json:"code"`
}

func (s *Server) handleTOTPConfirm(c *fiber.Ctx) error {
	var req codeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	sub := principalOf(c).claims.Subject
	codes, set := s.newRecoveryCodes(sub)
	// The account has one set of recovery codes, for this second step and
	// for recovering the account alike; turning TOTP on replaces it, so the
	// codes the person saves now are the only ones that work.
	err := s.withTOTP(c.UserContext(), sub, func(tx store.Tx, rec *store.TOTP) (totpAction, error) {
		if rec.Confirmed {
			return keepTOTP, Errorf(http.StatusConflict, "totp_already_enabled", "TOTP is already active")
		}
		if err := s.checkTOTP(rec, req.Code, "", nil); err != nil {
			return saveTOTP, err
		}
		if err := tx.PutRecoveryCodes(set); err != nil {
			return keepTOTP, err
		}
		rec.Confirmed = true
		return saveTOTP, nil
	})
	if err != nil {
		return err
	}
	s.users.forget(sub)
	noStore(c)
	return c.JSON(fiber.Map{"recovery_codes": codes})
}

func (s *Server) handleTOTPDelete(c *fiber.Ctx) error {
	var req codeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	sub := principalOf(c).claims.Subject
	err := s.withTOTP(c.UserContext(), sub, func(_ store.Tx, rec *store.TOTP) (totpAction, error) {
		if !rec.Confirmed {
			return keepTOTP, errNotFound("active TOTP factor")
		}
		if err := s.checkTOTP(rec, req.Code, "", nil); err != nil {
			return saveTOTP, err
		}
		return deleteTOTP, nil
	})
	if err != nil {
		return err
	}
	s.users.forget(sub)
	return c.SendStatus(http.StatusNoContent)
}

type verifyRequest struct {
	MFAToken     string `json:"mfa_token"`
	Code         string `json:"code"`
	RecoveryCode string `json:"recovery_code"`
}

func (s *Server) handleTOTPVerify(c *fiber.Ctx) error {
	var req verifyRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.MFAToken == "" {
		return badRequest("mfa_token is required")
	}
	if (req.Code == "") == (req.RecoveryCode == "") {
		return badRequest("send exactly one of code and recovery_code")
	}
	if len(req.MFAToken) > 512 || len(req.Code) > 64 || len(req.RecoveryCode) > 64 {
		return badRequest("field too long")
	}
	proof, err := s.tokenEndpointProof(c)
	if err != nil {
		return err
	}
	res, err := s.verifyMFA(c.UserContext(), req, proof, s.signInClientOf(c))
	s.metrics.ceremonies.WithLabelValues("mfa", outcome(err)).Inc()
	if err != nil {
		return err
	}
	s.metrics.issued.WithLabelValues("mfa", "success").Inc()
	noStore(c)
	return c.JSON(res)
}

// verifyMFA completes a sign-in that needs a second factor. A wrong code
// leaves the mfa_token usable; success, expiry or a lockout spend it.
func (s *Server) verifyMFA(ctx context.Context, req verifyRequest, proof *dpop.Proof, from signInClient) (*tokenResponse, error) {
	now := s.now()
	id := tokens.HashOpaque(req.MFAToken)
	var (
		issued  *issuedSession
		failure error
	)
	err := s.db.Update(ctx, func(tx store.Tx) error {
		issued, failure = nil, nil
		cer, err := tx.Ceremony(id, now)
		if err != nil || cer.Kind != ceremonyMFA {
			return errGrant("invalid or expired mfa_token")
		}
		rec, err := tx.TOTP(cer.UserID)
		if err != nil || !rec.Confirmed {
			return errGrant("invalid or expired mfa_token")
		}
		if rec.Lockouts != mfaLockouts(cer.Session) {
			// A lockout began after this token was issued: the lockout
			// spends it. While the lockout lasts the answer is still 429.
			failure = errGrant("invalid or expired mfa_token")
			if locked := lockedOut(rec, now); locked != nil {
				failure = locked
			}
			return tx.DeleteCeremony(id)
		}
		var codes *store.RecoveryCodes
		if req.RecoveryCode != "" {
			if codes, err = accountRecoveryCodes(tx, cer.UserID); err != nil {
				return err
			}
		}
		failure = s.checkTOTP(rec, req.Code, req.RecoveryCode, codes)
		if err := tx.PutTOTP(rec); err != nil {
			return err
		}
		if failure == nil && codes != nil {
			if err := tx.PutRecoveryCodes(codes); err != nil {
				return err
			}
		}
		if failure != nil {
			if err := tx.AppendAudit(mfaFailedEvent(now, cer.UserID, req, failure, now.Before(rec.LockedUntil))); err != nil {
				return err
			}
			if e, ok := asError(failure); ok && e.Code == CodeRateLimited {
				return tx.DeleteCeremony(id)
			}
			return nil // commit the failure count, keep the token
		}
		if err := tx.DeleteCeremony(id); err != nil {
			return err
		}
		amr := append(append([]string{}, cer.AMR...), "otp", "mfa")
		user, err := enabledUser(tx, cer.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return errGrant("the account no longer exists")
		} else if err != nil {
			return err
		}
		if issued, err = s.startSession(tx, user, amr, cer.AuthTime, proof, from); err != nil {
			return err
		}
		return tx.AppendAudit(signInEvent(now, issued))
	})
	if err != nil {
		return nil, err
	}
	if failure != nil {
		return nil, failure
	}
	return s.tokenResponse(issued)
}

// totpAction is what withTOTP does with the record after fn.
type totpAction int

const (
	keepTOTP totpAction = iota
	saveTOTP
	deleteTOTP
)

// mfaState records, in an MFA ceremony, how many lockouts the factor had
// when the mfa_token was issued, so a lockout that begins later spends it.
func mfaState(lockouts int) []byte { return []byte(strconv.Itoa(lockouts)) }

func mfaLockouts(state []byte) int {
	n, err := strconv.Atoi(string(state))
	if err != nil {
		return -1 // unreadable state never matches: the token is spent
	}
	return n
}

// withTOTP runs fn on the user's TOTP record in one transaction and then
// keeps, saves or deletes the record as fn says. The record is saved even
// when fn fails (failure counters must stick), and fn's error is returned.
func (s *Server) withTOTP(ctx context.Context, userID string, fn func(tx store.Tx, rec *store.TOTP) (totpAction, error)) error {
	var failure error
	err := s.db.Update(ctx, func(tx store.Tx) error {
		failure = nil
		rec, err := tx.TOTP(userID)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound("TOTP factor")
		}
		if err != nil {
			return err
		}
		action, ferr := fn(tx, rec)
		failure = ferr
		switch action {
		case saveTOTP:
			return tx.PutTOTP(rec)
		case deleteTOTP:
			if err := tx.DeleteTOTP(userID); err != nil {
				return err
			}
			return tx.AppendAudit(&store.AuditEvent{Time: s.now(), Type: "totp_deleted", UserID: userID})
		}
		return nil
	})
	if err != nil {
		return err
	}
	return failure
}

// lockedOut returns the rate_limited answer while rec is locked at now, or
// nil.
func lockedOut(rec *store.TOTP, now time.Time) error {
	if !now.Before(rec.LockedUntil) {
		return nil
	}
	return &Error{
		Status: http.StatusTooManyRequests, Code: CodeRateLimited,
		Description: "too many wrong codes; try again later",
		RetryAfter:  int(rec.LockedUntil.Sub(now).Seconds()) + 1,
	}
}

// checkTOTP applies the throttling and replay rules to one attempt and
// updates rec accordingly: attempts 1 to 5 with wrong codes are invalid_code,
// then every attempt is rate_limited until the back-off ends; the back-off
// doubles with each further lockout. The attempt is a TOTP code, or, when
// recovery is set, one of the account's recovery codes, which is removed
// from codes (nil: the account has none) on success; the caller stores
// codes then.
func (s *Server) checkTOTP(rec *store.TOTP, code, recovery string, codes *store.RecoveryCodes) error {
	now := s.now()
	if locked := lockedOut(rec, now); locked != nil {
		return locked
	}
	ok := false
	if recovery != "" {
		ok = spendRecoveryCode(codes, s.recoveryHash(recovery))
	} else if c, valid := normalizeCode(code, 6); valid {
		if step, match := matchStep(rec.Secret, c, now); match && step > rec.LastStep {
			rec.LastStep, ok = step, true
		}
	}
	if ok {
		rec.Failures, rec.Lockouts = 0, 0
		return nil
	}
	rec.Failures++
	if rec.Failures >= totpMaxFailures {
		backoff := totpBaseLockout << min(rec.Lockouts, 10)
		rec.LockedUntil = now.Add(min(backoff, totpMaxLockout))
		rec.Failures = 0
		rec.Lockouts++
	}
	if recovery != "" {
		return errCode("wrong or already used recovery code")
	}
	return errCode("wrong, expired or already used code")
}
