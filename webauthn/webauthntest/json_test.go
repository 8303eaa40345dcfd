package webauthntest

import (
	"bytes"
	"testing"
)

// TestBase64URL checks the encoding is the unpadded URL alphabet WebAuthn's
// JSON forms use, and that other spellings are refused.
func TestBase64URL(t *testing.T) {
	data := []byte{0xfb, 0xff, 0xfe}
	if got := enc(data); got != "-__-" {
		t.Fatalf("enc = %q, want %q", got, "-__-")
	}
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"unpadded URL alphabet decodes", "-__-", true},
		{"standard alphabet is refused", "+//+", false},
		{"padding is refused", "AQ==", false},
	}
	for _, c := range cases {
		got, err := b64(c.in)
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v", c.name, err)
		}
		if c.ok && !bytes.Equal(got, data) {
			t.Errorf("%s: got %x", c.name, got)
		}
	}
}
