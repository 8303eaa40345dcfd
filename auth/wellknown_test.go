package auth

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/latchid/latch/webauthn/webauthntest"
)

const testFingerprint = "FA:C6:17:45:DC:09:03:78:6F:B9:ED:E6:2A:96:2B:39:9F:73:48:F0:BB:6F:89:9B:83:32:66:75:91:03:3B:9C"

func TestWellKnownDocumentsAreServedOnlyWhenConfigured(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/.well-known/webauthn", "/.well-known/assetlinks.json", "/.well-known/apple-app-site-association"} {
		if r := e.request("GET", p, nil, nil); r.status != 404 {
			t.Errorf("%s without configuration: %d %s", p, r.status, r.raw)
		}
	}

	app, err := ParseAndroidApp("com.example.wallet:" + strings.ToLower(testFingerprint))
	if err != nil {
		t.Fatal(err)
	}
	e = newEnv(t, func(c *Config) {
		c.RelatedOrigins = []string{"https://shop.example", "https://shop.example"}
		c.AndroidApps = []AndroidApp{app}
		c.AppleApps = []string{"ABCDE12345.com.example.wallet"}
	})
	r := e.request("GET", "/.well-known/webauthn", nil, nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("webauthn: %d %q %s", r.status, r.header.Get("Content-Type"), r.raw)
	}
	// Own origin and the related one, each once; never the app's opaque origin.
	if got := string(r.raw); got != `{"origins":["http://localhost:8080","https://shop.example"]}` {
		t.Errorf("webauthn document: %s", got)
	}

	r = e.request("GET", "/.well-known/assetlinks.json", nil, nil)
	var links []struct {
		Relation []string
		Target   struct {
			Namespace              string
			PackageName            string   `json:"package_name"`
			SHA256CertFingerprints []string `json:"sha256_cert_fingerprints"`
		}
	}
	if err := json.Unmarshal(r.raw, &links); err != nil || r.status != 200 || len(links) != 1 {
		t.Fatalf("assetlinks: %d %s %v", r.status, r.raw, err)
	}
	l := links[0]
	if l.Target.Namespace != "android_app" || l.Target.PackageName != "com.example.wallet" ||
		len(l.Target.SHA256CertFingerprints) != 1 || l.Target.SHA256CertFingerprints[0] != testFingerprint ||
		!strings.Contains(strings.Join(l.Relation, " "), "delegate_permission/common.get_login_creds") {
		t.Errorf("assetlinks statement: %s", r.raw)
	}

	r = e.request("GET", "/.well-known/apple-app-site-association", nil, nil)
	if r.status != 200 || string(r.raw) != `{"webcredentials":{"apps":["ABCDE12345.com.example.wallet"]}}` {
		t.Errorf("apple-app-site-association: %d %s", r.status, r.raw)
	}
}

func TestRelatedOriginsAndAndroidAppsCanSignUpAndIn(t *testing.T) {
	app, err := ParseAndroidApp("com.example.wallet:" + testFingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := app.Origin(), "android:apk-key-hash:-sYXRdwJA3hvue3mKpYrOZ9zSPC7b4mbgzJmdZEDO5w"; got != want {
		t.Fatalf("android origin %q, want %q", got, want)
	}
	e := newEnv(t, func(c *Config) {
		c.RelatedOrigins = []string{"https://shop.example"}
		c.AndroidApps = []AndroidApp{app}
	})
	for _, origin := range []string{"https://shop.example", app.Origin()} {
		u := e.newUser("u"+strings.NewReplacer(":", "", "/", "", ".", "", "-", "", "_", "").Replace(origin)[:12], false)
		u.authn = webauthntest.New("localhost", origin)
		if r := u.signUp(); r.status != 200 {
			t.Fatalf("sign-up from %s: %d %s", origin, r.status, r.raw)
		}
		if r := u.signIn("", webauthntest.Options{}); r.status != 200 {
			t.Fatalf("sign-in from %s: %d %s", origin, r.status, r.raw)
		}
	}
	// A site that is not listed is still refused.
	u := e.newUser("listed", false)
	u.signUp()
	expectError(t, u.signIn("", webauthntest.Options{Origin: "https://other.example"}), 400, "invalid_credential")
}

func TestWellKnownFlagsAreValidated(t *testing.T) {
	for _, v := range []string{
		"com.example.wallet",                                                 // no fingerprint
		"wallet:" + testFingerprint,                                          // one-segment package
		"com.example.wallet:" + testFingerprint[3:],                          // 31 bytes
		"com.example.wallet:" + strings.ReplaceAll(testFingerprint, ":", ""), // no colons
		"com.example.wallet:" + strings.Replace(testFingerprint, "FA", "FG", 1),
	} {
		if _, err := ParseAndroidApp(v); err == nil {
			t.Errorf("ParseAndroidApp(%q) accepted", v)
		}
	}
	bad := []func(*Config){
		func(c *Config) { c.RelatedOrigins = []string{"http://shop.example"} },
		func(c *Config) { c.RelatedOrigins = []string{"https://shop.example/path"} },
		func(c *Config) { c.RelatedOrigins = []string{"shop.example"} },
		func(c *Config) { c.AppleApps = []string{"com.example.wallet"} },
		func(c *Config) { c.AppleApps = []string{"abcde12345.com.example.wallet"} },
	}
	for i, mod := range bad {
		c := Config{}.Defaults()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("case %d: Validate accepted %+v %+v", i, c.RelatedOrigins, c.AppleApps)
		}
	}
	ok := Config{RelatedOrigins: []string{"https://shop.example", "http://localhost:3000"}, AppleApps: []string{"ABCDE12345.com.example.wallet"}}.Defaults()
	if err := ok.Validate(); err != nil {
		t.Errorf("valid configuration refused: %v", err)
	}
}
