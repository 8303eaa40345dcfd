package store

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Token Status Lists (draft-ietf-oauth-status-list): each issued credential
// gets an entry in a list, and revoking it sets its status there. A list
// record holds its shape and how many entries are taken; each taken entry
// is a key of its own (so an issuance writes a few bytes, not the list),
// and only the entries whose status is not 0 (valid) are kept a second
// time, so building the served list reads just those.

// Buckets of the status lists (listed in allBuckets).
var (
	bucketStatusLists   = []byte("status_lists")        // list id -> status list record
	bucketStatusEntries = []byte("status_list_entries") // list id + be32(index) -> nil: assigned entries
	bucketStatusSet     = []byte("status_list_set")     // list id + be32(index) -> status, for statuses other than 0
)

// statusListIDLen is the length of a list id: 16 random bytes, base64url.
const statusListIDLen = 22

// statusListRandomTries is how many random picks AllocateStatus makes
// before it walks the list for a free entry; at 3/4 full, 32 random picks
// all land on taken entries about once in 10^4 allocations.
const statusListRandomTries = 32

// StatusList is a status list as stored.
type StatusList struct {
	// ID names the list in its URI.
	ID string
	// Bits is the number of bits per entry; Size the number of entries;
	// Used how many of them are assigned.
	Bits, Size, Used int
	CreatedAt        time.Time
	// Statuses holds every entry whose status is not 0, by index.
	Statuses map[int]byte
}

type statusListRecord struct {
	header
	Bits      int       `json:"bits"`
	Size      int       `json:"size"`
	Used      int       `json:"used"`
	CreatedAt time.Time `json:"created_at"`
}

// statusListCurrent is the meta key naming the list new entries come from.
var statusListCurrent = []byte("status_list_current")

func statusEntryKey(id string, idx int) []byte {
	return binary.BigEndian.AppendUint32([]byte(id), uint32(idx))
}

// AllocateStatus assigns a new credential an entry of the current list,
// chosen uniformly at random among its free entries so that indices say
// nothing about the order of issuance. When the current list is full (or
// there is none yet) it opens a new one of size entries of 1 bit. An entry
// is never assigned twice.
func (tx *boltTx) AllocateStatus(now time.Time, size int) (listID string, idx int, err error) {
	if size < 8 || size > 1<<23 || size%8 != 0 {
		return "", 0, errors.New("store: status list size must be a multiple of 8 between 8 and 2^23")
	}
	meta := tx.btx.Bucket(bucketMeta)
	var rec statusListRecord
	id := string(meta.Get(statusListCurrent))
	if id != "" {
		if err := tx.get(bucketStatusLists, []byte(id), &rec); err != nil {
			return "", 0, fmt.Errorf("store: current status list: %w", err)
		}
	}
	if id == "" || rec.Used >= rec.Size {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return "", 0, fmt.Errorf("store: status list id: %w", err)
		}
		id = base64.RawURLEncoding.EncodeToString(b)
		rec = statusListRecord{header: current(), Bits: 1, Size: size, CreatedAt: utc(now)}
		if err := meta.Put(statusListCurrent, []byte(id)); err != nil {
			return "", 0, fmt.Errorf("store: put meta: %w", err)
		}
	}
	entries := tx.btx.Bucket(bucketStatusEntries)
	idx = -1
	for range statusListRandomTries {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(rec.Size)))
		if err != nil {
			return "", 0, fmt.Errorf("store: status index: %w", err)
		}
		if entries.Get(statusEntryKey(id, int(n.Int64()))) == nil {
			idx = int(n.Int64())
			break
		}
	}
	if idx < 0 {
		// Nearly full: the first free entry from a random start. The list
		// has one (Used < Size), so the walk ends.
		n, err := rand.Int(rand.Reader, big.NewInt(int64(rec.Size)))
		if err != nil {
			return "", 0, fmt.Errorf("store: status index: %w", err)
		}
		for i := range rec.Size {
			if c := (int(n.Int64()) + i) % rec.Size; entries.Get(statusEntryKey(id, c)) == nil {
				idx = c
				break
			}
		}
		if idx < 0 {
			return "", 0, errors.New("store: status list has no free entry although not full")
		}
	}
	if err := tx.putIndex(bucketStatusEntries, statusEntryKey(id, idx)); err != nil {
		return "", 0, err
	}
	rec.Used++
	if err := tx.put(bucketStatusLists, []byte(id), &rec); err != nil {
		return "", 0, err
	}
	return id, idx, nil
}

// SetStatus sets the status of an assigned entry (0 is valid, 1 revoked).
// It is ErrNotFound for a list or an entry that was never assigned.
func (tx *boltTx) SetStatus(listID string, idx int, status byte) error {
	if len(listID) != statusListIDLen || idx < 0 || idx > 1<<31-1 {
		return ErrNotFound
	}
	var rec statusListRecord
	if err := tx.get(bucketStatusLists, []byte(listID), &rec); err != nil {
		return err
	}
	if idx >= rec.Size || status >= 1<<rec.Bits {
		return fmt.Errorf("store: status %d at %d does not fit the list", status, idx)
	}
	key := statusEntryKey(listID, idx)
	if tx.btx.Bucket(bucketStatusEntries).Get(key) == nil {
		return ErrNotFound
	}
	if status == 0 {
		return tx.del(bucketStatusSet, key)
	}
	if err := tx.btx.Bucket(bucketStatusSet).Put(key, []byte{status}); err != nil {
		return fmt.Errorf("store: put %s: %w", bucketStatusSet, err)
	}
	return nil
}

// StatusList returns a list with every entry whose status is not 0, or
// ErrNotFound.
func (tx *boltTx) StatusList(listID string) (*StatusList, error) {
	if len(listID) != statusListIDLen || tx.btx.Bucket(bucketStatusLists) == nil {
		return nil, ErrNotFound
	}
	var rec statusListRecord
	if err := tx.get(bucketStatusLists, []byte(listID), &rec); err != nil {
		return nil, err
	}
	out := &StatusList{ID: listID, Bits: rec.Bits, Size: rec.Size, Used: rec.Used, CreatedAt: rec.CreatedAt, Statuses: map[int]byte{}}
	prefix := []byte(listID)
	c := tx.btx.Bucket(bucketStatusSet).Cursor()
	for k, v := c.Seek(prefix); k != nil && len(k) == statusListIDLen+4 && string(k[:statusListIDLen]) == listID; k, v = c.Next() {
		if len(v) != 1 {
			return nil, fmt.Errorf("store: status entry of list %s malformed", listID)
		}
		out.Statuses[int(binary.BigEndian.Uint32(k[statusListIDLen:]))] = v[0]
	}
	return out, nil
}
