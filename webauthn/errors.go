package webauthn

import (
	"errors"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
)

var (
	// ErrInvalidCredential is wrapped by every error that reports a WebAuthn
	// response failing verification. The text of such an error is safe to
	// show a client: it names the check that failed, never library internals.
	ErrInvalidCredential = errors.New("invalid credential")

	// ErrUnknownCredential reports an assertion made with a credential that is
	// not one of the user's. It wraps ErrInvalidCredential; callers may use it
	// to signal the client that the credential no longer exists.
	ErrUnknownCredential = &VerificationError{Reason: "unknown credential"}

	// ErrExpired reports that the ceremony session timed out before the
	// response arrived.
	ErrExpired = errors.New("webauthn: ceremony expired")

	// ErrInvalidSession reports session bytes that this package did not write
	// for this kind of ceremony (for example a login session handed to
	// FinishRegistration). Callers treat it like an unknown ceremony.
	ErrInvalidSession = errors.New("webauthn: invalid ceremony session")
)

// maxResponseSize bounds a client's response before any parsing happens. A
// real response is a few KiB; the HTTP layer applies the same limit to the
// whole body.
const maxResponseSize = 64 << 10

// VerificationError is the concrete error behind ErrInvalidCredential. Reason
// is a short client-safe description; the detail kept for operator logs may
// quote the failing values (origins, hashes) but never a secret.
type VerificationError struct {
	// Reason names the failed check in words a client may see.
	Reason string
	detail string
}

// Error returns "invalid credential: <reason>".
func (e *VerificationError) Error() string {
	return ErrInvalidCredential.Error() + ": " + e.Reason
}

// Unwrap makes errors.Is(err, ErrInvalidCredential) hold.
func (e *VerificationError) Unwrap() error { return ErrInvalidCredential }

// Is matches two verification errors with the same reason, so that
// errors.Is(err, ErrUnknownCredential) works whatever the detail.
func (e *VerificationError) Is(target error) bool {
	t, ok := target.(*VerificationError)
	return ok && t.Reason == e.Reason
}

// Detail returns the operator-facing explanation of the failure, which can be
// more specific than Reason. It is meant for logs, not for clients.
func (e *VerificationError) Detail() string {
	if e.detail == "" {
		return e.Reason
	}
	return e.detail
}

// invalid builds a verification error with the given client-safe reason.
func invalid(reason, detail string) error {
	return &VerificationError{Reason: reason, detail: detail}
}

// fromLibrary turns a go-webauthn verification error into a
// VerificationError. The library's own messages mix fixed wording with the
// values it compared, so only a fixed reason chosen here reaches the client.
func fromLibrary(err error) error {
	if err == nil {
		return nil
	}
	var unknown *protocol.ErrorUnknownCredential
	if errors.As(err, &unknown) {
		return &VerificationError{Reason: ErrUnknownCredential.Reason, detail: describe(err)}
	}
	return &VerificationError{Reason: reasonFor(err), detail: describe(err)}
}

// describe flattens a library error, including its developer info, for logs.
func describe(err error) string {
	var perr *protocol.Error
	if errors.As(err, &perr) {
		parts := []string{perr.Type}
		if perr.Details != "" {
			parts = append(parts, perr.Details)
		}
		if perr.DevInfo != "" {
			parts = append(parts, perr.DevInfo)
		}
		return strings.Join(parts, ": ")
	}
	return err.Error()
}

// reasonFor maps a library error to one of a fixed set of client-safe
// reasons, matching on the library's stable wording.
func reasonFor(err error) string {
	var perr *protocol.Error
	if !errors.As(err, &perr) {
		return "verification failed"
	}
	text := perr.Details + " " + perr.DevInfo
	switch {
	case perr.Type == protocol.ErrParsingData.Type:
		return "malformed response"
	case perr.Type == protocol.ErrAssertionSignature.Type,
		strings.Contains(text, "signature"), strings.Contains(text, "Signature"):
		return "signature did not verify"
	case strings.Contains(text, "ceremony type"):
		return "wrong ceremony type"
	case strings.Contains(text, "challenge"):
		return "challenge does not match the ceremony"
	case strings.Contains(text, "top origin"), strings.Contains(text, "topOrigin"),
		strings.Contains(text, "cross origin"):
		return "cross-origin use not allowed"
	case strings.Contains(text, "origin"):
		return "origin not allowed"
	case strings.Contains(text, "RP Hash mismatch"):
		return "RP ID hash does not match"
	case strings.Contains(text, "User presence"):
		return "user presence required"
	case strings.Contains(text, "User verification"):
		return "user verification required"
	case strings.Contains(text, "Backup"):
		return "inconsistent backup flags"
	case strings.Contains(text, "User handle"), strings.Contains(text, "ID mismatch"):
		return "user handle does not match"
	case strings.Contains(text, "extension"):
		return "unexpected extension output"
	case strings.Contains(text, "algorithm"), strings.Contains(text, "COSE alg"):
		return "unsupported algorithm"
	case perr.Type == protocol.ErrBadRequest.Type && strings.Contains(text, "Parse error"):
		return "malformed response"
	}
	return "verification failed"
}
