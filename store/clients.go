package store

import "time"

// Client is a resource server allowed to call token introspection.
// SecretHash is the caller's hash of the client secret, stored as given.
type Client struct {
	ID         string    `json:"id"`
	SecretHash []byte    `json:"secret_hash"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	// RotatedAt is when the secret was last replaced; zero if never.
	RotatedAt time.Time `json:"rotated_at,omitzero"`
}

type clientRecord struct {
	header
	Client
}

// PutClient inserts or updates c.
func (tx *Tx) PutClient(c *Client) error {
	if err := checkKey("client id", len(c.ID)); err != nil {
		return err
	}
	rec := clientRecord{header: current(), Client: *c}
	rec.CreatedAt = utc(rec.CreatedAt)
	rec.RotatedAt = utc(rec.RotatedAt)
	return tx.put(bucketClients, []byte(c.ID), &rec)
}

// DeleteClient removes the client with the given id, or returns
// ErrNotFound.
func (tx *Tx) DeleteClient(id string) error {
	key := []byte(id)
	if tx.raw(bucketClients, key) == nil {
		return ErrNotFound
	}
	return tx.del(bucketClients, key)
}

// Client returns the client with the given id, or ErrNotFound.
func (tx *Tx) Client(id string) (*Client, error) {
	var rec clientRecord
	if err := tx.get(bucketClients, []byte(id), &rec); err != nil {
		return nil, err
	}
	return &rec.Client, nil
}

// Clients returns every client ordered by id.
func (tx *Tx) Clients() ([]Client, error) {
	var clients []Client
	c := tx.btx.Bucket(bucketClients).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var rec clientRecord
		if err := decode(v, &rec); err != nil {
			return nil, err
		}
		clients = append(clients, rec.Client)
	}
	return clients, nil
}
