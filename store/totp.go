package store

import (
	"fmt"
	"time"
)

// TOTP is a user's authenticator-app factor. Secret is the shared seed in
// clear in memory and sealed in the file. LastStep is the last accepted
// time step (to refuse replays); Failures, Lockouts and LockedUntil carry
// the throttling state. The recovery codes that go with it are the
// account's (RecoveryCodes in recovery.go).
type TOTP struct {
	UserID      string    `json:"user_id"`
	Secret      []byte    `json:"-"`
	Confirmed   bool      `json:"confirmed,omitempty"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	LastStep    int64     `json:"last_step,omitempty"`
	Failures    int       `json:"failures,omitempty"`
	Lockouts    int       `json:"lockouts,omitempty"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
}

type totpRecord struct {
	header
	TOTP
	SealedSecret []byte `json:"secret_sealed"`
	// LegacyRecoveryCodes are the recovery code hashes that versions before
	// account recovery kept here; Open moves them to the account
	// (migrateRecoveryCodes) and nothing writes them any more.
	LegacyRecoveryCodes [][]byte `json:"recovery_codes,omitempty"`
}

// TOTP returns the user's TOTP factor with its secret unsealed, or
// ErrNotFound. A secret that cannot be unsealed yields an error wrapping
// ErrWrongKey.
func (tx *boltTx) TOTP(userID string) (*TOTP, error) {
	var rec totpRecord
	if err := tx.get(bucketTOTP, []byte(userID), &rec); err != nil {
		return nil, err
	}
	plain, err := tx.db.open(rec.SealedSecret, sealAAD(bucketTOTP, userID))
	if err != nil {
		return nil, fmt.Errorf("store: TOTP secret of user %q: %w", userID, err)
	}
	rec.Secret = plain
	return &rec.TOTP, nil
}

// TOTPStatus returns the user's TOTP factor without its secret (Secret is
// nil), or ErrNotFound: for callers that only need to know whether it is
// confirmed or locked, it skips unsealing.
func (tx *boltTx) TOTPStatus(userID string) (*TOTP, error) {
	var rec totpRecord
	if err := tx.get(bucketTOTP, []byte(userID), &rec); err != nil {
		return nil, err
	}
	return &rec.TOTP, nil
}

// PutTOTP inserts or updates the user's TOTP factor, sealing its secret.
func (tx *boltTx) PutTOTP(t *TOTP) error {
	if err := checkKey("user id", len(t.UserID)); err != nil {
		return err
	}
	if len(t.Secret) == 0 {
		return fmt.Errorf("store: TOTP of user %q has no secret", t.UserID)
	}
	if tx.raw(bucketAccounts, accountKey(t.UserID)) == nil {
		return ErrNotFound // the account is gone (see PutCredential)
	}
	sealed, err := tx.db.seal(t.Secret, sealAAD(bucketTOTP, t.UserID))
	if err != nil {
		return err
	}
	rec := totpRecord{header: current(), TOTP: *t, SealedSecret: sealed}
	rec.CreatedAt = utc(rec.CreatedAt)
	rec.LockedUntil = utc(rec.LockedUntil)
	return tx.put(bucketTOTP, []byte(t.UserID), &rec)
}

// DeleteTOTP removes the user's TOTP factor, or returns ErrNotFound.
func (tx *boltTx) DeleteTOTP(userID string) error {
	key := []byte(userID)
	if len(key) == 0 || tx.btx.Bucket(bucketTOTP).Get(key) == nil {
		return ErrNotFound
	}
	return tx.del(bucketTOTP, key)
}
