package webauthn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
)

// BeginLogin starts an authentication ceremony. With an empty allow list the
// login is discoverable (usernameless): the authenticator offers any passkey
// it holds for this RP. Otherwise allow lists the credentials the client may
// use; only ID and Transports are read. It
// returns the PublicKeyCredentialRequestOptionsJSON to send to the client and
// the session bytes to store server-side until FinishLogin.
func (rp *RP) BeginLogin(allow []Credential) (options json.RawMessage, session []byte, err error) {
	descs, err := descriptors(allow)
	if err != nil {
		return nil, nil, err
	}
	// The session is never bound to a user here: in a username-first login
	// the user may not exist, and in a discoverable login the user
	// is only known from the response. FinishLogin binds it instead.
	assertion, data, err := rp.lib.BeginDiscoverableLogin(
		gowebauthn.WithAllowedCredentials(descs),
		gowebauthn.WithUserVerification(rp.uv),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: begin login: %w", err)
	}
	if options, err = json.Marshal(assertion.Response); err != nil {
		return nil, nil, fmt.Errorf("webauthn: encode request options: %w", err)
	}
	if session, err = encodeSession(kindLogin, data); err != nil {
		return nil, nil, err
	}
	return options, session, nil
}

// Assertion is an AuthenticationResponseJSON parsed once, so the caller can
// find the account before verifying it.
type Assertion struct {
	// CredentialID identifies the passkey used.
	CredentialID []byte
	// UserHandle is the user handle the authenticator returned. It is always
	// present for discoverable credentials but may be empty when the login
	// named the user first; then look the user up by CredentialID.
	UserHandle []byte

	parsed *protocol.ParsedCredentialAssertionData
}

// ParseAssertion parses an AuthenticationResponseJSON (what
// credential.toJSON() returns after navigator.credentials.get). Nothing is
// verified yet; the IDs it returns are claims until FinishLogin succeeds.
func (rp *RP) ParseAssertion(response []byte) (*Assertion, error) {
	if len(response) > maxResponseSize {
		return nil, invalid("response too large", "")
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, invalid("malformed response", describe(err))
	}
	if len(parsed.RawID) > maxCredentialID {
		return nil, invalid("malformed response", "credential ID too long")
	}
	if len(parsed.Response.UserHandle) > maxUserHandle {
		return nil, invalid("malformed response", "user handle too long")
	}
	return &Assertion{
		CredentialID: bytes.Clone(parsed.RawID),
		UserHandle:   bytes.Clone(parsed.Response.UserHandle),
		parsed:       parsed,
	}, nil
}

// FinishLogin verifies an assertion against the session from BeginLogin and
// the credentials of user, the account the caller resolved from
// a.UserHandle (or a.CredentialID). The credential used must be one of creds
// and, when the response carries a user handle, it must equal user.Handle.
//
// It returns that credential with SignCount, BackupState and Record updated;
// the caller must persist it. A signature counter that did not increase
// (unless both old and new are zero) is rejected as a possible cloned
// authenticator.
func (rp *RP) FinishLogin(user User, creds []Credential, session []byte, a *Assertion) (*Credential, error) {
	if a == nil || a.parsed == nil {
		return nil, invalid("malformed response", "assertion was not parsed")
	}
	data, err := decodeSession(kindLogin, session, time.Now())
	if err != nil {
		return nil, err
	}
	if len(user.Handle) == 0 || len(user.Handle) > maxUserHandle {
		return nil, fmt.Errorf("webauthn: user handle must be 1 to %d bytes", maxUserHandle)
	}
	// §7.2 step 6: when the user was not named before the ceremony, the
	// response itself must say whose credential this is.
	if len(data.AllowedCredentialIDs) == 0 && len(a.UserHandle) == 0 {
		return nil, invalid("user handle missing", "discoverable login without a user handle")
	}
	if len(a.UserHandle) != 0 && !bytes.Equal(a.UserHandle, user.Handle) {
		return nil, invalid("user handle does not match", "")
	}

	// Only the credential used needs its record decoded; the others are
	// listed by ID so the library can check the allow list belongs to user.
	libCreds := make([]gowebauthn.Credential, len(creds))
	used := -1
	for i, c := range creds {
		libCreds[i].ID = c.ID
		if used < 0 && bytes.Equal(c.ID, a.CredentialID) {
			used = i
		}
	}
	if used < 0 {
		return nil, ErrUnknownCredential
	}
	rec, err := rp.records.decode(creds[used])
	if err != nil {
		return nil, err
	}
	// A warning left in a record is not this ceremony's verdict.
	rec.Authenticator.CloneWarning = false
	libCreds[used] = rec

	// The session was begun without a user; binding it to the user now is
	// what lets the library run its ownership and user handle checks.
	data.UserID = user.Handle
	out, err := rp.lib.ValidateLogin(&libUser{user: user, creds: libCreds}, data, a.parsed)
	if err != nil {
		if !time.Now().Before(data.Expires) {
			return nil, ErrExpired
		}
		return nil, fromLibrary(err)
	}
	if err := rp.checkFlags(a.parsed.Response.AuthenticatorData.Flags, false); err != nil {
		return nil, err
	}
	if err := CheckCounter(rec.Authenticator.SignCount, a.parsed.Response.AuthenticatorData.Counter); err != nil {
		return nil, err
	}
	return rp.records.encode(out)
}

// CheckCounter returns a verification error if an assertion's signature
// counter (received) does not move past the one stored for the credential,
// the mark of a cloned authenticator (WebAuthn §7.2 step 21). Two zeros
// pass: an authenticator that keeps no counter, as synced passkeys do,
// always reports zero. Callers that store the counter check again in the
// transaction that writes it, since a concurrent sign-in may have moved it.
func CheckCounter(stored, received uint32) error {
	if (received != 0 || stored != 0) && received <= stored {
		return invalid("signature counter did not increase: possible cloned authenticator",
			fmt.Sprintf("stored counter %d, received %d", stored, received))
	}
	return nil
}
