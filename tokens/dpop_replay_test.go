package tokens

import (
	"testing"
	"time"
)

func TestReplayCache(t *testing.T) {
	t0 := time.Unix(1_790_000_000, 0)
	window := 65 * time.Second
	key := replayKey("https://a.example/", "j1")

	t.Run("recorded key is seen until it expires", func(t *testing.T) {
		c := newReplayCache(window, 1024)
		if ok, full := c.record(&key, t0.Add(60*time.Second), t0); !ok || full {
			t.Fatal("first record refused")
		}
		if !c.seen(&key, t0.Add(59*time.Second)) {
			t.Fatal("key forgotten before it expired")
		}
		if ok, _ := c.record(&key, t0.Add(60*time.Second), t0.Add(30*time.Second)); ok {
			t.Fatal("replay recorded")
		}
		// Buckets round expiry up by at most one bucket width.
		if c.seen(&key, t0.Add(60*time.Second+time.Duration(c.width)*time.Second)) {
			t.Fatal("key kept past its expiry plus one bucket")
		}
	})
	t.Run("URI and jti are bound together unambiguously", func(t *testing.T) {
		a := replayKey("https://a.example/x", "y")
		b := replayKey("https://a.example/", "xy")
		if a == b {
			t.Fatal("different (htu, jti) pairs share a key")
		}
	})
	t.Run("full cache fails closed and recovers after expiry", func(t *testing.T) {
		c := newReplayCache(window, replayShards)
		refused := false
		for i := 0; i < 10*replayShards; i++ {
			k := replayKey("https://a.example/", string(rune('a'+i%26))+string(rune('a'+i/26)))
			if ok, full := c.record(&k, t0.Add(60*time.Second), t0); full {
				refused = true
				break
			} else if !ok {
				t.Fatal("distinct key reported as replay")
			}
		}
		if !refused {
			t.Fatal("cache grew past its bound")
		}
		later := t0.Add(3 * time.Minute)
		k := replayKey("https://a.example/", "after")
		if ok, full := c.record(&k, later.Add(60*time.Second), later); !ok || full {
			t.Fatal("expired entries were not reclaimed")
		}
	})
	t.Run("clock jumping backwards does not drop live entries", func(t *testing.T) {
		c := newReplayCache(window, 1024)
		k := replayKey("https://a.example/", "jump")
		c.record(&k, t0.Add(60*time.Second), t0)
		// An expiry that maps to the same slot as the live bucket but is
		// older must not clear it.
		back := t0.Add(60*time.Second - time.Duration(replayBucketSlots*c.width)*time.Second)
		other := replayKey("https://a.example/", "other")
		for i := 0; i < 256; i++ {
			other[0] = k[0] // same shard
			other[1] = byte(i)
			if ok, full := c.record(&other, back, back.Add(-60*time.Second)); ok && !full {
				break
			}
		}
		if !c.seen(&k, t0) {
			t.Fatal("live entry lost when the clock went backwards")
		}
	})
}
