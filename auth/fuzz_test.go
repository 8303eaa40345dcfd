package auth

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestParseAuthorization(t *testing.T) {
	cases := []struct {
		in    string
		dpop  bool
		token string
		ok    bool
	}{
		{"Bearer abc.def.ghi", false, "abc.def.ghi", true},
		{"bearer abc", false, "abc", true},
		{"DPoP abc-_.~+/==", true, "abc-_.~+/==", true},
		{"dpop abc", true, "abc", true},
		{"Basic dXNlcjpwYXNz", false, "", false},
		{"Bearer", false, "", false},
		{"Bearer ", false, "", false},
		{"Bearer a b", false, "", false},
		{"Bearer a,b", false, "", false},
		{"Bearer =abc", false, "", false},
		{"Bearer ab=c", false, "", false},
		{"Bearer  abc", false, "", false},
		{"Bearer " + strings.Repeat("a", 9000), false, "", false},
	}
	for _, tc := range cases {
		dpop, token, err := parseAuthorization([]byte(tc.in))
		if (err == nil) != tc.ok || dpop != tc.dpop || token != tc.token {
			t.Errorf("parseAuthorization(%.40q) = %v, %q, %v", tc.in, dpop, token, err)
		}
	}
}

// FuzzParseAuthorization: any header value either parses into a scheme and
// a token68 that round-trips, or is refused with invalid_token; never a panic.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"Bearer abc", "DPoP eyJ.eyJ.sig", "Basic x", "", " ", "DPoP a==", "Bearer \xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		dpop, token, err := parseAuthorization(value)
		if err != nil {
			if e, ok := asError(err); !ok || e.Code != CodeInvalidToken || e.Status != 401 {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if !isToken68(token) {
			t.Fatalf("accepted a token that is not token68: %q", token)
		}
		scheme := "Bearer"
		if dpop {
			scheme = "DPoP"
		}
		if !strings.EqualFold(string(value), scheme+" "+token) {
			t.Fatalf("%q did not round-trip as %s %q", value, scheme, token)
		}
	})
}

// FuzzRevoke sends arbitrary tokens, DPoP headers and Authorization headers
// to /revoke on a real app holding real bound tokens and credentials: every
// answer is 200 or a 4xx with the contract's error body, never a 5xx.
func FuzzRevoke(f *testing.F) {
	e := newEnv(f)
	alice := e.newUser("alice", true)
	alice.signUp()
	cred := alice.call("POST", "/credentials/sd-jwt", map[string]any{}).str("credential")
	proof := alice.key.proof(f, e.clock.Now(), "POST", "/revoke", "")
	f.Add(alice.refresh, proof, "")
	f.Add(alice.access, "", "DPoP "+alice.access)
	f.Add(cred, proof, "")
	f.Add(cred[:strings.IndexByte(cred, '~')], "x.y.z", "Basic YXBpOnNlY3JldA==")
	f.Add("a.b.c~", "", "Bearer abc")
	f.Fuzz(func(t *testing.T, token, dpop, authz string) {
		req := httptest.NewRequest("POST", "/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if dpop != "" {
			req.Header.Set("DPoP", dpop)
		}
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		if req.Header.Get("DPoP") != dpop || req.Header.Get("Authorization") != authz {
			return // not representable as a header value
		}
		res, err := e.srv.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode == 200 {
			return
		}
		var out map[string]any
		if res.StatusCode < 400 || res.StatusCode >= 500 || json.Unmarshal(body, &out) != nil || out["error"] == nil || out["error_description"] == nil {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
	})
}

// FuzzRecovery sends arbitrary bodies to the recovery endpoints of a real
// app with an account holding real codes: every answer is a 4xx with the
// contract's error body, or a 200 from /recovery/start that only a body
// naming the account with one of its codes can get; never a 5xx.
func FuzzRecovery(f *testing.F) {
	e := newEnv(f)
	alice := e.newUser("alice", true)
	alice.signUp()
	r := alice.call("POST", "/me/recovery-codes", nil)
	var codes []string
	for _, c := range r.body["recovery_codes"].([]any) {
		codes = append(codes, c.(string))
	}
	f.Add(0, `{"username":"alice","recovery_code":"`+codes[0]+`"}`)
	f.Add(0, `{"username":"alice","recovery_code":"`+codes[1]+`","totp_code":"123456"}`)
	f.Add(0, `{"username":"alice","recovery_code":"x","second_recovery_code":"y"}`)
	f.Add(1, `{"recovery_token":"abc"}`)
	f.Add(2, `{"recovery_token":"abc","ceremony":"x","credential":{"id":"AA"}}`)
	f.Add(0, `{"username":"\u0000","recovery_code":1}`)
	paths := []string{"/recovery/start", "/recovery/register/begin", "/recovery/register/finish"}
	f.Fuzz(func(t *testing.T, which int, body string) {
		path := paths[uint(which)%uint(len(paths))]
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := e.srv.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		if res.StatusCode == 200 {
			var req recoveryStartRequest
			named := json.Unmarshal([]byte(body), &req) == nil && strings.EqualFold(req.Username, "alice")
			known := false
			for _, c := range codes {
				known = known || string(e.srv.recoveryHash(c)) == string(e.srv.recoveryHash(req.RecoveryCode))
			}
			if path != "/recovery/start" || !named || !known || out["recovery_token"] == nil {
				t.Fatalf("200 from %s for %q: %s", path, body, raw)
			}
			return
		}
		if res.StatusCode < 400 || res.StatusCode >= 500 || out["error"] == nil || out["error_description"] == nil {
			t.Fatalf("%s %q: %d %s", path, body, res.StatusCode, raw)
		}
	})
}

// FuzzCORS: whatever the Origin, method and path, an Access-Control-Allow-
// Origin is sent only to the registered origin, byte for byte, and never
// "*"; a preflight is answered (204) only for it. Never a panic.
func FuzzCORS(f *testing.F) {
	e := newEnv(f, withWebOrigin(webApp))
	for _, s := range [][3]string{
		{webApp, "OPTIONS", "/token"}, {webApp, "GET", "/userinfo"}, {"null", "OPTIONS", "/token"},
		{webApp + "/", "OPTIONS", "/latch.js"}, {"*", "GET", "/latch/v0.1.0/latch.js"}, {"", "OPTIONS", "/me/x"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, origin, method, path string) {
		printable := func(v string, extra string) bool {
			for _, c := range []byte(v) {
				if c < 0x21 || c > 0x7e || strings.IndexByte(extra, c) >= 0 {
					return false
				}
			}
			return true
		}
		if !strings.HasPrefix(path, "/") || !printable(path, "?#%") || !printable(origin, "") || method == "" ||
			!printable(method, "()<>@,;:\\\"/[]?={}") {
			return // not a request a client could send
		}
		req := httptest.NewRequest(method, "http://localhost:8080"+path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		res, err := e.srv.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		got := res.Header.Get("Access-Control-Allow-Origin")
		if got != "" && (got != webApp || origin != webApp) {
			t.Fatalf("Allow-Origin %q for Origin %q", got, origin)
		}
		if method == "OPTIONS" && res.StatusCode == 204 && origin != webApp {
			t.Fatalf("preflight from %q answered", origin)
		}
	})
}

// FuzzWebOrigin: a --web-origin value is accepted only if it is exactly an
// origin as a browser serialises it.
func FuzzWebOrigin(f *testing.F) {
	for _, s := range []string{"https://app.example", "http://localhost:3000", "https://app.example/", "HTTPS://x", "https://[::1]:8443"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, o string) {
		if validateWebOrigin(o) != nil {
			return
		}
		u, err := url.Parse(o)
		if err != nil || u.Scheme+"://"+u.Host != o {
			t.Fatalf("accepted %q, which is not scheme://host", o)
		}
	})
}

// FuzzETagMatch: If-None-Match matches only a list holding the tag (or *).
func FuzzETagMatch(f *testing.F) {
	const tag = `"abc"`
	for _, s := range []string{tag, "W/" + tag, `"x", "abc"`, "*", `"abcd"`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		if etagMatches(header, tag) && !strings.Contains(header, tag) && !strings.Contains(header, "*") {
			t.Fatalf("%q matched %s", header, tag)
		}
	})
}
