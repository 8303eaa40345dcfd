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
	if got, ok := RefreshSession(token, key); !ok || got != sid {
		t.Fatalf("RefreshSession = %q, %v; want %q", got, ok, sid)
	}
	if again, _ := NewSessionRefresh(now, sid, key); again == token {
		t.Fatal("two tokens of one session are equal")
	}
	base, _, _ := strings.Cut(token, ".")
	mac := token[strings.LastIndexByte(token, '.')+1:]
	otherSID := NewOrderedID(now)
	for name, forged := range map[string]string{
		"another key":                  token[:strings.LastIndexByte(token, '.')+1] + refreshMAC(base, sid, other),
		"another session, same MAC":    base + "." + otherSID + "." + mac,
		"a plain opaque token":         base,
		"a MAC cut short":              token[:len(token)-1],
		"an empty session":             base + ".." + refreshMAC(base, "", key),
		"a MAC with a character added": token + "A",
	} {
		if got, ok := RefreshSession(forged, key); ok {
			t.Errorf("%s: names session %q", name, got)
		}
	}
}

func FuzzRefreshSession(f *testing.F) {
	key := []byte("fuzz key........................")
	token, _ := NewSessionRefresh(time.Unix(1_790_000_000, 0), "0190000000aaAAAAAAAAAAAAAAAAAAAAAA", key)
	f.Add(token)
	f.Add("a.b.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, s string) {
		sid, ok := RefreshSession(s, key)
		if ok && (sid == "" || !strings.Contains(s, "."+sid+".")) {
			t.Fatalf("RefreshSession(%q) = %q", s, sid)
		}
	})
}
