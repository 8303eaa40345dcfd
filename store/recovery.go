package store

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// entryRecoveryCodes is the kind of the account entry holding the
// account's recovery codes (accounts.go); it has no member id.
const entryRecoveryCodes byte = 'r'

// RecoveryCodes is an account's one set of single-use recovery codes:
// Hashes are the caller's hashes of the codes (the store never sees a
// code), one removed per use; CreatedAt is when the set was made. It lives
// in the account, so deleting the account deletes it, and it is kept
// apart from the TOTP factor, which it outlives: the codes recover the
// account whether or not TOTP is on.
type RecoveryCodes struct {
	UserID    string    `json:"user_id"`
	Hashes    [][]byte  `json:"hashes,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

type recoveryCodesRecord struct {
	header
	RecoveryCodes
}

// appendBinary writes the record in the binary form (codec.go): the
// creation time, then the count and the hashes. The user id is in the key.
// A record read at every recovery attempt, and for a name that exists
// only, should cost next to nothing to decode.
func (r *recoveryCodesRecord) appendBinary(b []byte) []byte {
	b = appendTime(b, r.CreatedAt)
	b = appendUvarint(b, uint64(len(r.Hashes)))
	for _, h := range r.Hashes {
		b = appendBytes(b, h)
	}
	return b
}

// decodeBinary takes the user id from the key, the account's entry key.
func (r *recoveryCodesRecord) decodeBinary(key []byte, d *reader) error {
	userID, rest, ok := splitAccountKey(key)
	if !ok || len(rest) != 1 || rest[0] != entryRecoveryCodes {
		return fmt.Errorf("store: decode record: recovery codes under a key that is not theirs")
	}
	r.header = current()
	r.RecoveryCodes = RecoveryCodes{UserID: userID, CreatedAt: d.time()}
	n := d.uvarint()
	if n > uint64(len(d.b)) { // each takes at least a byte
		return errShortRecord
	}
	r.Hashes = make([][]byte, 0, n)
	for range n {
		r.Hashes = append(r.Hashes, d.bytes())
	}
	return nil
}

// RecoveryCodes returns the account's recovery codes, or ErrNotFound when
// it never had a set.
func (tx *boltTx) RecoveryCodes(userID string) (*RecoveryCodes, error) {
	var rec recoveryCodesRecord
	if err := tx.get(bucketAccounts, entryKey(userID, entryRecoveryCodes, nil), &rec); err != nil {
		return nil, err
	}
	return &rec.RecoveryCodes, nil
}

// PutRecoveryCodes stores the account's recovery codes, replacing any
// earlier set. It returns ErrNotFound when the account is gone.
func (tx *boltTx) PutRecoveryCodes(rc *RecoveryCodes) error {
	if err := checkKey("user id", len(rc.UserID)); err != nil {
		return err
	}
	if tx.raw(bucketAccounts, accountKey(rc.UserID)) == nil {
		return ErrNotFound
	}
	rec := recoveryCodesRecord{header: current(), RecoveryCodes: *rc}
	rec.CreatedAt = utc(rec.CreatedAt)
	return tx.put(bucketAccounts, entryKey(rc.UserID, entryRecoveryCodes, nil), &rec)
}

// recoveryMigratedName marks, in the meta bucket, a store whose recovery
// codes have all moved out of the TOTP records into the accounts.
var recoveryMigratedName = []byte("recovery_codes_in_accounts")

// migrateRecoveryCodes moves the recovery codes that earlier versions kept
// inside each TOTP record into the account's own entry, where they serve
// both as the TOTP fallback and for account recovery. An account that
// already has a set of its own keeps it. Like migrateAccounts it works in
// chunks, each a transaction that both writes the new entry and rewrites
// the TOTP record without its codes, so an interrupted migration resumes at
// the next Open; once done, a mark in the meta bucket spares later opens
// the scan.
func (db *DB) migrateRecoveryCodes() (moved int, err error) {
	done := false
	if err := db.bolt.View(func(btx *bolt.Tx) error {
		done = btx.Bucket(bucketMeta).Get(recoveryMigratedName) != nil
		return nil
	}); err != nil || done {
		return 0, err
	}
	for {
		n := 0
		err := db.bolt.Update(func(btx *bolt.Tx) error {
			var err error
			n, err = db.moveSomeRecoveryCodes(btx)
			if err == nil && n == 0 {
				err = btx.Bucket(bucketMeta).Put(recoveryMigratedName, []byte{1})
			}
			return err
		})
		if err != nil {
			return moved, fmt.Errorf("migrate recovery codes: %w", err)
		}
		if n == 0 {
			return moved, nil
		}
		moved += n
	}
}

// moveSomeRecoveryCodes moves the codes of up to migrateChunk TOTP records
// that still hold some, and returns how many it moved.
func (db *DB) moveSomeRecoveryCodes(btx *bolt.Tx) (int, error) {
	tx := &boltTx{btx: btx, db: db}
	var keys [][]byte
	c := btx.Bucket(bucketTOTP).Cursor()
	for k, v := c.First(); k != nil && len(keys) < migrateChunk; k, v = c.Next() {
		// Only records with codes, found without decoding every record.
		if bytes.Contains(v, []byte(`"recovery_codes":`)) {
			keys = append(keys, bytes.Clone(k))
		}
	}
	moved := 0
	for _, k := range keys {
		var rec totpRecord
		if err := tx.get(bucketTOTP, k, &rec); err != nil {
			return 0, fmt.Errorf("TOTP of user %q: %w", k, err)
		}
		userID := string(k)
		if len(rec.LegacyRecoveryCodes) > 0 && tx.raw(bucketAccounts, accountKey(userID)) != nil {
			if _, err := tx.RecoveryCodes(userID); notFound(err) {
				err = tx.PutRecoveryCodes(&RecoveryCodes{UserID: userID, Hashes: rec.LegacyRecoveryCodes, CreatedAt: rec.CreatedAt})
				if err != nil {
					return 0, err
				}
			} else if err != nil {
				return 0, err
			}
		}
		rec.LegacyRecoveryCodes = nil
		if err := tx.put(bucketTOTP, k, &rec); err != nil {
			return 0, err
		}
		moved++
	}
	return moved, nil
}
