package auth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzAuthorize sends arbitrary query strings to /authorize on a real app
// with a registered client: the answer is a page (200 sign-in, 400 error)
// or a 303 to a redirect URI registered for the client, never a 5xx and
// never a redirect anywhere else.
func FuzzAuthorize(f *testing.F) {
	e := newEnv(f)
	app := e.newRP(ClientOptions{ID: "web", RedirectURIs: []string{"https://web.example/cb", "http://127.0.0.1/cb"}})
	fl := app.newFlow(nil)
	f.Add(fl.params.Encode())
	f.Add(app.newFlow(url.Values{"prompt": {"none"}}).params.Encode())
	f.Add(app.newFlow(url.Values{"redirect_uri": {"http://127.0.0.1:8000/cb"}, "scope": {"openid x"}}).params.Encode())
	f.Add(app.newFlow(url.Values{"redirect_uri": {"https://evil.example/cb"}}).params.Encode())
	f.Add("client_id=web&request_uri=urn:ietf:params:oauth:request_uri:abc")
	f.Add("client_id=web&client_id=web")
	f.Add("%zz")
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest("GET", "/authorize", nil)
		req.URL.RawQuery = query
		res, err := e.srv.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		switch res.StatusCode {
		case http.StatusOK, http.StatusBadRequest:
		case http.StatusSeeOther:
			loc, err := url.Parse(res.Header.Get("Location"))
			if err != nil {
				t.Fatalf("Location %q", res.Header.Get("Location"))
			}
			target := loc.Scheme + "://" + loc.Host + loc.Path
			if target != "https://web.example/cb" && !(loc.Scheme == "http" && loc.Hostname() == "127.0.0.1" && loc.Path == "/cb") {
				t.Fatalf("redirect to %q for %q", loc, query)
			}
			if q := loc.Query(); q.Get("iss") != testIssuer || q.Get("code") != "" {
				t.Fatalf("redirect %q", loc)
			}
		default:
			t.Fatalf("%d for %q", res.StatusCode, query)
		}
		if !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Fatal("frameable answer")
		}
	})
}

// FuzzBackchannelLogoutURI: whatever a registration names, an accepted
// back-channel logout URI is an absolute https URL, or http to a loopback
// host, without a fragment or user information, and the delivery's
// request for it can be built.
func FuzzBackchannelLogoutURI(f *testing.F) {
	for _, s := range []string{"https://app.example/bcl", "http://127.0.0.1:9/x?y=1", "http://localhost./", "http://[::1]/",
		"https://a.example/#f", "https://u@a.example/", "http://10.0.0.1/", "//a.example/", "https:a.example", "http://127.0.0.1%2f@evil/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if checkBackchannelLogoutURI(raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.Fragment != "" || u.User != nil || strings.Contains(raw, "#") {
			t.Fatalf("accepted %q", raw)
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
			t.Fatalf("accepted %q", raw)
		}
		if _, err := http.NewRequest(http.MethodPost, raw, nil); err != nil {
			t.Fatalf("accepted %q, which no request can be made for: %v", raw, err)
		}
	})
}
