package webauthn

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
)

// TestLibraryErrorsBecomeSafeReasons checks that library errors map to fixed
// client-safe reasons and that the values they quote stay in the detail.
func TestLibraryErrorsBecomeSafeReasons(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		reason string
	}{
		{"origin mismatch", protocol.ErrVerification.WithDetails("Error validating origin").WithInfo("Expected Values: [x], Received: https://evil.example"), "origin not allowed"},
		{"challenge mismatch", protocol.ErrVerification.WithDetails("Error validating challenge").WithInfo("Expected b Value: secret"), "challenge does not match the ceremony"},
		{"ceremony type", protocol.ErrVerification.WithDetails("Error validating ceremony type"), "wrong ceremony type"},
		{"RP ID hash", protocol.ErrVerification.WithInfo("RP Hash mismatch. Expected 00 and Received 11"), "RP ID hash does not match"},
		{"bad signature", protocol.ErrAssertionSignature.WithDetails("Error validating the assertion signature: crypto/ecdsa: verification error"), "signature did not verify"},
		{"parse failure", protocol.ErrParsingData.WithDetails("Error parsing attestation response"), "malformed response"},
		{"unknown credential", &protocol.ErrorUnknownCredential{Err: protocol.ErrBadRequest.WithDetails("not owned")}, "unknown credential"},
		{"unrecognised library error", protocol.ErrNotImplemented.WithDetails("something new"), "verification failed"},
		{"plain error", errors.New("boom"), "verification failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := fromLibrary(c.err)
			if !errors.Is(err, ErrInvalidCredential) {
				t.Fatalf("%v does not wrap ErrInvalidCredential", err)
			}
			var ve *VerificationError
			if !errors.As(err, &ve) || ve.Reason != c.reason {
				t.Fatalf("reason of %v, want %q", err, c.reason)
			}
			if err.Error() != "invalid credential: "+c.reason {
				t.Fatalf("client message %q carries more than the reason", err)
			}
			var perr *protocol.Error
			if errors.As(err, &perr) {
				t.Fatal("library error type reachable through the returned error")
			}
			if !strings.Contains(ve.Detail(), c.err.Error()) {
				t.Fatalf("detail %q lost the library's explanation", ve.Detail())
			}
		})
	}
}

// TestVerificationErrorMatching checks errors.Is works on reasons and
// through wrapping.
func TestVerificationErrorMatching(t *testing.T) {
	unknown := fmt.Errorf("login: %w", invalid("unknown credential", "detail"))
	cases := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"unknown credential matches ErrUnknownCredential", unknown, ErrUnknownCredential, true},
		{"unknown credential is an invalid credential", unknown, ErrInvalidCredential, true},
		{"other reasons do not match ErrUnknownCredential", invalid("origin not allowed", ""), ErrUnknownCredential, false},
		{"verification errors are not expiries", unknown, ErrExpired, false},
	}
	for _, c := range cases {
		if got := errors.Is(c.err, c.target); got != c.want {
			t.Errorf("%s: errors.Is = %v", c.name, got)
		}
	}
}
