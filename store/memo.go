package store

import (
	"bytes"
	"fmt"
	"sync"
)

// memoSize bounds each memo; when full it starts over, which costs a decode
// per record on the next reads and nothing else.
const memoSize = 1 << 14

// memo remembers the decoded form of hot records (credentials, sessions,
// refresh tokens) next to the exact bytes they were decoded from or encoded
// to. A read compares the stored bytes with the remembered ones and only
// decodes on a mismatch, so the memo can never serve a stale record: there
// is nothing to invalidate, and an entry from a write that was rolled back
// simply never matches. JSON decoding was the largest cost of a sign-in and
// a refresh after the signatures.
type memo[R cloner[R]] struct {
	mu sync.Mutex
	m  map[string]memoEntry[R]
}

// cloner is a record type that can copy itself deeply enough that changing
// the copy (including its slices) leaves the original alone.
type cloner[R any] interface{ clone() R }

type memoEntry[R any] struct {
	raw []byte
	rec R
}

func (m *memo[R]) load(key, raw []byte) (rec R, ok bool) {
	m.mu.Lock()
	e, ok := m.m[string(key)]
	m.mu.Unlock()
	if !ok || !bytes.Equal(e.raw, raw) {
		return rec, false
	}
	return e.rec, true
}

// remember keeps rec as the decoded form of raw, which must not change
// afterwards (callers pass a copy of mapped memory, or bytes they encoded).
func (m *memo[R]) remember(key, raw []byte, rec R) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil || len(m.m) >= memoSize {
		m.m = make(map[string]memoEntry[R])
	}
	m.m[string(key)] = memoEntry[R]{raw: raw, rec: rec}
}

// memoGet is get through a memo. The record returned is the caller's own
// copy.
func memoGet[R interface {
	versioned
	cloner[R]
}](tx *boltTx, m *memo[R], bucket, key []byte) (R, error) {
	data := tx.raw(bucket, key)
	if data == nil {
		var none R
		return none, ErrNotFound
	}
	return memoDecode(m, key, data)
}

// memoDecode decodes the stored bytes data of key through a memo. The
// record returned is the caller's own copy.
func memoDecode[R interface {
	versioned
	cloner[R]
}](m *memo[R], key, data []byte) (R, error) {
	if rec, ok := m.load(key, data); ok {
		return rec.clone(), nil
	}
	var rec R
	if err := decodeAt(key, data, any(&rec).(versioned)); err != nil {
		return rec, err
	}
	m.remember(key, bytes.Clone(data), rec.clone())
	return rec, nil
}

// memoPut is put through a memo: the bytes written are remembered with (a
// copy of) the record they encode, so the next read of it decodes nothing.
func memoPut[R cloner[R]](tx *boltTx, m *memo[R], bucket, key []byte, rec R) error {
	data, err := encodeRecord(&rec)
	if err != nil {
		return err
	}
	if err := tx.btx.Bucket(bucket).Put(key, data); err != nil {
		return fmt.Errorf("store: put %s: %w", bucket, err)
	}
	m.remember(key, data, rec.clone())
	return nil
}
