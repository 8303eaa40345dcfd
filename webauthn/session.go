package webauthn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
)

// Ceremony kinds recorded in a session so that one kind's session cannot be
// finished as the other.
const (
	kindRegistration = "registration"
	kindLogin        = "login"
)

// maxSessionSize bounds stored session bytes before decoding. A session holds
// a challenge and at most a user's allow list.
const maxSessionSize = 256 << 10

// sessionEnvelope is the stored form of a ceremony: the go-webauthn session
// data as JSON, tagged with the ceremony kind.
type sessionEnvelope struct {
	Kind string                 `json:"kind"`
	Data gowebauthn.SessionData `json:"data"`
}

// encodeSession serialises session data for the caller to store.
func encodeSession(kind string, data *gowebauthn.SessionData) ([]byte, error) {
	b, err := json.Marshal(sessionEnvelope{Kind: kind, Data: *data})
	if err != nil {
		return nil, fmt.Errorf("webauthn: encode session: %w", err)
	}
	return b, nil
}

// decodeSession parses stored session bytes of the given kind into a fresh
// value and refuses anything this package would not have written. It returns
// ErrExpired when the ceremony has timed out.
func decodeSession(kind string, b []byte, now time.Time) (gowebauthn.SessionData, error) {
	var env sessionEnvelope
	if len(b) == 0 || len(b) > maxSessionSize {
		return env.Data, ErrInvalidSession
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return env.Data, fmt.Errorf("%w: %v", ErrInvalidSession, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return env.Data, fmt.Errorf("%w: trailing data", ErrInvalidSession)
	}
	if env.Kind != kind {
		return env.Data, fmt.Errorf("%w: a %s session cannot finish a %s", ErrInvalidSession, env.Kind, kind)
	}
	if env.Data.Challenge == "" || env.Data.Expires.IsZero() {
		// Every session we write has a challenge and, since timeouts are
		// always enforced, an expiry.
		return env.Data, fmt.Errorf("%w: missing challenge or expiry", ErrInvalidSession)
	}
	if !now.Before(env.Data.Expires) {
		return env.Data, ErrExpired
	}
	return env.Data, nil
}
