package store

import (
	"bytes"
	"encoding/binary"
)

// An account is everything kept under one user id in the accounts bucket:
// the user record, the user's credentials and the index of the user's login
// sessions. Every key of an account starts with the same prefix, so they
// sit side by side in key order, most often on one page. A sign-up or a
// sign-in then rewrites one page of the accounts tree instead of one page in
// each of three trees, and fewer pages per commit is what makes commits,
// which are bound by writing and fsync'ing pages, cheaper.
//
//	prefix(user id)                     -> user
//	prefix(user id) 'c' credential id   -> credential
//	prefix(user id) 'h'                 -> id of the user's newest session
//	prefix(user id) 's' session id      -> nil (sessions started before 'h')
//
// The prefix is the user id preceded by its length (two bytes, big-endian),
// so the prefix of one id can never be the start of another id's keys.

// Kinds of account entry, the byte after the account prefix.
const (
	entryCredential  byte = 'c'
	entrySession     byte = 's'
	entrySessionHead byte = 'h'
)

// maxAccountEntryKeyLen bounds the longest account entry key: a length, a
// user id, a kind and a member id.
const maxAccountEntryKeyLen = 2 + maxKeyLen + 1 + maxKeyLen

// accountKey is the key of a user record, and the prefix of the rest of
// that user's account.
func accountKey(userID string) []byte {
	k := make([]byte, 2, 2+len(userID)+1+64)
	binary.BigEndian.PutUint16(k, uint16(len(userID)))
	return append(k, userID...)
}

// entryKey is the key of the member of the given kind in userID's account.
func entryKey(userID string, kind byte, member []byte) []byte {
	return append(append(accountKey(userID), kind), member...)
}

// splitAccountKey returns the user id at the start of an account key and
// what follows it; ok is false for a key too short to hold its own length.
func splitAccountKey(key []byte) (userID string, rest []byte, ok bool) {
	if len(key) < 2 {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(key))
	if len(key) < 2+n {
		return "", nil, false
	}
	return string(key[2 : 2+n]), key[2+n:], true
}

// eachEntry calls fn with the member id and value of every entry of the
// given kind in userID's account, in key order. Both slices are only valid
// during the call.
func (tx *boltTx) eachEntry(userID string, kind byte, fn func(key, member, value []byte) error) error {
	prefix := append(accountKey(userID), kind)
	c := tx.btx.Bucket(bucketAccounts).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(k, k[len(prefix):], v); err != nil {
			return err
		}
	}
	return nil
}
