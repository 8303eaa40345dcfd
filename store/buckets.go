package store

// Bucket names. Index buckets map a key to an id, or a composite or expiry
// key to nothing; the record always lives in its primary bucket.
var (
	bucketMeta = []byte("meta")

	bucketAccounts         = []byte("accounts")          // user, credentials and session index by user id: see accounts.go
	bucketUsernames        = []byte("usernames")         // normalised username -> user id
	bucketHandles          = []byte("handles")           // WebAuthn user handle -> user id
	bucketCredentialOwners = []byte("credential_owners") // credential id -> user id

	bucketCeremonies     = []byte("ceremonies")        // id -> ceremony
	bucketCeremonyExpiry = []byte("ceremonies_expiry") // expiry(expires, id) -> nil
	bucketSessions       = []byte("sessions")          // id -> session
	bucketSessionExpiry  = []byte("sessions_expiry")   // expiry(expires, id) -> nil
	bucketRefreshTokens  = []byte("refresh_tokens")    // hash -> refresh token (sessions now keep theirs: Session.Refresh)
	bucketRefreshExpiry  = []byte("refresh_expiry")    // expiry(expires, hash) -> nil
	bucketRevoked        = []byte("revoked")           // key -> until
	bucketRevokedExpiry  = []byte("revoked_expiry")    // expiry(until, key) -> nil
	bucketSigningKeys    = []byte("signing_keys")      // id -> sealed signing key
	bucketClients        = []byte("clients")           // id -> client
	bucketTOTP           = []byte("totp")              // user id -> sealed TOTP factor
	bucketAudit          = []byte("audit")             // be64(sequence) -> event
)

var allBuckets = [][]byte{
	bucketMeta,
	bucketAccounts, bucketUsernames, bucketHandles, bucketCredentialOwners,
	bucketCeremonies, bucketCeremonyExpiry,
	bucketSessions, bucketSessionExpiry,
	bucketRefreshTokens, bucketRefreshExpiry,
	bucketRevoked, bucketRevokedExpiry,
	bucketSigningKeys, bucketClients, bucketTOTP, bucketAudit,
	bucketStatusLists, bucketStatusEntries, bucketStatusSet,
}

// keyCheckName holds a sealed constant that proves, at Open, that the
// configured key-encryption key is the one the database was written with.
var keyCheckName = []byte("kek_check")

const keyCheckPlaintext = "latch store key check v1"
