package tokens

import (
	"strings"
	"testing"
	"time"
)

func TestSessionCode(t *testing.T) {
	key, other := []byte("refresh key of one server......."), []byte("refresh key of another server...")
	now := time.Unix(1_790_000_000, 0)
	sid := NewOrderedID(now)
	code, storeKey := NewSessionCode(now, sid, key)
	if storeKey != OrderedOpaqueKey(code) || strings.Contains(storeKey, sid) || len(code) > 128 {
		t.Fatalf("storage key %q of %q", storeKey, code)
	}
	if got, ok := CodeSession(code, key); !ok || got != sid {
		t.Fatalf("CodeSession = %q, %v; want %q", got, ok, sid)
	}
	if again, _ := NewSessionCode(now, sid, key); again == code {
		t.Fatal("two codes of one session are equal")
	}
	if plain, _ := NewSessionCode(now, "not-an-ordered-id", key); len(plain) != refreshBaseLen {
		t.Fatalf("a code for a malformed session id: %q", plain)
	}
	// A code and a refresh token of one session and key never pass for
	// each other.
	if got, ok := RefreshSession(code, key); ok {
		t.Fatalf("a code names session %q as a refresh token", got)
	}
	refresh, _ := NewSessionRefresh(now, sid, key)
	if got, ok := CodeSession(refresh, key); ok {
		t.Fatalf("a refresh token names session %q as a code", got)
	}
	base, mac := code[:refreshBaseLen], code[refreshBaseLen+refreshSIDLen:]
	otherSID := NewOrderedID(now.Add(time.Second))
	for name, forged := range map[string]string{
		"another key":               base + sid + codeMAC(base, sid, other),
		"another session, same MAC": base + otherSID + mac,
		"a refresh MAC":             base + sid + refreshMAC(base, sid, key),
		"a plain opaque code":       base,
		"a MAC cut short":           code[:len(code)-1],
		"a character added":         code + "A",
	} {
		if got, ok := CodeSession(forged, key); ok {
			t.Errorf("%s: names session %q", name, got)
		}
	}
}

func FuzzCodeSession(f *testing.F) {
	key := []byte("fuzz key........................")
	now := time.Unix(1_790_000_000, 0)
	code, _ := NewSessionCode(now, NewOrderedID(now), key)
	f.Add(code)
	f.Add(code[:refreshBaseLen])
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		sid, ok := CodeSession(s, key)
		if ok && (len(sid) != refreshSIDLen || !strings.Contains(s, sid)) {
			t.Fatalf("CodeSession(%q) = %q", s, sid)
		}
	})
}
