package store

import (
	"context"
	"errors"
	"io"
	"time"
)

// Store is what the service keeps its records in. Two backends implement
// it: [DB], a bbolt file in the data directory and the zero-configuration
// default, and store/postgres, a PostgreSQL database shared by several
// nodes. The service is written against Store and Tx only and never knows
// which one it runs on.
//
// The contract both keep, and that store/storetest checks on each:
//   - Update runs fn in a transaction that is serialisable with every
//     other Update: what fn read is still true when its writes commit. A
//     backend may run fn more than once (a batch retried without a failing
//     neighbour, a serialisation conflict), so fn must not act outside the
//     transaction before Update returns.
//   - Update returns only after the writes are durable; an error wrapping
//     ErrWriteFailed means none of them was kept.
//   - View sees a consistent snapshot and never blocks writers.
//   - Every value a Tx returns is a copy that outlives the transaction.
type Store interface {
	// Update runs fn in a read-write transaction (see the contract above).
	Update(ctx context.Context, fn func(tx Tx) error) error
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(tx Tx) error) error

	// PutPending holds a WebAuthn ceremony between its begin and finish,
	// and TakePending takes it out, at most once: a second take of the
	// same id, on this node or any other, is ErrNotFound.
	PutPending(c *Ceremony, now time.Time) error
	TakePending(ctx context.Context, id string, now time.Time) (*Ceremony, error)

	// Sweep removes what has expired by now; RunSweeper sweeps every
	// interval until ctx ends.
	Sweep(ctx context.Context, now time.Time) (removed int, err error)
	RunSweeper(ctx context.Context, every time.Duration, now func() time.Time)

	// ProbeWrite commits a small record of the store's own, so that a store
	// whose writes failed finds out whether it can write again.
	ProbeWrite(ctx context.Context, now time.Time) error
	// WriteHealth is the state of the write path as the last commits left
	// it, and Stats the store's write activity since it was opened.
	WriteHealth() WriteHealth
	Stats() Stats

	// Close releases the store; it waits for writes in progress.
	Close() error
}

// Tx is a transaction handed to the functions given to Store.Update and
// Store.View. It must not be used after that function returns, nor shared
// between goroutines. Writes in a View fail.
type Tx interface {
	// Users and their passkeys (users.go, credentials.go).
	User(id string) (*User, error)
	UserByUsername(username string) (*User, error)
	UserByHandle(handle []byte) (*User, error)
	PutUser(u *User) error
	Users() ([]User, error)
	DeleteUser(id string) error
	Credential(id []byte) (*Credential, error)
	CredentialsByUser(userID string) ([]Credential, error)
	// AccountByHandle is UserByHandle and that user's CredentialsByUser
	// in one read: what a passkey sign-in looks up.
	AccountByHandle(handle []byte) (*User, []Credential, error)
	PutCredential(c *Credential) error
	DeleteCredential(id []byte) error

	// Sign-in factors and throttling (totp.go, recovery.go, failures.go).
	TOTP(userID string) (*TOTP, error)
	TOTPStatus(userID string) (*TOTP, error)
	PutTOTP(t *TOTP) error
	DeleteTOTP(userID string) error
	RecoveryCodes(userID string) (*RecoveryCodes, error)
	PutRecoveryCodes(rc *RecoveryCodes) error
	SignInFailures(userID string) (*SignInFailures, error)
	PutSignInFailures(f *SignInFailures) error
	// SignInState reads, in one go, what a passkey sign-in checks of an
	// account; ErrNotFound if there is no such user.
	SignInState(userID string) (*SignInState, error)

	// Sessions, refresh tokens and the blacklist (sessions.go, refresh.go,
	// revoked.go).
	PutSession(s *Session) error
	Session(id string) (*Session, error)
	SessionsByUser(userID string) ([]Session, error)
	PutRefreshToken(rt *RefreshToken) error
	RotateRefreshToken(old *RefreshToken, at time.Time, next *RefreshToken) error
	RefreshToken(hash string) (*RefreshToken, error)
	ScanRefreshTokens(fn func(rt *RefreshToken) error) error
	PutRevoked(key string, until time.Time) error
	Revoked(now time.Time) (map[string]time.Time, error)

	// Ceremonies kept in the store: authorization codes, PAR requests,
	// recovery links (ceremonies.go).
	PutCeremony(c *Ceremony) error
	Ceremony(id string, now time.Time) (*Ceremony, error)
	DeleteCeremony(id string) error

	// The audit chain (audit.go).
	AppendAudit(e *AuditEvent) error
	AuditEvents(limit int) ([]AuditEvent, error)
	ScanAudit(fn func(e *AuditEvent) error) error
	VerifyAudit() (AuditCheck, error)

	// Signing keys, OAuth clients and consents (signingkeys.go,
	// clients.go, consents.go).
	PutSigningKey(k *SigningKey) error
	SigningKeys() ([]SigningKey, error)
	DeleteSigningKey(id string) error
	PutClient(c *Client) error
	DeleteClient(id string) error
	Client(id string) (*Client, error)
	Clients() ([]Client, error)
	PutConsent(c *Consent) error
	Consent(userID, clientID string) (*Consent, error)
	Consents(userID string) ([]Consent, error)
	DeleteConsent(userID, clientID string) error

	// Credential status lists (statuslist.go).
	AllocateStatus(now time.Time, size int) (listID string, idx int, err error)
	SetStatus(listID string, idx int, status byte) error
	StatusList(listID string) (*StatusList, error)
}

var _ Store = (*DB)(nil)

// Backuper is a Store that writes consistent copies of itself: the bbolt
// file. A PostgreSQL store is backed up with the database's own tools
// (pg_dump), and the service answers a backup request with ErrNoBackup.
type Backuper interface {
	// BackupFile writes a copy to path, which must not exist.
	BackupFile(path string) error
	// BackupSized writes a copy to the writer start returns once the
	// copy's size is known.
	BackupSized(start func(size int64) io.Writer) error
}

// ErrUnavailable is wrapped by the errors of a store whose database cannot
// be reached (a PostgreSQL server restarting, a connection lost): nothing
// was read or written, and the same call may succeed shortly.
var ErrUnavailable = errors.New("store: the database cannot be reached")

// ErrNoBackup is returned for a backup of a store that is not a Backuper.
var ErrNoBackup = errors.New("store: this store is backed up with its database's own tools (for PostgreSQL, pg_dump); see the README")

var _ Backuper = (*DB)(nil)

// Shared is implemented by a Store that several nodes use at once
// (store/postgres). What a node keeps in memory to answer without the
// store (the blacklist mirror, the user cache, the keyring, the DPoP
// replay cache) is exact for one process only; the service uses Shared to
// keep it exact across nodes. A store that is not Shared has one process.
type Shared interface {
	// Watch calls fn, from one goroutine, with every change committed by
	// any node that a node's memory mirrors (see ChangeKind), within a
	// second of its commit. It first calls fn with ChangeResync, and again
	// whenever changes may have been missed (after a lost connection), so
	// that the caller reloads what it mirrors. It returns when ctx ends.
	Watch(ctx context.Context, fn func(Change)) error
	// SpendOnce records key as used until until, cluster-wide. It reports
	// false if key was already recorded and has not yet expired: of any
	// number of concurrent calls with one key, on any nodes, exactly one
	// is fresh. Keys are kept only until they expire.
	SpendOnce(ctx context.Context, key string, until time.Time) (fresh bool, err error)
	// Ping reports whether the database answers now.
	Ping(ctx context.Context) error
}

// ChangeKind says what a Change is about.
type ChangeKind uint8

const (
	// ChangeResync: changes may have been missed; reload everything.
	ChangeResync ChangeKind = iota
	// ChangeRevoked: a blacklist entry was put (PutRevoked); Key is its key.
	ChangeRevoked
	// ChangeUser: an account or its factors changed (PutUser, DeleteUser,
	// PutTOTP, DeleteTOTP); Key is the user id.
	ChangeUser
	// ChangeSigningKeys: the signing keys changed (PutSigningKey,
	// DeleteSigningKey).
	ChangeSigningKeys
	// ChangeClient: a client changed (PutClient, DeleteClient); Key is its id.
	ChangeClient
)

// Change is one committed change a Shared store reports to Watch.
type Change struct {
	Kind ChangeKind
	Key  string
	// Until is a blacklist entry's end (ChangeRevoked).
	Until time.Time
}
