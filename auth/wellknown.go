package auth

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// The documents that let other sites and native apps use this service's
// passkeys: WebAuthn related origins (Level 3 §5.11), Android Digital Asset
// Links and Apple's app-site association. Each is built once at start from
// validated flags and served as fixed bytes.

// AndroidApp is one Android app allowed to use the RP ID's passkeys: its
// package name and the SHA-256 fingerprint of its signing certificate.
type AndroidApp struct {
	Package     string
	Fingerprint [32]byte
}

// Origin is the WebAuthn origin the app's credential manager reports,
// android:apk-key-hash: followed by the unpadded base64url fingerprint.
func (a AndroidApp) Origin() string {
	return "android:apk-key-hash:" + base64.RawURLEncoding.EncodeToString(a.Fingerprint[:])
}

var (
	// androidPackage is a Java package name of two or more segments.
	androidPackage = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$`)
	// appleAppID is a ten-character team ID, a dot, and a bundle ID.
	appleAppID = regexp.MustCompile(`^[A-Z0-9]{10}\.[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$`)
)

// ParseAndroidApp parses PACKAGE:FINGERPRINT, the fingerprint as keytool
// prints it (32 colon-separated hex bytes, either case).
func ParseAndroidApp(v string) (AndroidApp, error) {
	pkg, fp, ok := strings.Cut(v, ":")
	if !ok || !androidPackage.MatchString(pkg) {
		return AndroidApp{}, fmt.Errorf("config: --android-app %q must be PACKAGE:SHA256_FINGERPRINT, e.g. com.example.app:AB:CD:…", v)
	}
	raw, err := hex.DecodeString(strings.ReplaceAll(fp, ":", ""))
	if err != nil || len(raw) != 32 || len(fp) != 32*3-1 {
		return AndroidApp{}, fmt.Errorf("config: --android-app %q: the fingerprint must be 32 colon-separated hex bytes (keytool -list prints it as SHA256)", v)
	}
	app := AndroidApp{Package: pkg}
	copy(app.Fingerprint[:], raw)
	return app, nil
}

// validateRelatedOrigins checks the --related-origins list: web origins, no
// path, https except on loopback. They need not share the RP ID: that is
// what the list is for.
func validateRelatedOrigins(origins []string) error {
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("config: related origin %q must be scheme://host[:port]", o)
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
			return fmt.Errorf("config: related origin %q must use https (plain http only on localhost)", o)
		}
	}
	return nil
}

// validateAppleApps checks --apple-app values.
func validateAppleApps(apps []string) error {
	for _, a := range apps {
		if !appleAppID.MatchString(a) {
			return fmt.Errorf("config: --apple-app %q must be TEAMID.BUNDLEID, e.g. ABCDE12345.com.example.app", a)
		}
	}
	return nil
}

// webauthnOrigins is every origin on the RP ID a ceremony may come from: the
// configured ones and the Android apps' origins, each once (related origins
// are passed on separately).
func (c Config) webauthnOrigins() []string {
	seen := map[string]bool{}
	var out []string
	add := func(o string) {
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	for _, o := range c.Origins {
		add(o)
	}
	for _, a := range c.AndroidApps {
		add(a.Origin())
	}
	return out
}

// wellKnownDocs builds the documents the configuration asks for; a nil
// entry is a document not served (404).
type wellKnownDocs struct {
	webauthn, assetLinks, appleAssociation []byte
}

func buildWellKnown(c Config) (wellKnownDocs, error) {
	var d wellKnownDocs
	var err error
	if len(c.RelatedOrigins) > 0 {
		// The list names the RP ID's own origins too: a client fetching it
		// for a ceremony on any listed site sees the whole set.
		origins := append([]string(nil), c.Origins...)
		for _, o := range c.RelatedOrigins {
			if !slices.Contains(origins, o) {
				origins = append(origins, o)
			}
		}
		if d.webauthn, err = json.Marshal(map[string][]string{"origins": webOnly(origins)}); err != nil {
			return d, err
		}
	}
	if len(c.AndroidApps) > 0 {
		// One statement per package, listing every certificate it may be
		// signed with; get_login_creds is what credential managers check
		// for passkeys, handle_all_urls keeps app links working too.
		fps := map[string][]string{}
		for _, a := range c.AndroidApps {
			fps[a.Package] = append(fps[a.Package], fingerprintText(a.Fingerprint))
		}
		pkgs := make([]string, 0, len(fps))
		for p := range fps {
			pkgs = append(pkgs, p)
		}
		sort.Strings(pkgs)
		type target struct {
			Namespace    string   `json:"namespace"`
			PackageName  string   `json:"package_name"`
			Fingerprints []string `json:"sha256_cert_fingerprints"`
		}
		type statement struct {
			Relation []string `json:"relation"`
			Target   target   `json:"target"`
		}
		var list []statement
		for _, p := range pkgs {
			list = append(list, statement{
				Relation: []string{"delegate_permission/common.handle_all_urls", "delegate_permission/common.get_login_creds"},
				Target:   target{Namespace: "android_app", PackageName: p, Fingerprints: fps[p]},
			})
		}
		if d.assetLinks, err = json.Marshal(list); err != nil {
			return d, err
		}
	}
	if len(c.AppleApps) > 0 {
		doc := map[string]map[string][]string{"webcredentials": {"apps": c.AppleApps}}
		if d.appleAssociation, err = json.Marshal(doc); err != nil {
			return d, err
		}
	}
	return d, nil
}

func webOnly(origins []string) []string {
	var out []string
	for _, o := range origins {
		if strings.HasPrefix(o, "https://") || strings.HasPrefix(o, "http://") {
			out = append(out, o)
		}
	}
	return out
}

// fingerprintText writes a fingerprint the way Digital Asset Links expect:
// upper-case hex bytes joined by colons.
func fingerprintText(fp [32]byte) string {
	parts := make([]string, len(fp))
	for i, b := range fp {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// wellKnownRoutes serves the documents that are configured. They are
// public and change only with the flags, so caches may keep them an hour.
func (s *Server) wellKnownRoutes(app *fiber.App) {
	serve := func(path string, body []byte) {
		if body == nil {
			return
		}
		app.Get(path, func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
			c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
			return c.Status(http.StatusOK).Send(body)
		})
	}
	serve("/.well-known/webauthn", s.wellKnown.webauthn)
	serve("/.well-known/assetlinks.json", s.wellKnown.assetLinks)
	serve("/.well-known/apple-app-site-association", s.wellKnown.appleAssociation)
}
