package tokens

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

// LogoutClaims are the claims of a logout token (OpenID Connect
// Back-Channel Logout 1.0 section 2.4). Times are whole seconds; the token
// carries a fresh jti and never a nonce.
type LogoutClaims struct {
	Issuer   string
	Audience string // the client_id
	Subject  string
	// SessionID is the sid of the client's ID tokens for the session that
	// ended.
	SessionID string
	IssuedAt  time.Time
	Expires   time.Time
}

// backchannelLogoutEvent is the one member of a logout token's events.
const backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// typLogoutToken is the explicit JOSE typ of a logout token (section 2.4,
// RFC 8725 section 3.11), so that no verifier takes it for an ID token.
const typLogoutToken = "logout+jwt"

type logoutPayload struct {
	Iss    string                     `json:"iss"`
	Aud    string                     `json:"aud"`
	Iat    int64                      `json:"iat"`
	Exp    int64                      `json:"exp"`
	Jti    string                     `json:"jti"`
	Sub    string                     `json:"sub,omitempty"`
	Sid    string                     `json:"sid,omitempty"`
	Events map[string]json.RawMessage `json:"events"`
}

// SignLogoutToken signs a logout token for c with key and returns it with
// its jti.
func SignLogoutToken(key *jose.SigningKey, c LogoutClaims) (token, jti string, err error) {
	if key == nil {
		return "", "", errors.New("tokens: no signing key for the logout token")
	}
	if c.Issuer == "" || c.Audience == "" || c.Subject == "" && c.SessionID == "" || c.IssuedAt.IsZero() || !c.Expires.After(c.IssuedAt) {
		return "", "", errors.New("tokens: a logout token needs iss, aud, sub or sid, iat and a later exp")
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	jti = b64.EncodeToString(id[:])
	payload, err := json.Marshal(logoutPayload{
		Iss: c.Issuer, Aud: c.Audience, Iat: c.IssuedAt.Unix(), Exp: c.Expires.Unix(), Jti: jti,
		Sub: c.Subject, Sid: c.SessionID,
		Events: map[string]json.RawMessage{backchannelLogoutEvent: json.RawMessage("{}")},
	})
	if err != nil {
		return "", "", fmt.Errorf("tokens: encode logout token: %w", err)
	}
	h, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		KID string `json:"kid"`
		Typ string `json:"typ"`
	}{key.Alg, key.ID, typLogoutToken})
	token, err = jose.SignCompact(key, b64.EncodeToString(h), payload)
	return token, jti, err
}
