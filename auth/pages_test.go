package auth

import (
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
