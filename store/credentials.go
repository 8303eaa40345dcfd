package store

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Credential is a registered passkey. Record is the WebAuthn package's own
// encoding of the credential and is stored as given.
type Credential struct {
	ID             []byte    `json:"id"`
	UserID         string    `json:"user_id"`
	Name           string    `json:"name,omitempty"`
	CreatedAt      time.Time `json:"created_at,omitzero"`
	LastUsedAt     time.Time `json:"last_used_at,omitzero"`
	Transports     []string  `json:"transports,omitempty"`
	AAGUID         []byte    `json:"aaguid,omitempty"`
	BackupEligible bool      `json:"backup_eligible,omitempty"`
	BackupState    bool      `json:"backup_state,omitempty"`
	SignCount      uint32    `json:"sign_count,omitempty"`
	Record         []byte    `json:"record,omitempty"`
}

type credentialRecord struct {
	header
	Credential
}

// Credential returns the credential with the given raw ID, or ErrNotFound.
func (tx *boltTx) Credential(id []byte) (*Credential, error) {
	owner, err := tx.lookupIndex(bucketCredentialOwners, id)
	if err != nil {
		return nil, err
	}
	rec, err := memoGet(tx, &tx.db.credentials, bucketAccounts, entryKey(owner, entryCredential, id))
	if notFound(err) {
		return nil, fmt.Errorf("store: index points to missing credential of user %q", owner)
	}
	if err != nil {
		return nil, err
	}
	return &rec.Credential, nil
}

func (r credentialRecord) clone() credentialRecord {
	c := &r.Credential
	c.ID, c.Transports, c.AAGUID, c.Record = bytes.Clone(c.ID), slices.Clone(c.Transports), bytes.Clone(c.AAGUID), bytes.Clone(c.Record)
	return r
}

// CredentialsByUser returns the user's credentials, oldest first.
func (tx *boltTx) CredentialsByUser(userID string) ([]Credential, error) {
	var creds []Credential
	err := tx.eachEntry(userID, entryCredential, func(key, _, value []byte) error {
		rec, err := memoDecode(&tx.db.credentials, key, value)
		creds = append(creds, rec.Credential)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(creds, func(a, b Credential) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), bytes.Compare(a.ID, b.ID))
	})
	return creds, nil
}

// PutCredential inserts or updates c. It returns ErrCredentialExists if the
// credential ID is registered to another user: WebAuthn asks relying
// parties to refuse a credential ID that is already in use.
func (tx *boltTx) PutCredential(c *Credential) error {
	if err := checkKey("credential id", len(c.ID)); err != nil {
		return err
	}
	if err := checkKey("user id", len(c.UserID)); err != nil {
		return err
	}
	key := entryKey(c.UserID, entryCredential, c.ID)
	// An update of a credential already in the user's account (every
	// sign-in) has its owner entry in place: no need to look it up again.
	indexed := tx.raw(bucketAccounts, key) != nil
	if !indexed {
		// A new passkey needs its account: a write that lost a race with
		// the account's deletion must not leave a record nothing removes.
		if tx.raw(bucketAccounts, accountKey(c.UserID)) == nil {
			return ErrNotFound
		}
		owner, err := tx.lookupIndex(bucketCredentialOwners, c.ID)
		switch {
		case err == nil && owner != c.UserID:
			return ErrCredentialExists
		case err == nil:
			indexed = true
		case !notFound(err):
			return err
		}
	}
	rec := credentialRecord{header: current(), Credential: *c}
	rec.CreatedAt = utc(rec.CreatedAt)
	rec.LastUsedAt = utc(rec.LastUsedAt)
	if err := memoPut(tx, &tx.db.credentials, bucketAccounts, key, rec); err != nil {
		return err
	}
	if indexed {
		return nil
	}
	if err := tx.btx.Bucket(bucketCredentialOwners).Put(bytes.Clone(c.ID), []byte(c.UserID)); err != nil {
		return fmt.Errorf("store: put %s: %w", bucketCredentialOwners, err)
	}
	return nil
}

// DeleteCredential removes the credential, or returns ErrNotFound.
func (tx *boltTx) DeleteCredential(id []byte) error {
	c, err := tx.Credential(id)
	if err != nil {
		return err
	}
	if err := tx.del(bucketAccounts, entryKey(c.UserID, entryCredential, c.ID)); err != nil {
		return err
	}
	return tx.del(bucketCredentialOwners, c.ID)
}

func (r *credentialRecord) appendBinary(b []byte) []byte {
	c := &r.Credential
	b = appendString(b, c.Name)
	b = appendTime(b, c.CreatedAt)
	b = appendTime(b, c.LastUsedAt)
	b = appendStrings(b, c.Transports)
	b = appendBytes(b, c.AAGUID)
	b = appendBool(b, c.BackupEligible)
	b = appendBool(b, c.BackupState)
	b = appendUvarint(b, uint64(c.SignCount))
	return appendBytes(b, c.Record)
}

// decodeBinary takes the owner and the credential id from the key, an
// account entry key.
func (r *credentialRecord) decodeBinary(key []byte, d *reader) error {
	userID, rest, ok := splitAccountKey(key)
	if !ok || len(rest) < 2 || rest[0] != entryCredential {
		return fmt.Errorf("store: decode record: credential under a key that is not a credential's")
	}
	r.header = current()
	r.Credential = Credential{
		ID: bytes.Clone(rest[1:]), UserID: userID, Name: d.string(), CreatedAt: d.time(), LastUsedAt: d.time(),
		Transports: d.strings(), AAGUID: d.bytes(), BackupEligible: d.bool(), BackupState: d.bool(),
		SignCount: d.uint32(), Record: d.bytes(),
	}
	return nil
}

// AccountByHandle returns the user whose handle it is and its passkeys.
func (tx *boltTx) AccountByHandle(handle []byte) (*User, []Credential, error) {
	u, err := tx.UserByHandle(handle)
	if err != nil {
		return nil, nil, err
	}
	creds, err := tx.CredentialsByUser(u.ID)
	if err != nil {
		return nil, nil, err
	}
	return u, creds, nil
}
