package store

import "time"

// Consent is a user's decision to let a client have the scopes listed.
// Consents are kept in the user's account (prefix(user id) 'g' client id),
// so deleting the account deletes them.
type Consent struct {
	UserID    string    `json:"-"`
	ClientID  string    `json:"-"`
	Scopes    []string  `json:"scopes"`
	GrantedAt time.Time `json:"granted_at"`
}

// entryConsent is the account entry kind of a consent ("grant").
const entryConsent byte = 'g'

type consentRecord struct {
	header
	Consent
}

// PutConsent records or replaces c.
func (tx *boltTx) PutConsent(c *Consent) error {
	if err := checkKey("user id", len(c.UserID)); err != nil {
		return err
	}
	if err := checkKey("client id", len(c.ClientID)); err != nil {
		return err
	}
	rec := consentRecord{header: current(), Consent: *c}
	rec.GrantedAt = utc(rec.GrantedAt)
	return tx.put(bucketAccounts, entryKey(c.UserID, entryConsent, []byte(c.ClientID)), &rec)
}

// Consent returns the user's consent for the client, or ErrNotFound.
func (tx *boltTx) Consent(userID, clientID string) (*Consent, error) {
	if len(userID) == 0 || len(userID) > maxKeyLen || len(clientID) == 0 || len(clientID) > maxKeyLen {
		return nil, ErrNotFound
	}
	var rec consentRecord
	if err := tx.get(bucketAccounts, entryKey(userID, entryConsent, []byte(clientID)), &rec); err != nil {
		return nil, err
	}
	rec.UserID, rec.ClientID = userID, clientID
	return &rec.Consent, nil
}

// Consents returns the user's consents ordered by client id.
func (tx *boltTx) Consents(userID string) ([]Consent, error) {
	var out []Consent
	err := tx.eachEntry(userID, entryConsent, func(_, member, value []byte) error {
		var rec consentRecord
		if err := decode(value, &rec); err != nil {
			return err
		}
		rec.UserID, rec.ClientID = userID, string(member)
		out = append(out, rec.Consent)
		return nil
	})
	return out, err
}

// DeleteConsent withdraws the user's consent for the client; a missing one
// is not an error.
func (tx *boltTx) DeleteConsent(userID, clientID string) error {
	if len(userID) == 0 || len(userID) > maxKeyLen || len(clientID) == 0 || len(clientID) > maxKeyLen {
		return nil
	}
	return tx.del(bucketAccounts, entryKey(userID, entryConsent, []byte(clientID)))
}
