package webauthn

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
)

// DefaultTimeout is the ceremony timeout used when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Minute

// User verification requirements accepted in Config.UserVerification.
const (
	UserVerificationRequired    = "required"
	UserVerificationPreferred   = "preferred"
	UserVerificationDiscouraged = "discouraged"
)

// Config describes the relying party. Only RPID, RPDisplayName and Origins
// are required; the zero values of the rest are the secure defaults.
type Config struct {
	// RPID is the relying party ID, a registrable domain such as
	// "example.com" or "localhost". Credentials are scoped to it.
	RPID string
	// RPDisplayName is the name the browser shows, such as "Latch".
	RPDisplayName string
	// Origins lists the exact origins a response may come from. Web origins
	// ("https://login.example.com", "http://localhost:8080") must be on the
	// RP ID or one of its subdomains. Native app origins such as
	// "android:apk-key-hash:<base64url>" are matched byte for byte.
	Origins []string
	// RelatedOrigins are web origins of other sites allowed to use the RP
	// ID's credentials (WebAuthn Level 3 §5.11, listed by the RP ID's
	// /.well-known/webauthn); they need not be on the RP ID.
	RelatedOrigins []string
	// UserVerification is "required" (the default, and what passwordless
	// login needs), "preferred" or "discouraged".
	UserVerification string
	// Timeout bounds each ceremony and is enforced when the response is
	// verified; zero means DefaultTimeout.
	Timeout time.Duration
}

// RP runs passkey ceremonies for one relying party. It is safe for
// concurrent use.
type RP struct {
	lib     *gowebauthn.WebAuthn
	uv      protocol.UserVerificationRequirement
	records recordMemo
}

// New validates cfg and returns a relying party. Errors name the offending
// field or origin so that a misconfiguration is caught at start-up.
func New(cfg Config) (*RP, error) {
	if cfg.RPID == "" {
		return nil, errors.New("webauthn: RP ID is required")
	}
	if err := protocol.ValidateRPID(cfg.RPID); err != nil || cfg.RPID != strings.ToLower(cfg.RPID) {
		return nil, fmt.Errorf("webauthn: RP ID %q is not a lower-case domain name", cfg.RPID)
	}
	if cfg.RPDisplayName == "" {
		return nil, errors.New("webauthn: RP display name is required")
	}
	if len(cfg.Origins) == 0 {
		return nil, errors.New("webauthn: at least one origin is required")
	}
	var web, opaque []string
	for i, origin := range slices.Concat(cfg.Origins, cfg.RelatedOrigins) {
		isWeb, err := checkOrigin(origin, cfg.RPID, i >= len(cfg.Origins))
		if err != nil {
			return nil, err
		}
		if isWeb {
			web = append(web, origin)
		} else {
			opaque = append(opaque, origin)
		}
	}
	if len(web) == 0 {
		// go-webauthn needs a web origin even when native apps are the
		// main clients; the web origin also anchors the RP ID.
		return nil, errors.New("webauthn: at least one https (or http://localhost) origin is required")
	}

	uv, err := parseUserVerification(cfg.UserVerification)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < time.Millisecond:
		// The library counts in whole milliseconds and reads 0 as "default".
		return nil, fmt.Errorf("webauthn: timeout %v must be at least 1ms", timeout)
	}
	// The same timeout applies whatever the user verification setting, and
	// the library enforces it at finish (it sets and checks Expires only
	// when Enforce is on).
	tc := gowebauthn.TimeoutConfig{Enforce: true, Timeout: timeout, TimeoutUVD: timeout}

	lib, err := gowebauthn.New(&gowebauthn.Config{
		RPID:                  cfg.RPID,
		RPDisplayName:         cfg.RPDisplayName,
		RPOrigins:             web,
		RPOpaqueOrigins:       opaque,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   uv,
		},
		Timeouts: gowebauthn.TimeoutsConfig{Login: tc, Registration: tc},
	})
	if err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	return &RP{lib: lib, uv: uv}, nil
}

// checkOrigin validates one configured origin and reports whether it is a web
// origin (as opposed to an opaque native-app origin). A related origin must
// be a web origin but may be on any host.
func checkOrigin(origin, rpID string, related bool) (web bool, err error) {
	if related && !strings.HasPrefix(origin, "https://") && !strings.HasPrefix(origin, "http://") {
		return false, fmt.Errorf("webauthn: related origin %q must be an http(s) origin", origin)
	}
	if !strings.HasPrefix(origin, "https://") && !strings.HasPrefix(origin, "http://") {
		if !protocol.IsKnownOpaqueOrigin(origin) {
			return false, fmt.Errorf("webauthn: origin %q is neither an http(s) origin nor a known app origin (prefixes %s)",
				origin, strings.Join(protocol.OpaqueOriginPrefixes(), ", "))
		}
		return false, nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return false, fmt.Errorf("webauthn: origin %q must be scheme://host[:port] with nothing after it", origin)
	}
	host := strings.ToLower(u.Hostname())
	if !related && host != rpID && !strings.HasSuffix(host, "."+rpID) {
		return false, fmt.Errorf("webauthn: origin %q: host %q is not the RP ID %q or a subdomain of it", origin, host, rpID)
	}
	// Browsers only offer WebAuthn in secure contexts, and plain http is
	// one only on localhost.
	if u.Scheme == "http" && host != "localhost" && !strings.HasSuffix(host, ".localhost") {
		return false, fmt.Errorf("webauthn: origin %q: plain http is only allowed for localhost", origin)
	}
	return true, nil
}

// parseUserVerification maps the configuration word to the library's value.
func parseUserVerification(s string) (protocol.UserVerificationRequirement, error) {
	switch s {
	case "", UserVerificationRequired:
		return protocol.VerificationRequired, nil
	case UserVerificationPreferred:
		return protocol.VerificationPreferred, nil
	case UserVerificationDiscouraged:
		return protocol.VerificationDiscouraged, nil
	}
	return "", fmt.Errorf("webauthn: user verification %q is not one of required, preferred, discouraged", s)
}
