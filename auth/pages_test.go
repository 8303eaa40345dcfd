package auth

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestPagesAndAssetsAreServed(t *testing.T) {
	e := newEnv(t)
	for path, ctype := range map[string]string{
		"/":            "text/html; charset=utf-8",
		"/account":     "text/html; charset=utf-8",
		"/latch.js":    "text/javascript; charset=utf-8",
		"/style.css":   "text/css; charset=utf-8",
		"/favicon.svg": "image/svg+xml",
		"/favicon.ico": "image/svg+xml",
	} {
		r := e.request("GET", path, nil, nil)
		if r.status != 200 || r.header.Get("Content-Type") != ctype || len(r.raw) == 0 {
			t.Errorf("%s: %d %q", path, r.status, r.header.Get("Content-Type"))
		}
	}
	if r := e.request("GET", "/favicon.ico", nil, nil); !strings.Contains(string(r.raw), "<svg") {
		t.Errorf("favicon: %s", r.raw)
	}
	for _, page := range []string{"/", "/account"} {
		if r := e.request("GET", page, nil, nil); !strings.Contains(string(r.raw), `rel="icon" href="/favicon.svg"`) {
			t.Errorf("%s names no icon", page)
		}
	}
}

// The sign-up forms state the username rules before anyone types, tied to
// the field, and the rules they state are the ones NormalizeUsername applies.
func TestSignUpFormsStateTheUsernameRules(t *testing.T) {
	e := newEnv(t)
	app := e.newRP(ClientOptions{ID: "web", FirstParty: true})
	rules := fmt.Sprintf("%d to %d characters: letters, digits and . _ - @, no spaces", minUsernameLen, maxUsernameLen)
	for name, r := range map[string]*response{
		"home page":     e.request("GET", "/", nil, nil),
		"provider page": e.authorize(nil, app.newFlow(url.Values{"prompt": {"create"}})),
	} {
		page := string(r.raw)
		if r.status != 200 || !strings.Contains(page, rules) {
			t.Errorf("%s: %d, no %q", name, r.status, rules)
		}
		if !strings.Contains(page, `aria-describedby="signup-username-hint"`) || !strings.Contains(page, `id="signup-username-hint"`) {
			t.Errorf("%s: the hint is not tied to the username field", name)
		}
	}
	// What the hint promises, the service accepts, and what it rules out, it refuses.
	for raw, ok := range map[string]bool{"abc": true, "Zoë.o_b-c@x": true, "ab": false, strings.Repeat("a", 65): false, "a b c": false, "a+bc": false} {
		if _, err := NormalizeUsername(raw); (err == nil) != ok {
			t.Errorf("NormalizeUsername(%q): %v", raw, err)
		}
	}
}
