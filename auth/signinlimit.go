package auth

import (
	"context"
	"errors"
	"time"

	"github.com/latchid/latch/store"
)

// Per-account throttling of failed passkey finishes, persisted in the
// account like the TOTP back-off so that a restart forgets nothing. After
// signInMaxFailures failed finishes in a row an account is throttled for a
// back-off that doubles with each further lockout: while it lasts, every
// finish for the account that fails is answered 429 rate_limited with
// Retry-After, and the failures are not counted again.
//
// A finish that succeeds is never refused and clears the state. Unlike a
// TOTP code, a passkey signature cannot be guessed, so refusing correct
// ones would protect nothing and would hand anyone who knows an account's
// user handle (its sub) a way to lock its owner out. The per-address
// limits bound how fast anyone can fail.
const (
	signInMaxFailures = 10
	signInBaseLockout = time.Minute
	signInMaxLockout  = time.Hour
)

// signInFailed charges a failed finish to the account userID when the
// failure is the account's (a passkey of it that does not verify) and
// returns the answer: the
// failure itself, or 429 once the account is throttled. Failures of no
// known account, and errors that are not the caller's, are returned as
// they are. A counted failure with a reason is also audited, in the same
// transaction as its count and within the failure budget (audit.go).
func (s *Server) signInFailed(ctx context.Context, userID, reason string, failure error) error {
	if e, ok := asError(failure); userID == "" || !ok || e.Code != CodeInvalidCredential {
		return failure
	}
	now := s.now()
	audit := reason != "" && s.failures.allow(now)
	var answer error
	err := s.db.Update(ctx, func(tx store.Tx) error {
		answer = failure
		f, err := tx.SignInFailures(userID)
		if err != nil {
			return err
		}
		if now.Before(f.LockedUntil) {
			answer = limited(f.LockedUntil.Sub(now), "failed sign-ins for this account")
			return nil
		}
		f.Failures++
		if audit {
			if err := tx.AppendAudit(signInFailedEvent(now, userID, "passkey", reason)); err != nil {
				return err
			}
		}
		if f.Failures >= signInMaxFailures {
			f.LockedUntil = now.Add(min(signInBaseLockout<<min(f.Lockouts, 10), signInMaxLockout))
			f.Failures = 0
			f.Lockouts++
			answer = limited(f.LockedUntil.Sub(now), "failed sign-ins for this account")
			if err := tx.AppendAudit(&store.AuditEvent{Time: now, Type: "signin_throttled", UserID: userID}); err != nil {
				return err
			}
		}
		return tx.PutSignInFailures(f)
	})
	if errors.Is(err, store.ErrNotFound) {
		return failure // the account is gone
	}
	if err != nil {
		return err
	}
	return answer
}

// signInSucceeded clears the account's throttling state inside the
// transaction of a successful finish; an account with none costs a read.
func signInSucceeded(tx store.Tx, userID string) error {
	f, err := tx.SignInFailures(userID)
	if err != nil {
		return err
	}
	return clearSignInFailures(tx, f)
}

// clearSignInFailures is signInSucceeded for a state the caller has read.
func clearSignInFailures(tx store.Tx, f *store.SignInFailures) error {
	if f.Failures == 0 && f.Lockouts == 0 && f.LockedUntil.IsZero() {
		return nil
	}
	return tx.PutSignInFailures(&store.SignInFailures{UserID: f.UserID})
}
