package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// boltTx is the bbolt store's Tx: one bbolt transaction.
type boltTx struct {
	btx *bolt.Tx
	db  *DB
}

// appendBuckets are the buckets whose keys are time-ordered (ordered ids,
// expiry times, sequences), so new keys land at the end. bbolt splits a
// page it fills at FillPercent, 50% by default, which for keys that only
// ever append leaves every page of the tree half empty behind the end;
// filling them up to the page is what appended data allows. Buckets keyed
// by random ids (accounts, usernames, credential ids) keep the default: a
// split nearer the page size measured worse for them (37-48% full after
// sign-ups, against 56-68%), since the fuller page splits again at the next
// key that lands on it.
var appendBuckets = [][]byte{
	bucketSessions, bucketSessionExpiry, bucketRefreshTokens, bucketRefreshExpiry,
	bucketCeremonies, bucketCeremonyExpiry, bucketRevokedExpiry, bucketAudit,
}

// newWriteTx wraps a read-write bbolt transaction. FillPercent belongs to a
// bucket's handle, which bbolt keeps for the length of the transaction, so
// it is set once here.
func newWriteTx(btx *bolt.Tx, db *DB) *boltTx {
	names := appendBuckets
	if db.fillPages {
		names = allBuckets
	}
	for _, name := range names {
		if b := btx.Bucket(name); b != nil {
			b.FillPercent = 1
		}
	}
	return &boltTx{btx: btx, db: db}
}

// recordVersion is written into every record. Adding a field keeps the
// version; only an incompatible change of meaning would bump it.
const recordVersion = 1

// maxKeyLen bounds every identifier used as a key. It is well below bbolt's
// 32 KiB key limit and above the 1023-byte WebAuthn credential ID maximum.
const maxKeyLen = 1024

// header is embedded in every record to carry the version.
type header struct {
	V int `json:"v"`
}

func (h header) version() int { return h.V }

type versioned interface{ version() int }

func current() header { return header{V: recordVersion} }

// decode parses a stored record and rejects versions this code does not
// understand rather than misreading them.
func decode(data []byte, rec versioned) error { return decodeAt(nil, data, rec) }

// decodeAt is decode for a record stored under key, from which a binary
// record restores the identifiers it does not repeat (see codec.go).
func decodeAt(key, data []byte, rec versioned) error {
	if len(data) > 0 && data[0] != '{' {
		br, ok := rec.(binaryRecord)
		latest := byte(binaryVersion)
		if lb, later := rec.(laterBinary); later {
			latest = lb.binaryVersion()
		}
		if !ok || data[0] < binaryVersion || data[0] > latest {
			return fmt.Errorf("store: unsupported record version %d", data[0])
		}
		r := &reader{b: data[1:], version: data[0]}
		if err := br.decodeBinary(key, r); err != nil {
			return err
		}
		return r.err
	}
	if err := json.Unmarshal(data, rec); err != nil {
		return fmt.Errorf("store: decode record: %w", err)
	}
	if v := rec.version(); v != recordVersion {
		return fmt.Errorf("store: unsupported record version %d", v)
	}
	return nil
}

// raw returns the stored bytes under key (valid only during the
// transaction), or nil if there are none.
func (tx *boltTx) raw(bucket, key []byte) []byte {
	// Account entry keys join two identifiers, hence the doubled bound.
	if len(key) == 0 || len(key) > maxAccountEntryKeyLen {
		return nil
	}
	return tx.btx.Bucket(bucket).Get(key)
}

// get loads the record under key into rec, or returns ErrNotFound.
func (tx *boltTx) get(bucket, key []byte, rec versioned) error {
	data := tx.raw(bucket, key)
	if data == nil {
		return ErrNotFound
	}
	return decodeAt(key, data, rec)
}

// encodeRecord encodes rec in its binary form if it has one, else as JSON.
func encodeRecord(rec any) ([]byte, error) {
	if br, ok := rec.(binaryRecord); ok {
		v := byte(binaryVersion)
		if lb, later := rec.(laterBinary); later {
			v = lb.binaryVersion()
		}
		return br.appendBinary([]byte{v}), nil
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("store: encode record: %w", err)
	}
	return data, nil
}

// put encodes rec and stores it under key.
func (tx *boltTx) put(bucket, key []byte, rec any) error {
	data, err := encodeRecord(rec)
	if err != nil {
		return err
	}
	if err := tx.btx.Bucket(bucket).Put(key, data); err != nil {
		return fmt.Errorf("store: put %s: %w", bucket, err)
	}
	return nil
}

// del removes key from bucket; a missing key is not an error.
func (tx *boltTx) del(bucket, key []byte) error {
	if err := tx.btx.Bucket(bucket).Delete(key); err != nil {
		return fmt.Errorf("store: delete %s: %w", bucket, err)
	}
	return nil
}

// checkKey validates an identifier before it becomes a key, so hostile or
// buggy input fails with a clear error instead of a bbolt one.
func checkKey(what string, n int) error {
	if n == 0 {
		return fmt.Errorf("store: %s is empty", what)
	}
	if n > maxKeyLen {
		return fmt.Errorf("store: %s longer than %d bytes", what, maxKeyLen)
	}
	return nil
}

// Bounds of what time.Time.UnixNano can represent.
var (
	minNanoTime = time.Unix(0, 0)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// expiryNanos maps t onto the sortable range of an expiry key. Times before
// 1970 sort first (already expired); times past 2262 sort last.
func expiryNanos(t time.Time) uint64 {
	switch {
	case t.Before(minNanoTime):
		return 0
	case t.After(maxNanoTime):
		return math.MaxInt64
	default:
		return uint64(t.UnixNano())
	}
}

// expiryKey is big-endian unix nanoseconds followed by the record key, so a
// cursor walks entries in expiry order.
func expiryKey(t time.Time, key []byte) []byte {
	k := make([]byte, 8, 8+len(key))
	binary.BigEndian.PutUint64(k, expiryNanos(t))
	return append(k, key...)
}

// expired returns copies of up to limit entries of an expiry index whose
// expiry is at or before now (the whole index key: expiry, then record
// key). It only reads: callers delete after the cursor is done, because
// deleting under a cursor can skip entries.
func (tx *boltTx) expired(index []byte, now time.Time, limit int) [][]byte {
	bound := expiryNanos(now)
	var keys [][]byte
	c := tx.btx.Bucket(index).Cursor()
	for k, _ := c.First(); k != nil && len(keys) < limit; k, _ = c.Next() {
		if len(k) < 8 || binary.BigEndian.Uint64(k[:8]) > bound {
			break
		}
		keys = append(keys, bytes.Clone(k))
	}
	return keys
}

// reindexExpiry moves a record's expiry index entry from old to new; a zero
// time means "no entry".
func (tx *boltTx) reindexExpiry(index, key []byte, old, updated time.Time) error {
	if old.Equal(updated) && !old.IsZero() {
		// Unchanged: touching the index would only dirty a page (and the
		// entry of an older record sits on a page no other write touches).
		return nil
	}
	if !old.IsZero() {
		if err := tx.del(index, expiryKey(old, key)); err != nil {
			return err
		}
	}
	if updated.IsZero() {
		return nil
	}
	if err := tx.btx.Bucket(index).Put(expiryKey(updated, key), nil); err != nil {
		return fmt.Errorf("store: put %s: %w", index, err)
	}
	return nil
}

// putIndex adds an index entry with no value.
func (tx *boltTx) putIndex(bucket, key []byte) error {
	if err := tx.btx.Bucket(bucket).Put(key, nil); err != nil {
		return fmt.Errorf("store: put %s: %w", bucket, err)
	}
	return nil
}

// lookupIndex resolves an index value (an id) to a copy.
func (tx *boltTx) lookupIndex(bucket, key []byte) (string, error) {
	if len(key) == 0 || len(key) > maxKeyLen {
		return "", ErrNotFound
	}
	v := tx.btx.Bucket(bucket).Get(key)
	if v == nil {
		return "", ErrNotFound
	}
	return string(v), nil
}

// utc normalises a time for storage: UTC, no monotonic reading.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Round(0)
}

// notFound reports whether err means the record is absent.
func notFound(err error) bool { return errors.Is(err, ErrNotFound) }
