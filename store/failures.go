package store

import "time"

// entrySignInFailures is the kind of the account entry holding the
// account's sign-in throttling state (accounts.go); it has no member id.
const entrySignInFailures byte = 'f'

// SignInFailures is an account's throttling state for failed passkey
// sign-ins, kept like the TOTP factor's (TOTP.Failures and the rest) so that
// it survives a restart: Failures counts failures since the last success or
// lockout, Lockouts the lockouts since the last success, LockedUntil ends
// the current one. It lives in the account, so deleting the account
// deletes it.
type SignInFailures struct {
	UserID      string    `json:"user_id"`
	Failures    int       `json:"failures,omitempty"`
	Lockouts    int       `json:"lockouts,omitempty"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
}

type signInFailuresRecord struct {
	header
	SignInFailures
}

// SignInFailures returns the account's sign-in throttling state; an account
// that has none (never failed, or succeeded since) gets a zero state.
func (tx *boltTx) SignInFailures(userID string) (*SignInFailures, error) {
	var rec signInFailuresRecord
	err := tx.get(bucketAccounts, entryKey(userID, entrySignInFailures, nil), &rec)
	if notFound(err) {
		return &SignInFailures{UserID: userID}, nil
	}
	if err != nil {
		return nil, err
	}
	return &rec.SignInFailures, nil
}

// PutSignInFailures stores the account's sign-in throttling state; a zero
// state removes the entry. It returns ErrNotFound when the account is gone.
func (tx *boltTx) PutSignInFailures(f *SignInFailures) error {
	if err := checkKey("user id", len(f.UserID)); err != nil {
		return err
	}
	if tx.raw(bucketAccounts, accountKey(f.UserID)) == nil {
		return ErrNotFound
	}
	key := entryKey(f.UserID, entrySignInFailures, nil)
	if f.Failures == 0 && f.Lockouts == 0 && f.LockedUntil.IsZero() {
		return tx.del(bucketAccounts, key)
	}
	rec := signInFailuresRecord{header: current(), SignInFailures: *f}
	rec.LockedUntil = utc(rec.LockedUntil)
	return tx.put(bucketAccounts, key, &rec)
}

// SignInState is what a passkey sign-in checks of an account: the user,
// the status of its TOTP factor (TOTPStatus; nil when it has none) and its
// throttling state (SignInFailures; zero when it has none).
type SignInState struct {
	User     User
	TOTP     *TOTP
	Failures SignInFailures
}

// SignInState reads the user, its TOTP factor's status and its throttling
// state.
func (tx *boltTx) SignInState(userID string) (*SignInState, error) {
	u, err := tx.User(userID)
	if err != nil {
		return nil, err
	}
	st := &SignInState{User: *u}
	switch t, err := tx.TOTPStatus(userID); {
	case err == nil:
		st.TOTP = t
	case !notFound(err):
		return nil, err
	}
	f, err := tx.SignInFailures(userID)
	if err != nil {
		return nil, err
	}
	st.Failures = *f
	return st, nil
}
