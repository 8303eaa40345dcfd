package webauthn

import (
	"strings"
	"testing"
	"time"
)

// TestNewValidatesConfig checks each configuration mistake is refused with a
// message naming the culprit, and that good configurations are accepted.
func TestNewValidatesConfig(t *testing.T) {
	base := func() Config {
		return Config{RPID: "example.com", RPDisplayName: "Latch", Origins: []string{"https://example.com"}}
	}
	cases := []struct {
		name    string
		adjust  func(*Config)
		wantErr string // empty: must be accepted
	}{
		{"minimal config is accepted", func(*Config) {}, ""},
		{"subdomain origin with a port is accepted", func(c *Config) { c.Origins = []string{"https://login.example.com:8443"} }, ""},
		{"localhost over plain http is accepted", func(c *Config) { c.RPID = "localhost"; c.Origins = []string{"http://localhost:8080"} }, ""},
		{"android app origin next to a web origin is accepted", func(c *Config) {
			c.Origins = append(c.Origins, "android:apk-key-hash:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")
		}, ""},
		{"missing RP ID", func(c *Config) { c.RPID = "" }, "RP ID is required"},
		{"IP address as RP ID", func(c *Config) { c.RPID = "127.0.0.1" }, `"127.0.0.1"`},
		{"upper-case RP ID", func(c *Config) { c.RPID = "Example.com" }, `"Example.com"`},
		{"missing display name", func(c *Config) { c.RPDisplayName = "" }, "display name"},
		{"no origins", func(c *Config) { c.Origins = nil }, "at least one origin"},
		{"origin on another domain names the origin", func(c *Config) { c.Origins = []string{"https://evil.example"} }, `"https://evil.example"`},
		{"origin on a look-alike suffix is refused", func(c *Config) { c.Origins = []string{"https://notexample.com"} }, `"https://notexample.com"`},
		{"origin with a path is refused", func(c *Config) { c.Origins = []string{"https://example.com/login"} }, `"https://example.com/login"`},
		{"plain http off localhost is refused", func(c *Config) { c.Origins = []string{"http://example.com"} }, "plain http"},
		{"unknown opaque origin is refused", func(c *Config) { c.Origins = []string{"https://example.com", "ftp:thing"} }, `"ftp:thing"`},
		{"only an app origin is refused", func(c *Config) {
			c.Origins = []string{"android:apk-key-hash:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}
		}, "https"},
		{"unknown user verification word", func(c *Config) { c.UserVerification = "always" }, `"always"`},
		{"sub-millisecond timeout", func(c *Config) { c.Timeout = time.Microsecond }, "timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := base()
			c.adjust(&cfg)
			rp, err := New(cfg)
			if c.wantErr == "" {
				if err != nil || rp == nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %q does not mention %q", err, c.wantErr)
			}
		})
	}
}

// TestNewAppliesTimeout checks the configured timeout reaches the options and
// the enforced session expiry.
func TestNewAppliesTimeout(t *testing.T) {
	rp := newTestRP(t, func(c *Config) { c.Timeout = 90 * time.Second })
	before := time.Now()
	_, session, err := rp.BeginLogin(nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := decodeSession(kindLogin, session, before)
	if err != nil {
		t.Fatal(err)
	}
	if d := data.Expires.Sub(before); d < 89*time.Second || d > 91*time.Second {
		t.Fatalf("session expires after %v, want about 90s", d)
	}
}
