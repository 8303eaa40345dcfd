package postgres

import (
	"testing"
	"time"

	"github.com/latchid/latch/store"
)

// FuzzDecodeChange: a notification payload, which anyone who may connect
// can send on the channel, is parsed without panicking, and what parses
// is what encodeChange makes of it.
func FuzzDecodeChange(f *testing.F) {
	for _, c := range []store.Change{{Kind: store.ChangeUser, Key: "u1"}, {Kind: store.ChangeRevoked, Key: "\x00\xff", Until: time.Unix(1, 2)}, {Kind: store.ChangeSigningKeys}} {
		f.Add(encodeChange(c))
	}
	f.Add("9:")
	f.Add(":")
	f.Add("1:===")
	f.Fuzz(func(t *testing.T, payload string) {
		c, err := decodeChange(payload)
		if err != nil {
			return
		}
		if encodeChange(c) != payload {
			t.Fatalf("%q parsed as %+v, which encodes as %q", payload, c, encodeChange(c))
		}
		if c.Kind == store.ChangeResync {
			t.Fatal("a notification asked for a resync")
		}
	})
}

// FuzzDecodeRecord: a record read from the database decodes or fails,
// never panics, and one that decodes encodes and decodes to the same.
func FuzzDecodeRecord(f *testing.F) {
	u := userRec{header: current(), User: store.User{ID: "u", Handle: []byte("h"), Username: "n\xff", Groups: []string{"g"}}}
	b, _ := encode(&u)
	f.Add(b)
	s := sessionRec{header: current(), Session: store.Session{ID: "s", UserID: "u", AMR: []string{"hwk"}}}
	b, _ = encode(&s)
	f.Add(b)
	f.Add([]byte{0xa1, 0x61, 0x76, 0x02})
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec sessionRec
		if err := decode(data, &rec); err != nil {
			return
		}
		again, err := encode(&rec)
		if err != nil {
			t.Fatal(err)
		}
		var rec2 sessionRec
		if err := decode(again, &rec2); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if a, _ := encode(&rec2); string(a) != string(again) {
			t.Fatal("record changed through a round trip")
		}
	})
}
