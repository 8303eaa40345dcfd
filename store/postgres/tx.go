package postgres

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/latchid/latch/store"
)

// pgTx is the store.Tx of one database transaction, on a connection of
// its own. Its statements are pipelined: BEGIN, and the writes whose
// outcome fn does not wait for (later), are queued and go to the server
// in one round trip with the next statement, or with the COMMIT, so a
// sign-in's transaction costs a round trip per read, not per statement.
// A queued write that fails fails that later round trip, and with it the
// transaction.
type pgTx struct {
	ctx   context.Context
	conn  *pgxpool.Conn
	db    *DB
	write bool
	// queue holds the statements not yet sent, BEGIN first until it has
	// gone; began is set once it has.
	queue []queued
	began bool
	// failure is the first statement that failed: PostgreSQL aborts the
	// transaction then, whatever fn makes of the error.
	failure error
	// changes are sent with pg_notify just before the commit, so that
	// they fire when, and only if, the transaction commits.
	changes []string
	// audited is set by AppendAudit: Update chains the queued events
	// once the transaction has committed.
	audited bool
	// owners are the users of the credentials this transaction read, by
	// credential id (see PutCredential).
	owners map[string]string
}

// queued is a statement waiting for the next round trip.
type queued struct {
	sql  string
	args []any
}

var _ store.Tx = (*pgTx)(nil)

// recordVersion is the "v" of every record this code writes.
const recordVersion = 1

type header struct {
	V int `json:"v"`
}

func (h header) version() int { return h.V }

type versioned interface{ version() int }

func current() header { return header{V: recordVersion} }

// Records are CBOR (RFC 8949) maps of the record structs' fields, named by
// their JSON names, with their version in "v": JSON's data model, in a
// form that keeps every string exactly. A store's strings are bytes (an
// audit detail, a display name may hold any), and JSON would replace what
// is not UTF-8. CBOR writes a string's bytes as they are, and the decoder
// is told to take them so; times are RFC 3339 with nanoseconds.
var (
	recordEnc cbor.EncMode
	recordDec cbor.DecMode
)

func init() {
	var err error
	recordEnc, err = cbor.EncOptions{Time: cbor.TimeRFC3339Nano, Sort: cbor.SortCoreDeterministic}.EncMode()
	if err != nil {
		panic(err)
	}
	recordDec, err = cbor.DecOptions{
		UTF8:             cbor.UTF8DecodeInvalid,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  16,
		MaxArrayElements: 1 << 16,
		MaxMapPairs:      1 << 16,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

func encode(rec any) ([]byte, error) {
	b, err := recordEnc.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("store: encode record: %w", err)
	}
	return b, nil
}

// decode parses a record and refuses a version this code does not know
// rather than misreading it.
func decode(data []byte, rec versioned) error {
	if err := recordDec.Unmarshal(data, rec); err != nil {
		return fmt.Errorf("store: decode record: %w", err)
	}
	if v := rec.version(); v < 1 || v > recordVersion {
		return fmt.Errorf("store: record version %d not understood by this version of Latch", v)
	}
	return nil
}

// errReadOnly is the answer to a write in a View.
var errReadOnly = errors.New("store: write in a read-only transaction")

func (t *pgTx) writable() error {
	if !t.write {
		return errReadOnly
	}
	return t.failure
}

// fail records a failed statement of a round trip sent with ctx. A
// database that cannot serve it (see unavailable) is store.ErrUnavailable
// (and, in a write, ErrWriteFailed), unless ctx ended first: the caller
// went away, and the server's cancelled statement says nothing of the
// database. pgx.ErrNoRows is not a failure of the statement.
func (t *pgTx) fail(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if ctx.Err() == nil && unavailable(err) {
		down := errDownRead
		if t.write {
			down = errDown
		}
		err = fmt.Errorf("%w: %v", down, redact(err))
	}
	if t.failure == nil {
		t.failure = err
	}
	return err
}

// later queues a write for the next round trip: a write whose result
// (a command tag, a constraint it may break) fn does not look at.
func (t *pgTx) later(sql string, args ...any) error {
	if t.failure != nil {
		return t.failure
	}
	t.queue = append(t.queue, queued{sql: sql, args: args})
	return nil
}

// send runs sql after the queued statements, in one round trip when any
// are queued, and hands its results to read. The round trip ends with
// ctx, and waits at most as long as its statements may each run on the
// server (statement_timeout, lock_timeout) and a second: that bounds a
// connection that stopped answering, never a statement the server would
// finish.
func (t *pgTx) send(ctx context.Context, sql string, args []any, read func(br pgx.BatchResults) error) error {
	if t.failure != nil {
		return t.failure
	}
	rctx, cancel := context.WithTimeout(ctx, time.Duration(len(t.queue)+1)*t.db.timeout+time.Second)
	defer cancel()
	b := &pgx.Batch{}
	for _, q := range t.queue {
		b.Queue(q.sql, q.args...)
	}
	b.Queue(sql, args...)
	ahead := len(t.queue)
	t.queue, t.began = nil, true
	br := t.conn.SendBatch(rctx, b)
	err := func() error {
		for range ahead {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		return read(br)
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return t.fail(ctx, err)
}

func (t *pgTx) exec(sql string, args ...any) (tag pgconn.CommandTag, err error) {
	err = t.send(t.ctx, sql, args, func(br pgx.BatchResults) error {
		tag, err = br.Exec()
		return err
	})
	return tag, err
}

// row runs a query of one row into dest; no row is store.ErrNotFound.
func (t *pgTx) row(sql string, args []any, dest ...any) error {
	err := t.send(t.ctx, sql, args, func(br pgx.BatchResults) error { return br.QueryRow().Scan(dest...) })
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// rows runs a query and calls fn with each row's scanned values, after
// the query has been read to its end.
func (t *pgTx) rows(sql string, args []any, scan func(r pgx.Rows) error) error {
	var scanErr error
	err := t.send(t.ctx, sql, args, func(br pgx.BatchResults) error {
		r, err := br.Query()
		if err != nil {
			return err
		}
		defer r.Close()
		for r.Next() {
			if scanErr = scan(r); scanErr != nil {
				return nil
			}
		}
		return r.Err()
	})
	if err == nil {
		err = scanErr
	}
	return err
}

// end commits the transaction (the queued writes, the changes' notices
// and the COMMIT in one round trip), or with commit false rolls it back.
// A transaction whose BEGIN never went had nothing to end.
func (t *pgTx) end(commit bool) error {
	if commit && t.failure == nil {
		if len(t.changes) > 0 {
			if err := t.later("SELECT pg_notify($1, c) FROM unnest($2::text[]) AS c", changeChannel, t.changes); err != nil {
				return err
			}
		}
		if !t.began && len(t.queue) == 1 {
			return nil // BEGIN alone: fn neither read nor wrote
		}
		// Once fn has returned, the commit is not the caller's to cancel
		// (as with bbolt, Update waits for it): a cancel between the
		// pipelined statements could not stop a COMMIT on its way, and
		// would leave the outcome unknown.
		failedAt := false // the COMMIT itself failed
		err := t.send(context.WithoutCancel(t.ctx), "COMMIT", nil, func(br pgx.BatchResults) error {
			_, err := br.Exec()
			failedAt = err != nil
			return err
		})
		if err == nil {
			return nil
		}
		// A failure within the round trip left the transaction open and
		// aborted; one of the connection left it, as far as this node
		// can tell, in doubt.
		t.rollback()
		if failedAt && !retryable(err) && !errors.Is(err, store.ErrWriteFailed) {
			// The server refused the commit (a full disk, say).
			err = fmt.Errorf("%w: commit: %v", errWriteFailed, err)
		}
		return err
	}
	t.rollback()
	return nil
}

// rollback ends a transaction that was begun, on a connection that,
// if the ROLLBACK itself fails, the pool must not hand out again.
func (t *pgTx) rollback() {
	if !t.began || t.conn.Conn().PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.db.timeout)
	defer cancel()
	if _, err := t.conn.Exec(ctx, "ROLLBACK"); err != nil {
		_ = t.conn.Conn().Close(ctx)
	}
}

// get reads the rec column of one row into rec.
func (t *pgTx) get(sql string, rec versioned, args ...any) error {
	var b []byte
	if err := t.row(sql, args, &b); err != nil {
		return err
	}
	return decode(b, rec)
}

// notify queues a change for the nodes watching.
func (t *pgTx) notify(kind store.ChangeKind, key string) {
	t.notifyChange(store.Change{Kind: kind, Key: key})
}

func (t *pgTx) notifyChange(c store.Change) {
	t.changes = append(t.changes, encodeChange(c))
}

// nanos is t as Unix nanoseconds, clamped to what int64 holds; nullNanos
// is nil for the zero time.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	default:
		return t.UnixNano()
	}
}

func nullNanos(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := nanos(t)
	return &n
}

// Users.

type userRec struct {
	header
	store.User
}

func (t *pgTx) User(id string) (*store.User, error) {
	var rec userRec
	if err := t.get("SELECT rec FROM users WHERE id = $1", &rec, []byte(id)); err != nil {
		return nil, err
	}
	return &rec.User, nil
}

func (t *pgTx) UserByUsername(username string) (*store.User, error) {
	var rec userRec
	if err := t.get("SELECT rec FROM users WHERE username = $1", &rec, []byte(username)); err != nil {
		return nil, err
	}
	return &rec.User, nil
}

// UserByHandle finds the user by the handle column, which holds every
// user's handle, an own-id one too.
func (t *pgTx) UserByHandle(handle []byte) (*store.User, error) {
	var rec userRec
	if err := t.get("SELECT rec FROM users WHERE handle = $1", &rec, handle); err != nil {
		return nil, err
	}
	return &rec.User, nil
}

// PutUser inserts or updates u. As in the bbolt store, a handle equal to
// another user's id is taken too (UserByHandle there reads the account of
// that id first).
func (t *pgTx) PutUser(u *store.User) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := store.CheckKey("user id", len(u.ID)); err != nil {
		return err
	}
	if err := store.CheckKey("username", len(u.Username)); err != nil {
		return err
	}
	if err := store.CheckKey("user handle", len(u.Handle)); err != nil {
		return err
	}
	own := string(u.Handle) == u.ID
	var usernameTaken, handleTaken bool
	err := t.rows("SELECT id, username, handle FROM users WHERE (username = $1 OR handle = $2 OR id = $2) AND id <> $3",
		[]any{[]byte(u.Username), u.Handle, []byte(u.ID)}, func(r pgx.Rows) error {
			var id, username, handle []byte
			if err := r.Scan(&id, &username, &handle); err != nil {
				return err
			}
			usernameTaken = usernameTaken || string(username) == u.Username
			handleTaken = handleTaken || bytes.Equal(handle, u.Handle) || (!own && bytes.Equal(id, u.Handle))
			return nil
		})
	switch {
	case err != nil:
		return err
	case usernameTaken:
		return store.ErrUsernameTaken
	case handleTaken:
		return store.ErrHandleTaken
	}
	rec := userRec{header: current(), User: *u}
	rec.CreatedAt = store.UTC(rec.CreatedAt)
	b, err := encode(&rec)
	if err != nil {
		return err
	}
	if _, err := t.exec(`INSERT INTO users (id, username, handle, rec) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET username = excluded.username, handle = excluded.handle, rec = excluded.rec`,
		[]byte(u.ID), []byte(u.Username), u.Handle, b); err != nil {
		return err
	}
	t.notify(store.ChangeUser, u.ID)
	return nil
}

// Users returns every user ordered by username.
func (t *pgTx) Users() ([]store.User, error) {
	var users []store.User
	err := t.rows("SELECT rec FROM users ORDER BY username", nil, func(r pgx.Rows) error {
		var b []byte
		if err := r.Scan(&b); err != nil {
			return err
		}
		var rec userRec
		if err := decode(b, &rec); err != nil {
			return err
		}
		users = append(users, rec.User)
		return nil
	})
	return users, err
}

// DeleteUser removes the account: the user, and with it (ON DELETE
// CASCADE) its passkeys, TOTP factor, recovery codes and throttling
// state, and in the same statement its sessions and consents. Blacklist
// entries, refresh tokens and the audit log stay, as in the bbolt store.
func (t *pgTx) DeleteUser(id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	var n int
	err := t.row(`WITH u AS (DELETE FROM users WHERE id = $1 RETURNING id),
		s AS (DELETE FROM sessions WHERE user_id IN (SELECT id FROM u)),
		c AS (DELETE FROM consents WHERE user_id IN (SELECT id FROM u))
		SELECT count(*) FROM u`, []any{[]byte(id)}, &n)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	t.notify(store.ChangeUser, id)
	return nil
}

// Passkeys.

type credentialRec struct {
	header
	store.Credential
}

func (t *pgTx) Credential(id []byte) (*store.Credential, error) {
	var rec credentialRec
	if err := t.get("SELECT rec FROM credentials WHERE id = $1", &rec, id); err != nil {
		return nil, err
	}
	if t.write {
		if t.owners == nil {
			t.owners = make(map[string]string, 1)
		}
		t.owners[string(id)] = rec.UserID
	}
	return &rec.Credential, nil
}

// CredentialsByUser returns the user's credentials, oldest first.
func (t *pgTx) CredentialsByUser(userID string) ([]store.Credential, error) {
	var creds []store.Credential
	err := t.rows("SELECT rec FROM credentials WHERE user_id = $1", []any{[]byte(userID)}, func(r pgx.Rows) error {
		var b []byte
		if err := r.Scan(&b); err != nil {
			return err
		}
		return appendCredential(&creds, b)
	})
	sortCredentials(creds)
	return creds, err
}

// AccountByHandle reads the user and its passkeys in one statement.
func (t *pgTx) AccountByHandle(handle []byte) (*store.User, []store.Credential, error) {
	var user []byte
	var creds []store.Credential
	err := t.rows(`SELECT u.rec, c.rec FROM users u LEFT JOIN credentials c ON c.user_id = u.id
		WHERE u.handle = $1`, []any{handle}, func(r pgx.Rows) error {
		var cred []byte
		if err := r.Scan(&user, &cred); err != nil {
			return err
		}
		if cred == nil {
			return nil // a user without passkeys: its one row
		}
		return appendCredential(&creds, cred)
	})
	if err != nil {
		return nil, nil, err
	}
	if user == nil {
		return nil, nil, store.ErrNotFound
	}
	var rec userRec
	if err := decode(user, &rec); err != nil {
		return nil, nil, err
	}
	sortCredentials(creds)
	return &rec.User, creds, nil
}

// appendCredential decodes a credential row onto creds.
func appendCredential(creds *[]store.Credential, b []byte) error {
	var rec credentialRec
	if err := decode(b, &rec); err != nil {
		return err
	}
	*creds = append(*creds, rec.Credential)
	return nil
}

// sortCredentials puts a user's passkeys in the bbolt store's order:
// oldest first, then by id.
func sortCredentials(creds []store.Credential) {
	slices.SortStableFunc(creds, func(a, b store.Credential) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), bytes.Compare(a.ID, b.ID))
	})
}

// PutCredential inserts or updates c in one statement: the insert needs
// the account, the update the same owner. Only when it wrote nothing does
// a second read tell ErrCredentialExists from ErrNotFound.
func (t *pgTx) PutCredential(c *store.Credential) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := store.CheckKey("credential id", len(c.ID)); err != nil {
		return err
	}
	if err := store.CheckKey("user id", len(c.UserID)); err != nil {
		return err
	}
	rec := credentialRec{header: current(), Credential: *c}
	rec.CreatedAt, rec.LastUsedAt = store.UTC(rec.CreatedAt), store.UTC(rec.LastUsedAt)
	b, err := encode(&rec)
	if err != nil {
		return err
	}
	const upsert = `INSERT INTO credentials (id, user_id, rec)
		SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM users WHERE id = $2)
		ON CONFLICT (id) DO UPDATE SET rec = excluded.rec WHERE credentials.user_id = excluded.user_id`
	if owner, ok := t.owners[string(c.ID)]; ok && owner == c.UserID {
		// An update of a credential this transaction read, for its owner
		// (a sign-in's counter): in this snapshot the credential and its
		// account exist, so the upsert writes its row, and a concurrent
		// change of either fails the transaction. Nothing needs its
		// answer; it goes with the next round trip.
		return t.later(upsert, c.ID, []byte(c.UserID), b)
	}
	tag, err := t.exec(upsert, c.ID, []byte(c.UserID), b)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var owner []byte
	switch err := t.row("SELECT user_id FROM credentials WHERE id = $1", []any{c.ID}, &owner); {
	case err == nil:
		return store.ErrCredentialExists
	case errors.Is(err, store.ErrNotFound):
		return store.ErrNotFound // the account is gone
	default:
		return err
	}
}

func (t *pgTx) DeleteCredential(id []byte) error {
	if err := t.writable(); err != nil {
		return err
	}
	return t.deleteOne("DELETE FROM credentials WHERE id = $1", id)
}

// deleteOne runs a delete, ErrNotFound if it deleted nothing.
func (t *pgTx) deleteOne(sql string, args ...any) error {
	tag, err := t.exec(sql, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// putOwned writes a record that needs its account, ErrNotFound without.
func (t *pgTx) putOwned(table, userID string, rec any) error {
	b, err := encode(rec)
	if err != nil {
		return err
	}
	tag, err := t.exec(`INSERT INTO `+table+` (user_id, rec)
		SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM users WHERE id = $1)
		ON CONFLICT (user_id) DO UPDATE SET rec = excluded.rec`, []byte(userID), b)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// TOTP, recovery codes and throttling.

type totpRec struct {
	header
	store.TOTP
	SealedSecret []byte `json:"secret_sealed"`
}

const totpKind = "totp"

func (t *pgTx) TOTP(userID string) (*store.TOTP, error) {
	var rec totpRec
	if err := t.get("SELECT rec FROM totp WHERE user_id = $1", &rec, []byte(userID)); err != nil {
		return nil, err
	}
	plain, err := t.db.sealer.Open(rec.SealedSecret, store.SealAAD(totpKind, userID))
	if err != nil {
		return nil, fmt.Errorf("store: TOTP secret of user %q: %w", userID, err)
	}
	rec.Secret = plain
	return &rec.TOTP, nil
}

func (t *pgTx) TOTPStatus(userID string) (*store.TOTP, error) {
	var rec totpRec
	if err := t.get("SELECT rec FROM totp WHERE user_id = $1", &rec, []byte(userID)); err != nil {
		return nil, err
	}
	rec.Secret = nil
	return &rec.TOTP, nil
}

func (t *pgTx) PutTOTP(f *store.TOTP) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := store.CheckKey("user id", len(f.UserID)); err != nil {
		return err
	}
	if len(f.Secret) == 0 {
		return fmt.Errorf("store: TOTP of user %q has no secret", f.UserID)
	}
	sealed, err := t.db.sealer.Seal(f.Secret, store.SealAAD(totpKind, f.UserID))
	if err != nil {
		return err
	}
	rec := totpRec{header: current(), TOTP: *f, SealedSecret: sealed}
	rec.CreatedAt, rec.LockedUntil = store.UTC(rec.CreatedAt), store.UTC(rec.LockedUntil)
	if err := t.putOwned("totp", f.UserID, &rec); err != nil {
		return err
	}
	t.notify(store.ChangeUser, f.UserID)
	return nil
}

func (t *pgTx) DeleteTOTP(userID string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := t.deleteOne("DELETE FROM totp WHERE user_id = $1", []byte(userID)); err != nil {
		return err
	}
	t.notify(store.ChangeUser, userID)
	return nil
}

type recoveryRec struct {
	header
	store.RecoveryCodes
}

func (t *pgTx) RecoveryCodes(userID string) (*store.RecoveryCodes, error) {
	var rec recoveryRec
	if err := t.get("SELECT rec FROM recovery_codes WHERE user_id = $1", &rec, []byte(userID)); err != nil {
		return nil, err
	}
	return &rec.RecoveryCodes, nil
}

func (t *pgTx) PutRecoveryCodes(rc *store.RecoveryCodes) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := store.CheckKey("user id", len(rc.UserID)); err != nil {
		return err
	}
	rec := recoveryRec{header: current(), RecoveryCodes: *rc}
	rec.CreatedAt = store.UTC(rec.CreatedAt)
	return t.putOwned("recovery_codes", rc.UserID, &rec)
}

type failuresRec struct {
	header
	store.SignInFailures
}

// SignInFailures returns the account's throttling state, a zero one if it
// has none.
func (t *pgTx) SignInFailures(userID string) (*store.SignInFailures, error) {
	var rec failuresRec
	err := t.get("SELECT rec FROM signin_failures WHERE user_id = $1", &rec, []byte(userID))
	if errors.Is(err, store.ErrNotFound) {
		return &store.SignInFailures{UserID: userID}, nil
	}
	if err != nil {
		return nil, err
	}
	return &rec.SignInFailures, nil
}

// SignInState reads the user, its TOTP factor's status and its throttling
// state in one statement.
func (t *pgTx) SignInState(userID string) (*store.SignInState, error) {
	var u, totp, failures []byte
	err := t.row(`SELECT u.rec, t.rec, f.rec FROM users u
		LEFT JOIN totp t ON t.user_id = u.id LEFT JOIN signin_failures f ON f.user_id = u.id
		WHERE u.id = $1`, []any{[]byte(userID)}, &u, &totp, &failures)
	if err != nil {
		return nil, err
	}
	var ur userRec
	if err := decode(u, &ur); err != nil {
		return nil, err
	}
	st := &store.SignInState{User: ur.User, Failures: store.SignInFailures{UserID: userID}}
	if totp != nil {
		var tr totpRec
		if err := decode(totp, &tr); err != nil {
			return nil, err
		}
		tr.Secret = nil
		st.TOTP = &tr.TOTP
	}
	if failures != nil {
		var fr failuresRec
		if err := decode(failures, &fr); err != nil {
			return nil, err
		}
		st.Failures = fr.SignInFailures
	}
	return st, nil
}

// PutSignInFailures stores the state; a zero one removes it.
func (t *pgTx) PutSignInFailures(f *store.SignInFailures) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := store.CheckKey("user id", len(f.UserID)); err != nil {
		return err
	}
	if f.Failures == 0 && f.Lockouts == 0 && f.LockedUntil.IsZero() {
		var exists bool
		err := t.row(`WITH d AS (DELETE FROM signin_failures WHERE user_id = $1)
			SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, []any{[]byte(f.UserID)}, &exists)
		if err == nil && !exists {
			err = store.ErrNotFound
		}
		return err
	}
	rec := failuresRec{header: current(), SignInFailures: *f}
	rec.LockedUntil = store.UTC(rec.LockedUntil)
	return t.putOwned("signin_failures", f.UserID, &rec)
}

// Sessions.

type sessionRec struct {
	header
	store.Session
}

// PutSession inserts or updates s; an update cannot move it to another
// user.
func (t *pgTx) PutSession(s *store.Session) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := store.CheckKey("session id", len(s.ID)); err != nil {
		return err
	}
	if s.ID[0] == 0 {
		return fmt.Errorf("store: session id %q starts with a zero byte", s.ID)
	}
	if err := store.CheckKey("user id", len(s.UserID)); err != nil {
		return err
	}
	rec := sessionRec{header: current(), Session: *s}
	rec.CreatedAt, rec.AuthTime, rec.ExpiresAt = store.UTC(rec.CreatedAt), store.UTC(rec.AuthTime), store.UTC(rec.ExpiresAt)
	rec.RevokedAt, rec.LastActiveAt = store.UTC(rec.RevokedAt), store.UTC(rec.LastActiveAt)
	b, err := encode(&rec)
	if err != nil {
		return err
	}
	// The trigger sessions_keep_user refuses a change of user (see
	// migration 2), so that the write needs no answer and can wait for
	// the next round trip.
	return t.later(`INSERT INTO sessions (id, user_id, expires_ns, rec) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, expires_ns = excluded.expires_ns, rec = excluded.rec`,
		[]byte(s.ID), []byte(s.UserID), nullNanos(rec.ExpiresAt), b)
}

func (t *pgTx) Session(id string) (*store.Session, error) {
	var rec sessionRec
	if err := t.get("SELECT rec FROM sessions WHERE id = $1", &rec, []byte(id)); err != nil {
		return nil, err
	}
	return &rec.Session, nil
}

// SessionsByUser returns the user's sessions, oldest first.
func (t *pgTx) SessionsByUser(userID string) ([]store.Session, error) {
	var sessions []store.Session
	err := t.rows("SELECT rec FROM sessions WHERE user_id = $1", []any{[]byte(userID)}, func(r pgx.Rows) error {
		var b []byte
		if err := r.Scan(&b); err != nil {
			return err
		}
		var rec sessionRec
		if err := decode(b, &rec); err != nil {
			return err
		}
		sessions = append(sessions, rec.Session)
		return nil
	})
	slices.SortStableFunc(sessions, func(a, b store.Session) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return sessions, err
}

// Refresh tokens.

type refreshRec struct {
	header
	store.RefreshToken
}

// refreshSweepGrain and refreshSweepAt file a token for the sweep at the
// end of its expiry's hour, as the bbolt store does, so that both sweep
// the same tokens at the same time. An expired token is refused by its
// ExpiresAt whether or not it was swept.
const refreshSweepGrain = time.Hour

func refreshSweepAt(expires time.Time) time.Time {
	if expires.IsZero() {
		return expires
	}
	at := expires.Truncate(refreshSweepGrain)
	if at.Before(expires) {
		at = at.Add(refreshSweepGrain)
	}
	return at
}

func (t *pgTx) PutRefreshToken(rt *store.RefreshToken) error {
	if err := t.writable(); err != nil {
		return err
	}
	return t.writeRefreshToken(rt)
}

func (t *pgTx) writeRefreshToken(rt *store.RefreshToken) error {
	if err := store.CheckKey("refresh token hash", len(rt.Hash)); err != nil {
		return err
	}
	if err := store.CheckKey("session id", len(rt.SessionID)); err != nil {
		return err
	}
	rec := refreshRec{header: current(), RefreshToken: *rt}
	rec.IssuedAt, rec.ExpiresAt, rec.RotatedAt = store.UTC(rec.IssuedAt), store.UTC(rec.ExpiresAt), store.UTC(rec.RotatedAt)
	b, err := encode(&rec)
	if err != nil {
		return err
	}
	return t.later(`INSERT INTO refresh_tokens (hash, sweep_ns, rec) VALUES ($1, $2, $3)
		ON CONFLICT (hash) DO UPDATE SET sweep_ns = excluded.sweep_ns, rec = excluded.rec`,
		[]byte(rt.Hash), nullNanos(refreshSweepAt(rec.ExpiresAt)), b)
}

// RotateRefreshToken keeps the bbolt store's rules: old is marked rotated
// at at, next is stored with old as its Previous, and the token old had
// replaced (if it is its session's, and rotated) goes. Two nodes rotating
// one token both read it in a SERIALIZABLE transaction before writing it:
// PostgreSQL lets one commit and fails the other, whose run again reads the
// token rotated and so detects the reuse.
func (t *pgTx) RotateRefreshToken(old *store.RefreshToken, at time.Time, next *store.RefreshToken) error {
	if err := t.writable(); err != nil {
		return err
	}
	if old.Previous != "" {
		prev, err := t.RefreshToken(old.Previous)
		switch {
		case err == nil && prev.SessionID == old.SessionID && !prev.RotatedAt.IsZero():
			if err := t.later("DELETE FROM refresh_tokens WHERE hash = $1", []byte(old.Previous)); err != nil {
				return err
			}
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	rotated := *old
	rotated.RotatedAt, rotated.Previous = at, ""
	if err := t.writeRefreshToken(&rotated); err != nil {
		return err
	}
	if next == nil {
		return nil
	}
	n := *next
	n.Previous = old.Hash
	return t.writeRefreshToken(&n)
}

func (t *pgTx) RefreshToken(hash string) (*store.RefreshToken, error) {
	var rec refreshRec
	if err := t.get("SELECT rec FROM refresh_tokens WHERE hash = $1", &rec, []byte(hash)); err != nil {
		return nil, err
	}
	return &rec.RefreshToken, nil
}

// scanPage bounds the rows a scan holds at once.
const scanPage = 1000

// ScanRefreshTokens calls fn with every refresh token, in key order, a page
// at a time (fn may use the transaction between pages).
func (t *pgTx) ScanRefreshTokens(fn func(rt *store.RefreshToken) error) error {
	after := []byte{}
	for {
		var page []store.RefreshToken
		err := t.rows("SELECT hash, rec FROM refresh_tokens WHERE hash > $1 ORDER BY hash LIMIT $2", []any{after, scanPage}, func(r pgx.Rows) error {
			var b []byte
			if err := r.Scan(&after, &b); err != nil {
				return err
			}
			var rec refreshRec
			if err := decode(b, &rec); err != nil {
				return fmt.Errorf("store: refresh token: %w", err)
			}
			page = append(page, rec.RefreshToken)
			return nil
		})
		if err != nil {
			return err
		}
		for i := range page {
			if err := fn(&page[i]); err != nil {
				return err
			}
		}
		if len(page) < scanPage {
			return nil
		}
	}
}

// The blacklist.

type revokedRec struct {
	header
	Until time.Time `json:"until"`
}

// PutRevoked blacklists key until until; a later time wins, an earlier one
// changes nothing.
func (t *pgTx) PutRevoked(key string, until time.Time) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := store.CheckKey("revocation key", len(key)); err != nil {
		return err
	}
	if until.IsZero() {
		return errors.New("store: revocation has no end time")
	}
	rec := revokedRec{header: current(), Until: store.UTC(until)}
	b, err := encode(&rec)
	if err != nil {
		return err
	}
	tag, err := t.exec(`INSERT INTO revoked (key, until_ns, rec) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET until_ns = excluded.until_ns, rec = excluded.rec
		WHERE revoked.until_ns < excluded.until_ns`, []byte(key), nanos(rec.Until), b)
	if err != nil {
		return err
	}
	if tag.RowsAffected() > 0 {
		t.notifyChange(store.Change{Kind: store.ChangeRevoked, Key: key, Until: rec.Until})
	}
	return nil
}

// Revoked returns every entry in force at now.
func (t *pgTx) Revoked(now time.Time) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := t.rows("SELECT key, rec FROM revoked WHERE until_ns > $1", []any{nanos(now)}, func(r pgx.Rows) error {
		var k, b []byte
		if err := r.Scan(&k, &b); err != nil {
			return err
		}
		var rec revokedRec
		if err := decode(b, &rec); err != nil {
			return err
		}
		if rec.Until.After(now) {
			out[string(k)] = rec.Until
		}
		return nil
	})
	return out, err
}

// Ceremonies kept in the store.

type ceremonyRec struct {
	header
	store.Ceremony
}

func (t *pgTx) PutCeremony(c *store.Ceremony) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := store.CheckKey("ceremony id", len(c.ID)); err != nil {
		return err
	}
	if c.ExpiresAt.IsZero() {
		return errors.New("store: ceremony has no expiry")
	}
	rec := ceremonyRec{header: current(), Ceremony: *c}
	rec.AuthTime, rec.ExpiresAt = store.UTC(rec.AuthTime), store.UTC(rec.ExpiresAt)
	b, err := encode(&rec)
	if err != nil {
		return err
	}
	return t.later(`INSERT INTO ceremonies (id, expires_ns, rec) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET expires_ns = excluded.expires_ns, rec = excluded.rec`,
		[]byte(c.ID), nanos(rec.ExpiresAt), b)
}

// Ceremony returns the ceremony, ErrNotFound if missing or expired at now.
func (t *pgTx) Ceremony(id string, now time.Time) (*store.Ceremony, error) {
	var rec ceremonyRec
	if err := t.get("SELECT rec FROM ceremonies WHERE id = $1", &rec, []byte(id)); err != nil {
		return nil, err
	}
	if !now.Before(rec.ExpiresAt) {
		return nil, store.ErrNotFound
	}
	return &rec.Ceremony, nil
}

// DeleteCeremony removes the ceremony; a missing one is not an error.
func (t *pgTx) DeleteCeremony(id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	return t.later("DELETE FROM ceremonies WHERE id = $1", []byte(id))
}

// Signing keys.

type signingKeyRec struct {
	header
	store.SigningKey
	SealedPrivate []byte `json:"private_sealed"`
}

const signingKeyKind = "signing_keys"

func (t *pgTx) PutSigningKey(k *store.SigningKey) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := store.CheckKey("signing key id", len(k.ID)); err != nil {
		return err
	}
	if len(k.Private) == 0 {
		return fmt.Errorf("store: signing key %q has no private key", k.ID)
	}
	sealed, err := t.db.sealer.Seal(k.Private, store.SealAAD(signingKeyKind, k.ID))
	if err != nil {
		return err
	}
	rec := signingKeyRec{header: current(), SigningKey: *k, SealedPrivate: sealed}
	rec.CreatedAt, rec.RetiredAt, rec.PublishUntil = store.UTC(rec.CreatedAt), store.UTC(rec.RetiredAt), store.UTC(rec.PublishUntil)
	b, err := encode(&rec)
	if err != nil {
		return err
	}
	if _, err := t.exec(`INSERT INTO signing_keys (id, rec) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET rec = excluded.rec`, []byte(k.ID), b); err != nil {
		return err
	}
	t.notify(store.ChangeSigningKeys, "")
	return nil
}

// SigningKeys returns every key unsealed, oldest first. The AAD is taken
// from the row's id, so a record moved under another id fails to open.
func (t *pgTx) SigningKeys() ([]store.SigningKey, error) {
	var keys []store.SigningKey
	err := t.rows("SELECT id, rec FROM signing_keys ORDER BY id", nil, func(r pgx.Rows) error {
		var id, b []byte
		if err := r.Scan(&id, &b); err != nil {
			return err
		}
		var rec signingKeyRec
		if err := decode(b, &rec); err != nil {
			return err
		}
		plain, err := t.db.sealer.Open(rec.SealedPrivate, store.SealAAD(signingKeyKind, string(id)))
		if err != nil {
			return fmt.Errorf("store: signing key %q: %w", id, err)
		}
		rec.Private = plain
		keys = append(keys, rec.SigningKey)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(keys, func(a, b store.SigningKey) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return keys, nil
}

func (t *pgTx) DeleteSigningKey(id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := t.deleteOne("DELETE FROM signing_keys WHERE id = $1", []byte(id)); err != nil {
		return err
	}
	t.notify(store.ChangeSigningKeys, "")
	return nil
}

// Clients and consents.

type clientRec struct {
	header
	store.Client
}

func (t *pgTx) PutClient(c *store.Client) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := store.CheckKey("client id", len(c.ID)); err != nil {
		return err
	}
	rec := clientRec{header: current(), Client: *c}
	rec.CreatedAt, rec.RotatedAt = store.UTC(rec.CreatedAt), store.UTC(rec.RotatedAt)
	b, err := encode(&rec)
	if err != nil {
		return err
	}
	if _, err := t.exec(`INSERT INTO clients (id, rec) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET rec = excluded.rec`, []byte(c.ID), b); err != nil {
		return err
	}
	t.notify(store.ChangeClient, c.ID)
	return nil
}

func (t *pgTx) DeleteClient(id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := t.deleteOne("DELETE FROM clients WHERE id = $1", []byte(id)); err != nil {
		return err
	}
	t.notify(store.ChangeClient, id)
	return nil
}

func (t *pgTx) Client(id string) (*store.Client, error) {
	var rec clientRec
	if err := t.get("SELECT rec FROM clients WHERE id = $1", &rec, []byte(id)); err != nil {
		return nil, err
	}
	return &rec.Client, nil
}

// Clients returns every client ordered by id.
func (t *pgTx) Clients() ([]store.Client, error) {
	var clients []store.Client
	err := t.rows("SELECT rec FROM clients ORDER BY id", nil, func(r pgx.Rows) error {
		var b []byte
		if err := r.Scan(&b); err != nil {
			return err
		}
		var rec clientRec
		if err := decode(b, &rec); err != nil {
			return err
		}
		clients = append(clients, rec.Client)
		return nil
	})
	return clients, err
}

type consentRec struct {
	header
	store.Consent
}

func (t *pgTx) PutConsent(c *store.Consent) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := store.CheckKey("user id", len(c.UserID)); err != nil {
		return err
	}
	if err := store.CheckKey("client id", len(c.ClientID)); err != nil {
		return err
	}
	rec := consentRec{header: current(), Consent: *c}
	rec.GrantedAt = store.UTC(rec.GrantedAt)
	b, err := encode(&rec)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO consents (user_id, client_id, rec) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, client_id) DO UPDATE SET rec = excluded.rec`, []byte(c.UserID), []byte(c.ClientID), b)
	return err
}

func validPair(userID, clientID string) bool {
	return len(userID) > 0 && len(userID) <= store.MaxKeyLen && len(clientID) > 0 && len(clientID) <= store.MaxKeyLen
}

func (t *pgTx) Consent(userID, clientID string) (*store.Consent, error) {
	if !validPair(userID, clientID) {
		return nil, store.ErrNotFound
	}
	var rec consentRec
	if err := t.get("SELECT rec FROM consents WHERE user_id = $1 AND client_id = $2", &rec, []byte(userID), []byte(clientID)); err != nil {
		return nil, err
	}
	rec.UserID, rec.ClientID = userID, clientID
	return &rec.Consent, nil
}

// Consents returns the user's consents ordered by client id.
func (t *pgTx) Consents(userID string) ([]store.Consent, error) {
	var out []store.Consent
	err := t.rows("SELECT client_id, rec FROM consents WHERE user_id = $1 ORDER BY client_id", []any{[]byte(userID)}, func(r pgx.Rows) error {
		var id, b []byte
		if err := r.Scan(&id, &b); err != nil {
			return err
		}
		var rec consentRec
		if err := decode(b, &rec); err != nil {
			return err
		}
		rec.UserID, rec.ClientID = userID, string(id)
		out = append(out, rec.Consent)
		return nil
	})
	return out, err
}

func (t *pgTx) DeleteConsent(userID, clientID string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if !validPair(userID, clientID) {
		return nil
	}
	_, err := t.exec("DELETE FROM consents WHERE user_id = $1 AND client_id = $2", []byte(userID), []byte(clientID))
	return err
}
