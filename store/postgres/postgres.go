package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/latchid/latch/store"
)

// Options configures Open. Zero values take the documented defaults.
type Options struct {
	// URL is the database, postgres://user:password@host:port/db?... (any
	// form pgx accepts).
	URL string
	// KEK is the 32-byte key-encryption key, the same on every node.
	KEK []byte
	// MaxConns bounds the node's connections; default 16.
	MaxConns int32
	// StatementTimeout bounds every statement (statement_timeout, set on
	// each connection) and every wait for a connection; default 5s.
	StatementTimeout time.Duration
	// Logger receives operational messages; default slog.Default().
	Logger *slog.Logger
}

const (
	defaultMaxConns         = 16
	defaultStatementTimeout = 5 * time.Second
	// An Update runs its function optimistically up to optimisticAttempts
	// times; after that it takes turns with the other contended Updates
	// (see Update), up to maxAttempts runs in all.
	optimisticAttempts = 3
	maxAttempts        = 40
	// contendedLock is the advisory lock key of contended Updates
	// ("update" in ASCII).
	contendedLock int64 = 0x757064617465
)

// DB is a store in a PostgreSQL database, which several nodes may use at
// once. It is safe for concurrent use.
type DB struct {
	pool *pgxpool.Pool
	// spendPool serves SpendOnce alone: the service spends DPoP proofs
	// from inside Update functions, which hold a connection of pool, and
	// with every connection of pool so held a spend from pool would wait
	// for itself.
	spendPool   *pgxpool.Pool
	cfg         *pgxpool.Config
	sealer      *store.Sealer
	auditMACKey []byte
	logger      *slog.Logger
	timeout     time.Duration

	closed    atomic.Bool
	closeOnce sync.Once
	// stopped ends when Close is called, and with it every Watch.
	stopped context.Context
	stop    context.CancelFunc
	// inflight counts calls in progress, which Close waits for.
	inflight sync.WaitGroup
	mu       sync.RWMutex

	commits, writes, retries atomic.Uint64
	chain                    chainGroup
	// turn admits one contended Update of the node at a time (takeTurn).
	turn chan struct{}
	// puts counts PutPending calls, evicted the ceremonies trimmed.
	puts, evicted atomic.Uint64
	health        health
}

var (
	_ store.Store  = (*DB)(nil)
	_ store.Shared = (*DB)(nil)
)

// Open connects to the database, creating or migrating its schema, and
// checks that o.KEK is the key the database was written with (an error
// wrapping store.ErrWrongKey if not). It retries a database that does not
// answer until ctx ends.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.URL == "" {
		return nil, errors.New("postgres: open: no database URL")
	}
	if o.MaxConns <= 0 {
		o.MaxConns = defaultMaxConns
	}
	if o.StatementTimeout <= 0 {
		o.StatementTimeout = defaultStatementTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	sealer, err := store.NewSealer(o.KEK)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		// pgx's message may quote the URL, password and all.
		return nil, errors.New("postgres: open: the database URL cannot be parsed")
	}
	cfg.MaxConns = o.MaxConns
	cfg.ConnConfig.ConnectTimeout = o.StatementTimeout
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(o.StatementTimeout.Milliseconds(), 10)
	cfg.ConnConfig.RuntimeParams["lock_timeout"] = strconv.FormatInt(o.StatementTimeout.Milliseconds(), 10)
	cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt((4 * o.StatementTimeout).Milliseconds(), 10)
	cfg.ConnConfig.RuntimeParams["application_name"] = "latch"
	// A connection that went bad while the server was away is found out
	// before use rather than by a request.
	cfg.HealthCheckPeriod = 5 * time.Second
	db := &DB{
		cfg: cfg, sealer: sealer, auditMACKey: store.AuditChainKey(o.KEK),
		logger: o.Logger, timeout: o.StatementTimeout,
	}
	db.stopped, db.stop = context.WithCancel(context.Background())
	db.turn = make(chan struct{}, 1)
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		var applied int
		applied, err = db.migrate(ctx)
		if err == nil {
			if applied > 0 {
				db.logger.Info("postgres: schema migrated", "migrations", applied)
			}
			break
		}
		if !transient(err) {
			return nil, fmt.Errorf("postgres: open: %w", err)
		}
		db.logger.Warn("postgres: database not reachable, retrying", "err", redact(err))
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("postgres: open: %w (last: %v)", ctx.Err(), redact(err))
		case <-time.After(wait):
		}
	}
	db.pool, err = pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %v", redact(err))
	}
	spend := cfg.Copy()
	spend.MaxConns = max(2, cfg.MaxConns/4)
	if db.spendPool, err = pgxpool.NewWithConfig(context.Background(), spend); err != nil {
		db.pool.Close()
		return nil, fmt.Errorf("postgres: open: %v", redact(err))
	}
	// Events queued by a node that stopped before chaining them.
	if err := db.chainAudit(ctx); err != nil {
		db.logger.Warn("postgres: chaining queued audit events", "err", redact(err))
	}
	return db, nil
}

// transient reports whether err is the database not answering (yet), as
// opposed to one it answered with.
func transient(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08 (connection), 57P0x (shutting down, cannot connect now),
		// 53300 (too many connections).
		return pgErr.Code[:2] == "08" || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03" || pgErr.Code == "53300"
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var connErr *pgconn.ConnectError
	return errors.As(err, &connErr) || pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded)
}

// unavailable reports whether a statement failed for want of a database
// rather than for what it asked: no answer at all, an answer that the
// server is shutting down or starting (57P0x, as a restart sends every
// session), or one that it ran out of time (a statement or lock timeout,
// 57014 and 55P03). A cancelled request is none of them; callers whose
// context ended do not ask.
func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return true
	}
	return pgErr.Code == "57014" || pgErr.Code == "55P03" || transient(err)
}

// redact keeps a connection error's message without the configuration it
// may quote (pgx names host and user, never the password, but the
// operator's log is no place for either).
func redact(err error) error {
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) && connErr.Unwrap() != nil {
		return fmt.Errorf("cannot connect to the database: %w", connErr.Unwrap())
	}
	return err
}

// retryable reports whether a transaction failed only for running beside
// another: a serialisation failure or a deadlock, or a unique key a
// concurrent transaction took (the run after it sees that row and answers
// ErrUsernameTaken and the like itself).
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return lostRace(err) || errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// lostRace reports a serialisation failure or a deadlock: the transaction
// lost to another and may win when run again.
func lostRace(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// enter registers a call, or reports ErrClosed.
func (db *DB) enter() error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed.Load() {
		return store.ErrClosed
	}
	db.inflight.Add(1)
	return nil
}

// Update runs fn in a SERIALIZABLE transaction and returns once it has
// committed, running fn again when the transaction failed to serialise
// with another. The first runs are optimistic, after a short jittered
// back-off each. An Update that lost that often is contended (many
// writers of one row: one passkey's counter, one status list), and
// optimism alone could starve it; it then takes a session-level advisory
// lock before it begins each further run, so that the contended Updates of
// the whole cluster take turns, each starting its snapshot after the one
// before it committed, and only a newcomer's first runs can still make it
// lose. The lock is taken before BEGIN: taken inside the transaction, the
// snapshot would predate the wait.
//
// An error that wraps store.ErrWriteFailed means the database could not
// be written (the commit, or the connection, failed). If the connection
// drops during the commit itself, the outcome cannot be known; that too is
// ErrWriteFailed.
func (db *DB) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	if err := db.enter(); err != nil {
		return err
	}
	defer db.inflight.Done()
	var err error
	var turn *pgxpool.Conn // holding the contended lock
	defer func() { db.endTurn(turn) }()
	for attempt := 1; ; attempt++ {
		if attempt > optimisticAttempts && turn == nil {
			turn, err = db.takeTurn(ctx)
			if err != nil {
				break
			}
		}
		var audited bool
		audited, err = db.attempt(ctx, turn, fn)
		if err == nil {
			// The turn ends before the chaining, which needs a connection
			// of its own.
			db.endTurn(turn)
			turn = nil
			db.commits.Add(1)
			db.writes.Add(1)
			db.health.record(nil)
			if audited {
				// The events are durable in the queue; chaining them now
				// makes them readable in order when Update returns. A
				// failure leaves them for the next chainer.
				if cerr := db.chainCommitted(ctx); cerr != nil {
					db.logger.Warn("postgres: chaining audit events", "err", redact(cerr))
				}
			}
			return nil
		}
		if !retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			break
		}
		db.retries.Add(1)
		if turn != nil {
			continue // its turn: no one else's to wait for
		}
		// Jittered, growing back-off, so that the transactions that
		// collided do not collide again.
		d := time.Duration(rand.Int64N(int64(time.Millisecond) << attempt))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
	if lostRace(err) && ctx.Err() == nil {
		// Lost every run to other writers: the database is too busy
		// for this write now, which the client may retry (503). The
		// write path is not failing, so it is not recorded as such.
		return fmt.Errorf("%w: no run of the transaction serialised with the others: %v", errWriteFailed, err)
	}
	return db.translate(err)
}

// takeTurn takes the contended lock on a connection of its own, the
// node's contended Updates one at a time (so that one connection of the
// node waits for the lock, not one per Update); waiting is bounded by
// lock_timeout.
func (db *DB) takeTurn(ctx context.Context) (*pgxpool.Conn, error) {
	select {
	case db.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	conn, err := db.lockTurn(ctx)
	if err != nil {
		<-db.turn
	}
	return conn, err
}

func (db *DB) lockTurn(ctx context.Context) (*pgxpool.Conn, error) {
	tctx, cancel := context.WithTimeout(ctx, db.timeout+time.Second)
	defer cancel()
	conn, err := db.pool.Acquire(tctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %v", errDown, redact(err))
	}
	if _, err := conn.Exec(tctx, "SELECT pg_advisory_lock($1)", contendedLock); err != nil {
		conn.Release()
		if !unavailable(err) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errDown, redact(err))
	}
	return conn, nil
}

// endTurn releases the contended lock taken by takeTurn, if turn is one.
func (db *DB) endTurn(turn *pgxpool.Conn) {
	if turn == nil {
		return
	}
	uctx, cancel := context.WithTimeout(context.Background(), db.timeout)
	defer cancel()
	if _, err := turn.Exec(uctx, "SELECT pg_advisory_unlock($1)", contendedLock); err != nil {
		// A connection that may still hold the lock is not reused.
		_ = turn.Conn().Close(uctx)
	}
	turn.Release()
	<-db.turn
}

// translate turns what the database said into the store's errors.
func (db *DB) translate(err error) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "23505":
		switch pgErr.ConstraintName {
		case "users_username_key":
			return store.ErrUsernameTaken
		case "users_handle_key":
			return store.ErrHandleTaken
		case "credentials_pkey":
			return store.ErrCredentialExists
		}
	case errors.As(err, &pgErr) && pgErr.Code == "23503":
		return store.ErrNotFound // the account a record belongs to is gone
	case errors.As(err, &pgErr) && pgErr.Code == sessionMovedCode:
		return errors.New("store: the session belongs to another user")
	case errors.Is(err, store.ErrWriteFailed):
		db.health.record(err)
		return err
	}
	return err
}

// Failures of the database rather than of fn: a commit that failed, and a
// database that cannot be reached, in a write (nothing was written) and in
// a read.
var (
	errWriteFailed = fmt.Errorf("postgres: %w", store.ErrWriteFailed)
	errDown        = fmt.Errorf("postgres: %w (%w)", store.ErrUnavailable, store.ErrWriteFailed)
	errDownRead    = fmt.Errorf("postgres: %w", store.ErrUnavailable)
)

// attempt is one run of fn in a transaction, with its commit, on turn
// when it holds the contended lock, else on a connection of its own.
func (db *DB) attempt(ctx context.Context, turn *pgxpool.Conn, fn func(tx store.Tx) error) (audited bool, err error) {
	conn := turn
	if conn == nil {
		if conn, err = db.acquire(ctx, errDown); err != nil {
			return false, err
		}
		defer conn.Release()
	}
	t := newTx(ctx, conn, db, true)
	err = callSafely(fn, t)
	if t.failure != nil {
		// A statement failed in a way fn may have swallowed: the
		// transaction is aborted whatever fn returned.
		err = t.failure
	}
	if err != nil {
		t.end(false)
		return false, err
	}
	if err := t.end(true); err != nil {
		return false, err
	}
	return t.audited, nil
}

// Where each kind of transaction begins.
const (
	beginWrite = "BEGIN ISOLATION LEVEL SERIALIZABLE"
	beginRead  = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
)

// newTx is a transaction on conn whose BEGIN waits for its first
// statement.
func newTx(ctx context.Context, conn *pgxpool.Conn, db *DB, write bool) *pgTx {
	begin := beginRead
	if write {
		begin = beginWrite
	}
	return &pgTx{ctx: ctx, conn: conn, db: db, write: write, queue: []queued{{sql: begin}}}
}

// acquire takes a connection of the pool, the wait bounded by the
// statement timeout. A database that cannot be reached is down.
func (db *DB) acquire(ctx context.Context, down error) (*pgxpool.Conn, error) {
	actx, cancel := context.WithTimeout(ctx, db.timeout)
	defer cancel()
	conn, err := db.pool.Acquire(actx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %v", down, redact(err))
	}
	return conn, nil
}

// View runs fn in a REPEATABLE READ, READ ONLY transaction: one snapshot,
// which never blocks writers nor waits for them.
func (db *DB) View(ctx context.Context, fn func(tx store.Tx) error) error {
	if err := db.enter(); err != nil {
		return err
	}
	defer db.inflight.Done()
	conn, err := db.acquire(ctx, errDownRead)
	if err != nil {
		return err
	}
	defer conn.Release()
	t := newTx(ctx, conn, db, false)
	defer t.end(false)
	err = callSafely(fn, t)
	if err == nil && t.failure != nil {
		err = t.failure
	}
	return err
}

// callSafely runs fn, turning a panic into an error.
func callSafely(fn func(store.Tx) error, tx store.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: transaction function panicked: %v", r)
		}
	}()
	return fn(tx)
}

// exec runs one statement outside a transaction, bounded by the statement
// timeout; a database that cannot be reached is ErrWriteFailed.
func (db *DB) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return db.execOn(db.pool, ctx, sql, args...)
}

// execOn is exec on one of the store's pools.
func (db *DB) execOn(pool *pgxpool.Pool, ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := db.enter(); err != nil {
		return pgconn.CommandTag{}, err
	}
	defer db.inflight.Done()
	ectx, cancel := context.WithTimeout(ctx, db.timeout)
	defer cancel()
	tag, err := pool.Exec(ectx, sql, args...)
	if err != nil {
		if ctx.Err() != nil {
			return tag, ctx.Err()
		}
		err = fmt.Errorf("%w: %v", errDown, redact(err))
		db.health.record(err)
		return tag, err
	}
	db.health.record(nil)
	return tag, nil
}

// ProbeWrite commits the time under a meta name of its own: it fails while
// the database cannot be written.
func (db *DB) ProbeWrite(ctx context.Context, now time.Time) error {
	_, err := db.exec(ctx, `INSERT INTO latch_meta (name, value) VALUES ('write_probe', $1)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, []byte(now.UTC().Format(time.RFC3339Nano)))
	return err
}

// Ping reports whether the database answers now.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.enter(); err != nil {
		return err
	}
	defer db.inflight.Done()
	pctx, cancel := context.WithTimeout(ctx, db.timeout)
	defer cancel()
	if err := db.pool.Ping(pctx); err != nil {
		return fmt.Errorf("%w: ping: %v", errDownRead, redact(err))
	}
	return nil
}

// health tracks the outcomes of writes for WriteHealth.
type health struct {
	consecutive, total atomic.Uint64
	last               atomic.Pointer[failure]
}

type failure struct {
	err error
	at  time.Time
}

func (h *health) record(err error) {
	if err == nil {
		h.consecutive.Store(0)
		return
	}
	h.last.Store(&failure{err: err, at: time.Now()})
	h.total.Add(1)
	h.consecutive.Add(1)
}

// WriteHealth is the state of the write path as the last writes left it:
// failing while the database could not be reached or written.
func (db *DB) WriteHealth() store.WriteHealth {
	h := store.WriteHealth{ConsecutiveFailures: db.health.consecutive.Load(), Failures: db.health.total.Load()}
	h.Failing = h.ConsecutiveFailures > 0
	if f := db.health.last.Load(); f != nil {
		h.LastError, h.LastFailure = f.err, f.at
	}
	return h
}

// Stats counts this node's work: Commits and Writes are both the committed
// Update calls (each is its own transaction; there is no group commit to
// report), Evicted the ceremonies this node trimmed from the pending
// table. PagesWritten, which a client of the database cannot know, and
// Pending, which is the cluster's (a count would be a query), stay 0.
func (db *DB) Stats() store.Stats {
	return store.Stats{Commits: db.commits.Load(), Writes: db.writes.Load(), Evicted: db.evicted.Load()}
}

// Retries is the number of times an Update's function ran again after its
// transaction failed to serialise with another.
func (db *DB) Retries() uint64 { return db.retries.Load() }

// Close waits for calls in progress and closes the connections.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.mu.Lock()
		db.closed.Store(true)
		db.mu.Unlock()
		db.stop()
		db.inflight.Wait()
		db.pool.Close()
		db.spendPool.Close()
	})
	return nil
}
