package auth

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an application error with an OAuth-style machine code, the HTTP
// status it maps to, and a description that is safe to show to a client.
// Anything that is not an *Error reaches the client as a generic 500.
type Error struct {
	Status      int
	Code        string
	Description string
	// RetryAfter, when positive, is sent as the Retry-After header (seconds).
	RetryAfter int
	// Extra members merged into the JSON error body (e.g. mfa_token).
	Extra map[string]any
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

// Errorf builds an *Error with a formatted description.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Description: fmt.Sprintf(format, args...)}
}

// Error codes of the HTTP contract.
const (
	CodeInvalidRequest    = "invalid_request"
	CodeInvalidCredential = "invalid_credential"
	CodeInvalidCeremony   = "invalid_ceremony"
	CodeInvalidGrant      = "invalid_grant"
	CodeInvalidCode       = "invalid_code"
	CodeInvalidDPoPProof  = "invalid_dpop_proof"
	CodeUseDPoPNonce      = "use_dpop_nonce"
	CodeInvalidToken      = "invalid_token"
	CodeMFARequired       = "mfa_required"
	CodeInvalidClient     = "invalid_client"
	CodeAccountDisabled   = "account_disabled"
	CodeNotFound          = "not_found"
	CodeUsernameTaken     = "username_taken"
	CodeLastCredential    = "last_credential"
	CodeRateLimited       = "rate_limited"
	CodeUnsupportedGrant  = "unsupported_grant_type"
	CodeMethodNotAllowed  = "method_not_allowed"
	CodeServerError       = "server_error"
	// CodeTemporarilyUnavailable (RFC 6749 section 5.2's spirit) says the
	// service cannot do it now, for instance because it cannot write.
	CodeTemporarilyUnavailable = "temporarily_unavailable"
	// CodeInsufficientAuth (RFC 9470) asks for a more recent sign-in.
	CodeInsufficientAuth = "insufficient_user_authentication"
	// CodeTOTPRequired asks an account recovery for its second step.
	CodeTOTPRequired = "totp_required"
)

func badRequest(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, CodeInvalidRequest, format, args...)
}

func errCeremony() *Error {
	return Errorf(http.StatusBadRequest, CodeInvalidCeremony, "unknown, expired or already used ceremony")
}

func errGrant(desc string) *Error {
	return Errorf(http.StatusBadRequest, CodeInvalidGrant, "%s", desc)
}

// errSessionEnded answers a refresh of a login session that has been ended
// (signed out elsewhere, by the account page, an operator, a recovery or a
// detected token reuse), with reason "session_ended" so that a client can
// tell the person rather than just show the sign-in page.
func errSessionEnded() *Error {
	e := errGrant("the login session has ended")
	e.Extra = map[string]any{"reason": "session_ended"}
	return e
}

func errCode(desc string) *Error {
	return Errorf(http.StatusBadRequest, CodeInvalidCode, "%s", desc)
}

func errNotFound(what string) *Error {
	return Errorf(http.StatusNotFound, CodeNotFound, "%s not found", what)
}

func errDisabled() *Error {
	return Errorf(http.StatusForbidden, CodeAccountDisabled, "the account is disabled")
}

// writeRetryAfter is the Retry-After, in seconds, of an answer refused
// because the store cannot write.
const writeRetryAfter = 5

// errUnavailable answers a request the store could not commit.
func errUnavailable() *Error {
	return &Error{
		Status: http.StatusServiceUnavailable, Code: CodeTemporarilyUnavailable,
		Description: "the service cannot save changes right now; nothing was saved: try again shortly (a sign-in or sign-up that was under way starts again with a new begin)",
		RetryAfter:  writeRetryAfter,
	}
}

// asError returns the *Error in err's chain, if any.
func asError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}
