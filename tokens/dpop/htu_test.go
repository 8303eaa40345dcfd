package dpop

import "testing"

func TestNormalizeHTU(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"already normal URL is unchanged", "https://server.example.com/token", "https://server.example.com/token"},
		{"scheme and host are lower-cased, default port and dot segments removed", "HTTPS://Example.COM:443/a/../b", "https://example.com/b"},
		{"query and fragment are dropped", "https://example.com/token?x=1#frag", "https://example.com/token"},
		{"empty path becomes slash", "https://example.com", "https://example.com/"},
		{"http default port is dropped", "http://example.com:80/x", "http://example.com/x"},
		{"non-default port is kept", "https://example.com:8443/x", "https://example.com:8443/x"},
		{"port with leading zeros is canonical", "https://example.com:0443/x", "https://example.com/x"},
		{"empty port is dropped", "https://example.com:/x", "https://example.com/x"},
		{"percent-encoding hex is upper-cased", "https://example.com/a%2fb", "https://example.com/a%2Fb"},
		{"percent-encoded unreserved characters are decoded", "https://example.com/%7Euser/%41", "https://example.com/~user/A"},
		{"encoded dot segments are removed after decoding", "https://example.com/a/%2E%2E/b", "https://example.com/b"},
		{"single dot segments are removed", "https://example.com/./a/./b/.", "https://example.com/a/b/"},
		{"dot segments cannot climb above the root", "https://example.com/../../a", "https://example.com/a"},
		{"trailing slash is significant and kept", "https://example.com/a/", "https://example.com/a/"},
		{"double slash is significant and kept", "https://example.com//a", "https://example.com//a"},
		{"IPv6 literal keeps its brackets", "https://[::1]:443/x", "https://[::1]/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeHTU(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeHTU(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestNormalizeHTURejects(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"relative reference", "/token"},
		{"non-http scheme", "ftp://example.com/x"},
		{"opaque URI", "https:example.com"},
		{"user information", "https://user:pass@example.com/x"},
		{"non-numeric port", "https://example.com:https/x"},
		{"port out of range", "https://example.com:70000/x"},
		{"broken percent-encoding", "https://example.com/%zz"},
		{"missing host", "https:///x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := NormalizeHTU(tt.in); err == nil {
				t.Fatalf("NormalizeHTU(%q) = %q, want error", tt.in, got)
			}
		})
	}
}

func TestATHMatchesRFC9449Example(t *testing.T) {
	const token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
	if got, want := ATH(token), "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"; got != want {
		t.Fatalf("ATH = %q, want %q", got, want)
	}
}
