package auth

import (
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
