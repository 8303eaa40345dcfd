package store

import (
	"errors"
	"time"
)

// Ceremony is a pending WebAuthn ceremony or another single-use,
// short-lived handle (such as an MFA token). Session is the ceremony state,
// opaque to the store.
type Ceremony struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	UserID      string    `json:"user_id,omitempty"`
	Username    string    `json:"username,omitempty"`
	DisplayName string    `json:"display_name,omitempty"`
	Handle      []byte    `json:"handle,omitempty"`
	Session     []byte    `json:"session,omitempty"`
	AMR         []string  `json:"amr,omitempty"`
	AuthTime    time.Time `json:"auth_time,omitzero"`
	ExpiresAt   time.Time `json:"expires_at"`
	// Parent is the id of the ceremony this one belongs to, if any (a
	// passkey registration inside an account recovery).
	Parent string `json:"parent,omitempty"`
}

type ceremonyRecord struct {
	header
	Ceremony
}

// A ceremony is stored in the binary record encoding (codec.go), its
// expiry first so that ceremonyExpiry reads just that. Ceremonies are the
// hot records of every sign-in and every code exchange: JSON spent most of
// their cost on base64 of the opaque state and on field names.
func (r *ceremonyRecord) appendBinary(b []byte) []byte {
	c := &r.Ceremony
	b = appendTime(b, c.ExpiresAt)
	b = appendText(b, c.Kind)
	b = appendID(b, c.UserID)
	b = appendString(b, c.Username)
	b = appendString(b, c.DisplayName)
	b = appendBytes(b, c.Handle)
	b = appendBytes(b, c.Session)
	b = appendTexts(b, c.AMR)
	b = appendTimeFrom(b, c.ExpiresAt, c.AuthTime)
	return appendID(b, c.Parent)
}

func (r *ceremonyRecord) decodeBinary(key []byte, d *reader) error {
	r.header = current()
	c := &r.Ceremony
	*c = Ceremony{ID: string(key)}
	c.ExpiresAt, c.Kind, c.UserID = d.time(), d.id(), d.id()
	c.Username, c.DisplayName, c.Handle, c.Session = d.string(), d.string(), d.bytes(), d.bytes()
	c.AMR, c.AuthTime, c.Parent = d.texts(), d.timeFrom(c.ExpiresAt), d.id()
	return nil
}

// PutCeremony inserts or replaces c. ExpiresAt is required: a ceremony that
// never expires would be a challenge that can be answered forever.
func (tx *boltTx) PutCeremony(c *Ceremony) error {
	if err := checkKey("ceremony id", len(c.ID)); err != nil {
		return err
	}
	if c.ExpiresAt.IsZero() {
		return errors.New("store: ceremony has no expiry")
	}
	key := []byte(c.ID)
	var old ceremonyExpiry
	switch err := tx.get(bucketCeremonies, key, &old); {
	case err == nil:
	case notFound(err):
	default:
		return err
	}
	rec := ceremonyRecord{header: current(), Ceremony: *c}
	rec.AuthTime = utc(rec.AuthTime)
	rec.ExpiresAt = utc(rec.ExpiresAt)
	if err := tx.put(bucketCeremonies, key, &rec); err != nil {
		return err
	}
	return tx.reindexExpiry(bucketCeremonyExpiry, key, old.ExpiresAt, rec.ExpiresAt)
}

// Ceremony returns the ceremony with the given id, or ErrNotFound if it is
// missing or expired at now (a ceremony not yet swept is still refused).
func (tx *boltTx) Ceremony(id string, now time.Time) (*Ceremony, error) {
	var rec ceremonyRecord
	if err := tx.get(bucketCeremonies, []byte(id), &rec); err != nil {
		return nil, err
	}
	if !now.Before(rec.ExpiresAt) {
		return nil, ErrNotFound
	}
	return &rec.Ceremony, nil
}

// ceremonyExpiry is the part of a ceremony record that replacing or deleting
// it needs (its expiry index entry); decoding just that skips the opaque
// ceremony state.
type ceremonyExpiry struct {
	header
	ExpiresAt time.Time `json:"expires_at"`
}

// appendBinary writes the start of a ceremony record; a ceremonyExpiry is
// only ever read, but decoding through decodeAt needs both halves.
func (r *ceremonyExpiry) appendBinary(b []byte) []byte { return appendTime(b, r.ExpiresAt) }

func (r *ceremonyExpiry) decodeBinary(_ []byte, d *reader) error {
	r.header, r.ExpiresAt = current(), d.time()
	return nil
}

// DeleteCeremony removes the ceremony; a missing one is not an error, so a
// ceremony can be consumed whether or not it was already swept.
func (tx *boltTx) DeleteCeremony(id string) error {
	key := []byte(id)
	var rec ceremonyExpiry
	if err := tx.get(bucketCeremonies, key, &rec); err != nil {
		if notFound(err) {
			return nil
		}
		return err
	}
	return tx.deleteCeremony(key, rec.ExpiresAt)
}

// takeCeremony consumes a live ceremony: it returns ErrNotFound if the
// ceremony is missing or expired at now, and deletes and returns it
// otherwise. Of two concurrent finishes of a parked ceremony, only one
// gets it.
func (tx *boltTx) takeCeremony(id string, now time.Time) (*Ceremony, error) {
	c, err := tx.Ceremony(id, now)
	if err != nil {
		return nil, err
	}
	return c, tx.deleteCeremony([]byte(id), c.ExpiresAt)
}

func (tx *boltTx) deleteCeremony(key []byte, expires time.Time) error {
	if err := tx.reindexExpiry(bucketCeremonyExpiry, key, expires, time.Time{}); err != nil {
		return err
	}
	return tx.del(bucketCeremonies, key)
}
