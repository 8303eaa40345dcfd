package store

import (
	"slices"
	"time"
)

// Client is a registered client: a resource server allowed to call token
// introspection (the fields up to RotatedAt, all that records written
// before OpenID Connect have), and, once it has redirect URIs, an OpenID
// Connect relying party. SecretHash is the caller's hash of the client
// secret, stored as given; a public client has none.
type Client struct {
	ID         string    `json:"id"`
	SecretHash []byte    `json:"secret_hash,omitempty"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	// RotatedAt is when the secret was last replaced; zero if never.
	RotatedAt time.Time `json:"rotated_at,omitzero"`

	// RedirectURIs are the exact redirect URIs of the authorization code
	// flow; none means the client is for introspection only.
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// Public marks a client that holds no secret (a SPA or native app):
	// PKCE alone protects its codes.
	Public bool `json:"public,omitempty"`
	// FirstParty clients skip the consent page and get refresh tokens
	// without offline_access.
	FirstParty bool `json:"first_party,omitempty"`
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser back to.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// WebOrigins are the browser origins the client's pages call from.
	WebOrigins []string `json:"web_origins,omitempty"`
	// IDTokenAlg is the JWS algorithm of the client's ID tokens; empty
	// means the signing key's (ES256 by default).
	IDTokenAlg string `json:"id_token_alg,omitempty"`
	// JWKSURI or JWKS (a JWK Set document) hold the client's public keys
	// for private_key_jwt authentication (RFC 7523).
	JWKSURI string `json:"jwks_uri,omitempty"`
	JWKS    []byte `json:"jwks,omitempty"`
	// BackchannelLogoutURI is where the client's logout tokens are POSTed
	// (OpenID Connect Back-Channel Logout 1.0); empty for none.
	BackchannelLogoutURI string `json:"backchannel_logout_uri,omitempty"`
}

type clientRecord struct {
	header
	Client
}

// Clients are read at every token request of theirs, so they go through a
// memo (memo.go) like the other hot records: a record decoded once.
func (r clientRecord) clone() clientRecord {
	c := &r.Client
	c.SecretHash, c.JWKS = slices.Clone(c.SecretHash), slices.Clone(c.JWKS)
	c.RedirectURIs, c.PostLogoutRedirectURIs = slices.Clone(c.RedirectURIs), slices.Clone(c.PostLogoutRedirectURIs)
	c.WebOrigins = slices.Clone(c.WebOrigins)
	return r
}

// PutClient inserts or updates c.
func (tx *boltTx) PutClient(c *Client) error {
	if err := checkKey("client id", len(c.ID)); err != nil {
		return err
	}
	rec := clientRecord{header: current(), Client: *c}
	rec.CreatedAt = utc(rec.CreatedAt)
	rec.RotatedAt = utc(rec.RotatedAt)
	return memoPut(tx, &tx.db.clients, bucketClients, []byte(c.ID), rec)
}

// DeleteClient removes the client with the given id, or returns
// ErrNotFound.
func (tx *boltTx) DeleteClient(id string) error {
	key := []byte(id)
	if tx.raw(bucketClients, key) == nil {
		return ErrNotFound
	}
	return tx.del(bucketClients, key)
}

// Client returns the client with the given id, or ErrNotFound.
func (tx *boltTx) Client(id string) (*Client, error) {
	rec, err := memoGet(tx, &tx.db.clients, bucketClients, []byte(id))
	if err != nil {
		return nil, err
	}
	return &rec.Client, nil
}

// Clients returns every client ordered by id.
func (tx *boltTx) Clients() ([]Client, error) {
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
