package tokens

import (
	"strings"
	"testing"
	"time"
)

func TestSessionRefresh(t *testing.T) {
	key, other := []byte("refresh key of one server......."), []byte("refresh key of another server...")
	now := time.Unix(1_790_000_000, 0)
	sid := NewOrderedID(now)
	token, storeKey := NewSessionRefresh(now, sid, key)
	if storeKey != OrderedOpaqueKey(token) || strings.Contains(storeKey, sid) {
		t.Fatalf("storage key %q of %q", storeKey, token)
	}
	if strings.ContainsAny(token, ".~") {
		t.Fatalf("%q would be taken for a JWT or an SD-JWT", token)
	}
	if got, ok := RefreshSession(token, key); !ok || got != sid {
		t.Fatalf("RefreshSession = %q, %v; want %q", got, ok, sid)
	}
	if again, _ := NewSessionRefresh(now, sid, key); again == token {
		t.Fatal("two tokens of one session are equal")
	}
	if plain, _ := NewSessionRefresh(now, "not-an-ordered-id", key); len(plain) != refreshBaseLen {
		t.Fatalf("a token for a malformed session id: %q", plain)
	}
	base, mac := token[:refreshBaseLen], token[refreshBaseLen+refreshSIDLen:]
	otherSID := NewOrderedID(now.Add(time.Second))
	for name, forged := range map[string]string{
		"another key":               base + sid + refreshMAC(base, sid, other),
		"another session, same MAC": base + otherSID + mac,
		"a plain opaque token":      base,
		"a MAC cut short":           token[:len(token)-1],
		"a character added":         token + "A",
	} {
		if got, ok := RefreshSession(forged, key); ok {
			t.Errorf("%s: names session %q", name, got)
		}
	}
}

func FuzzRefreshSession(f *testing.F) {
	key := []byte("fuzz key........................")
	now := time.Unix(1_790_000_000, 0)
	token, _ := NewSessionRefresh(now, NewOrderedID(now), key)
	f.Add(token)
	f.Add(token[:refreshBaseLen])
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		sid, ok := RefreshSession(s, key)
		if ok && (len(sid) != refreshSIDLen || !strings.Contains(s, sid)) {
			t.Fatalf("RefreshSession(%q) = %q", s, sid)
		}
	})
}
