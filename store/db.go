package store

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// KeySize is the required length in bytes of the key-encryption key.
const KeySize = 32

const (
	defaultTimeout  = time.Second
	defaultMaxBatch = 128
)

// When bbolt writes its free-page list. Written with every commit, it
// costs each commit a page per 512 free pages (and sorting them), which a
// store with churn has by the thousand: eight pages more per commit and
// commits seven times slower, measured. Never written, every open rebuilds
// it by walking every page of the file, so a start reads the whole store
// (gigabytes at a million accounts) and keeps it resident. Written once,
// by the last commit of a clean Close, the next open reads it instead;
// the first commit after that drops it again, so a crash can never leave
// a stale list behind, only a walk at the next start. BenchmarkFreelistSync
// measures the three.
type freelistPolicy int

const (
	freelistAtClose freelistPolicy = iota
	freelistEveryCommit
	freelistNever
)

// freelist is the policy in force; a variable so that a benchmark can
// measure each.
var freelist = freelistAtClose

// initialMmapSize is the file size up to which the store never remaps: 1
// GiB, except on Windows, where bbolt grows the file to what it maps.
func initialMmapSize() int {
	if runtime.GOOS == "windows" {
		return 0
	}
	return 1 << 30
}

// Options configures Open. Zero values take the documented defaults.
type Options struct {
	// Path is the bbolt file, e.g. <data>/latch.db. It is created 0600.
	Path string
	// KEK is the 32-byte key-encryption key (AES-256-GCM) for secrets at rest.
	KEK []byte
	// Timeout bounds the wait for the file lock; default 1s. A second
	// process gets ErrInUse instead of hanging.
	Timeout time.Duration
	// MaxBatch caps how many write functions share one commit; default 128.
	MaxBatch int
	// Logger receives operational messages (sweeper failures); default
	// slog.Default().
	Logger *slog.Logger
	// FillPages makes every write transaction fill pages to the brim in
	// every bucket, not only in those whose keys are time-ordered: for a
	// store built in key order in large transactions, as an import or a
	// benchmark does, it packs the trees as a compaction would. Writes in
	// random key order leave pages emptier with it.
	FillPages bool
	// ReadOnly opens the file for reading only, as a backup needs: nothing
	// is created or written, a file in an earlier layout is not moved (so a
	// copy taken before an upgrade stays readable by the version that wrote
	// it), and Update returns ErrReadOnly.
	ReadOnly bool
}

// DB is an open store. It is safe for concurrent use.
type DB struct {
	bolt   *bolt.DB
	aead   cipher.AEAD
	logger *slog.Logger
	// auditMACKey keys the audit log's chain (see audit.go).
	auditMACKey []byte

	maxBatch  int
	readOnly  bool
	fillPages bool
	// mu guards sends on queue against Close: Update holds it shared while
	// enqueueing, Close takes it exclusively before closing the channel.
	mu         sync.RWMutex
	closed     atomic.Bool
	queue      chan *writeRequest
	writerDone chan struct{}

	closeOnce sync.Once
	closeErr  error

	pending pendingTable

	credentials memo[credentialRecord]
	sessions    memo[sessionRecord]
	refresh     memo[refreshTokenRecord]
	clients     memo[clientRecord]

	// commits and writes count committed transactions and the Update
	// calls they carried, for Stats.
	commits, writes atomic.Uint64
	// health records commit outcomes (commit.go).
	health writeHealth
}

// Stats counts the store's write activity since Open.
type Stats struct {
	// Commits is the number of write transactions committed (each fsync'd)
	// and Writes the number of Update calls they carried: Writes/Commits is
	// the mean group-commit batch.
	Commits, Writes uint64
	// PagesWritten is the number of database pages written to the file by
	// those commits, including meta pages; each is one write system call.
	PagesWritten uint64
	// Pending is the number of WebAuthn ceremonies held in memory now, and
	// Evicted how many were dropped unanswered to make room (a flood of
	// begins, if it grows).
	Pending, Evicted uint64
}

// Stats reports the store's write activity since Open.
func (db *DB) Stats() Stats {
	tx := db.bolt.Stats().TxStats
	return Stats{
		Commits: db.commits.Load(), Writes: db.writes.Load(), PagesWritten: uint64(tx.GetWrite()),
		Pending: db.pending.len(), Evicted: db.pending.evicted.Load(),
	}
}

// Open opens (creating if needed) the database at opts.Path, creates every
// bucket, and checks that opts.KEK is the key the database was written with.
// A file locked by another process yields an error wrapping ErrInUse; a
// different master key yields an error wrapping ErrWrongKey; an empty file,
// one wrapping ErrStoreMissing; a damaged one, ErrDamaged. To open the store of a data
// directory, where a missing file must not always mean a new store, use
// Dir.Open.
func Open(opts Options) (*DB, error) {
	if opts.Path == "" {
		return nil, errors.New("store: open: empty path")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = defaultMaxBatch
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	aead, err := newAEAD(opts.KEK)
	if err != nil {
		return nil, err
	}
	if err := checkFile(opts.Path); err != nil {
		return nil, err
	}
	bdb, err := bolt.Open(opts.Path, 0o600, &bolt.Options{
		Timeout: opts.Timeout,
		// The free-page list is not written with every commit (see
		// freelistMode), and kept as a map: cheap allocation, as etcd runs
		// bbolt. Durability is unchanged: data and meta pages are still
		// fsync'd.
		NoFreelistSync: freelist != freelistEveryCommit,
		FreelistType:   bolt.FreelistMapType,
		ReadOnly:       opts.ReadOnly,
		// bbolt maps the file and maps it again, larger, as it grows; a
		// remap waits for every open read transaction and holds up the
		// writer meanwhile. An online backup is one long read, so with the
		// default doubling a growing store would stall every sign-in until
		// the copy finished. Address space is reserved, not memory.
		InitialMmapSize: initialMmapSize(),
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("store: open %s: %w", opts.Path, ErrInUse)
		}
		return nil, fmt.Errorf("store: open %s: %w", opts.Path, err)
	}
	db := &DB{
		bolt:       bdb,
		aead:       aead,
		logger:     opts.Logger,
		maxBatch:   opts.MaxBatch,
		queue:      make(chan *writeRequest, opts.MaxBatch),
		writerDone: make(chan struct{}),
		pending:    pendingTable{m: map[string]*Ceremony{}},
		readOnly:   opts.ReadOnly,
		fillPages:  opts.FillPages,
	}
	db.auditMACKey = auditChainKey(opts.KEK)
	if opts.ReadOnly {
		if err := bdb.View(db.checkKey); err != nil {
			_ = bdb.Close()
			return nil, fmt.Errorf("store: open %s: %w", opts.Path, err)
		}
		return db, nil
	}
	if err := bdb.Update(db.initialise); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", opts.Path, err)
	}
	moved, err := db.migrateAccounts()
	if err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", opts.Path, err)
	}
	if moved > 0 {
		db.logger.Info("store: moved records into the accounts layout", "entries", moved)
	}
	if moved, err = db.migrateRecoveryCodes(); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", opts.Path, err)
	}
	if moved > 0 {
		db.logger.Info("store: moved recovery codes from TOTP factors into their accounts", "factors", moved)
	}
	go db.writeLoop()
	return db, nil
}

// initialise creates the buckets and records or verifies the key check, so
// a wrong master key is reported at start-up rather than at the first
// token signature.
func (db *DB) initialise(btx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := btx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	if btx.Bucket(bucketMeta).Get(keyCheckName) != nil {
		return db.checkKey(btx)
	}
	sealed, err := db.seal([]byte(keyCheckPlaintext), sealAAD(bucketMeta, string(keyCheckName)))
	if err != nil {
		return err
	}
	return btx.Bucket(bucketMeta).Put(keyCheckName, sealed)
}

// checkKey verifies the key check, if the file has one.
func (db *DB) checkKey(btx *bolt.Tx) error {
	meta := btx.Bucket(bucketMeta)
	if meta == nil {
		return errors.New("not a Latch store (no meta bucket)")
	}
	sealed := meta.Get(keyCheckName)
	if sealed == nil {
		return nil
	}
	plain, err := db.open(sealed, sealAAD(bucketMeta, string(keyCheckName)))
	if err != nil || string(plain) != keyCheckPlaintext {
		return fmt.Errorf("master key does not match this database: %w", ErrWrongKey)
	}
	return nil
}

// Close waits for queued writes to commit, stops the writer and closes the
// file. Calls after the first return the first call's result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		if db.readOnly {
			db.closed.Store(true)
			if err := db.bolt.Close(); err != nil {
				db.closeErr = fmt.Errorf("store: close: %w", err)
			}
			return
		}
		db.mu.Lock()
		db.closed.Store(true)
		db.mu.Unlock()
		close(db.queue)
		<-db.writerDone
		if err := db.park(); err != nil {
			db.closeErr = fmt.Errorf("store: close: park pending ceremonies: %w", err)
		}
		if err := db.writeFreelist(); err != nil && db.closeErr == nil {
			db.closeErr = fmt.Errorf("store: close: write the free-page list: %w", err)
		}
		if err := db.bolt.Close(); err != nil && db.closeErr == nil {
			db.closeErr = fmt.Errorf("store: close: %w", err)
		}
	})
	return db.closeErr
}

// writeFreelist commits the free-page list, so that the next open reads
// it rather than walking the file (see freelistPolicy). It runs once the
// writer has stopped: nothing else commits meanwhile.
func (db *DB) writeFreelist() error {
	if freelist != freelistAtClose {
		return nil
	}
	db.bolt.NoFreelistSync = false
	return db.bolt.Update(func(*bolt.Tx) error { return nil })
}

// View runs fn in a read-only transaction. Values read through tx are
// copies and remain valid after View returns. A panic in fn is returned as
// an error.
func (db *DB) View(ctx context.Context, fn func(tx Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if db.closed.Load() {
		return ErrClosed
	}
	err := db.bolt.View(func(btx *bolt.Tx) error {
		return callSafely[Tx](fn, &boltTx{btx: btx, db: db})
	})
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}
