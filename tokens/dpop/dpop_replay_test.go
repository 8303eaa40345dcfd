package dpop

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

// keyIn makes an entry key that lands in shard: shards are chosen by the
// key's first byte.
func keyIn(shard byte, id ...byte) [32]byte {
	k := [32]byte{shard}
	copy(k[1:], id)
	return k
}

func TestReplayCache(t *testing.T) {
	t0 := time.Unix(1_790_000_000, 0)
	window := 65 * time.Second
	alice, bob := holderID{1}, holderID{2}
	exp := t0.Add(60 * time.Second)

	t.Run("recorded key is seen until it expires", func(t *testing.T) {
		c := newReplayCache(window, 1024, 0)
		key := c.key(alice, "https://a.example/", "j1")
		if r := c.record(alice, &key, exp, t0); r != recorded {
			t.Fatalf("first record: %v", r)
		}
		if !c.seen(&key, t0.Add(59*time.Second)) {
			t.Fatal("key forgotten before it expired")
		}
		if r := c.record(alice, &key, exp, t0.Add(30*time.Second)); r != replayed {
			t.Fatalf("replay: %v", r)
		}
		// Buckets round expiry up by at most one bucket width.
		if c.seen(&key, t0.Add(60*time.Second+time.Duration(c.width)*time.Second)) {
			t.Fatal("key kept past its expiry plus one bucket")
		}
	})
	t.Run("URI and jti are bound together unambiguously", func(t *testing.T) {
		c := newReplayCache(window, 1024, 0)
		if c.key(alice, "https://a.example/x", "y") == c.key(alice, "https://a.example/", "xy") {
			t.Fatal("different (htu, jti) pairs share a key")
		}
	})
	t.Run("names and shards depend on a per-process secret", func(t *testing.T) {
		a, b := newReplayCache(window, 1024, 0), newReplayCache(window, 1024, 0)
		if a.secret == b.secret || a.holder("jkt") == b.holder("jkt") ||
			a.key(alice, "https://a.example/", "j") == b.key(alice, "https://a.example/", "j") {
			t.Fatal("two caches derive the same names: the shard choice can be predicted")
		}
	})
	t.Run("one key's entries spread over every shard", func(t *testing.T) {
		c := newReplayCache(window, 1<<20, 0)
		per := map[*replayShard]int{}
		for i := range 16 * 256 {
			k := c.key(alice, "https://a.example/", strconv.Itoa(i))
			per[c.shard(&k)]++
		}
		if len(per) != replayShards {
			t.Fatalf("one key's entries reached %d of %d shards", len(per), replayShards)
		}
		for _, n := range per {
			if n < 128 || n > 512 {
				t.Fatalf("uneven spread: a shard got %d of 4096 (expected about 256)", n)
			}
		}
	})
	t.Run("full shard fails closed and recovers after expiry", func(t *testing.T) {
		c := newReplayCache(window, 4*replayShards, 4*replayShards) // 4 per shard, 4 per key in each
		for i := range 4 {
			h := holderID{10 + byte(i)}
			k := keyIn(3, byte(i))
			if r := c.record(h, &k, exp, t0); r != recorded {
				t.Fatalf("record %d: %v", i, r)
			}
		}
		k := keyIn(3, 99)
		if r := c.record(alice, &k, exp, t0); r != shardIsFull {
			t.Fatalf("a fifth live entry in a shard of four: %v", r)
		}
		if other := keyIn(4, 99); c.record(alice, &other, exp, t0) != recorded {
			t.Fatal("a full shard refused entries of another shard")
		}
		later := t0.Add(3 * time.Minute)
		if r := c.record(alice, &k, later.Add(60*time.Second), later); r != recorded {
			t.Fatalf("expired entries were not reclaimed: %v", r)
		}
	})
	t.Run("a key at its bound is refused once its shard is half full, others are not", func(t *testing.T) {
		c := newReplayCache(window, 64*replayShards, 4*replayShards) // 64 per shard, 4 per key in each
		// Others have filled the shard to just under half (28 of 64).
		for i := range 28 {
			k := keyIn(3, 100, byte(i))
			if r := c.record(holderID{100, byte(i)}, &k, exp, t0); r != recorded {
				t.Fatalf("filling: %v", r)
			}
		}
		for i := range 4 {
			k := keyIn(3, 1, byte(i))
			if r := c.record(alice, &k, exp, t0); r != recorded {
				t.Fatalf("record %d: %v", i, r)
			}
		}
		k := keyIn(3, 1, 9)
		if r := c.record(alice, &k, exp, t0); r != keyAtBound {
			t.Fatalf("a fifth live entry for a key bound to four: %v", r)
		}
		// Replays are still told apart from the bound: nothing is forgotten.
		k0 := keyIn(3, 1, 0)
		if r := c.record(alice, &k0, exp, t0); r != replayed {
			t.Fatalf("replay at the bound: %v", r)
		}
		for i := range 4 {
			k := keyIn(3, 2, byte(i))
			if r := c.record(bob, &k, exp, t0); r != recorded {
				t.Fatalf("another key in the same shard, record %d: %v", i, r)
			}
		}
		later := t0.Add(3 * time.Minute)
		if r := c.record(alice, &k, later.Add(60*time.Second), later); r != recorded {
			t.Fatalf("the key's expired entries were not given back: %v", r)
		}
		if n := c.shard(&k).live[alice]; n != 1 {
			t.Fatalf("live count after expiry = %d, want 1", n)
		}
	})
	t.Run("a key may pass its bound while its shard is under half full", func(t *testing.T) {
		c := newReplayCache(window, 64*replayShards, 4*replayShards)
		for i := range 32 {
			k := keyIn(3, 1, byte(i))
			if r := c.record(alice, &k, exp, t0); r != recorded {
				t.Fatalf("record %d: %v", i, r)
			}
		}
		k := keyIn(3, 1, 200)
		if r := c.record(alice, &k, exp, t0); r != keyAtBound {
			t.Fatalf("past half the shard: %v", r)
		}
		if r := c.record(bob, &k, exp, t0); r != recorded {
			t.Fatalf("a key within its bound in the half-full shard: %v", r)
		}
	})
	t.Run("the default bound leaves a busy key alone", func(t *testing.T) {
		// 32 clients at 400 proofs a second each, for the whole window:
		// about 830,000 live entries, each client's spread over the shards.
		c := newReplayCache(window, defaultReplayCacheN, 0)
		for i := range 26_000 {
			for h := range 32 {
				k := c.key(holderID{byte(h)}, "https://a.example/userinfo", strconv.Itoa(i))
				if r := c.record(holderID{byte(h)}, &k, exp, t0); r != recorded {
					t.Fatalf("client %d, proof %d: %v", h, i, r)
				}
			}
		}
	})
	t.Run("clock jumping backwards does not drop live entries", func(t *testing.T) {
		c := newReplayCache(window, 1024, 0)
		k := keyIn(5, 1)
		c.record(alice, &k, exp, t0)
		// An expiry that maps to the same slot as the live bucket but is
		// older must not clear it.
		back := t0.Add(60*time.Second - time.Duration(replayBucketSlots*c.width)*time.Second)
		other := keyIn(5, 2)
		c.record(alice, &other, back, back.Add(-60*time.Second))
		if !c.seen(&k, t0) {
			t.Fatal("live entry lost when the clock went backwards")
		}
	})
}

// TestDPoPFloodCannotStarveOtherKeys is the attack of the hardening issue:
// one client with its own key sends far more proofs than the whole cache
// holds. It may exhaust its own allowance, never anyone else's.
func TestDPoPFloodCannotStarveOtherKeys(t *testing.T) {
	attacker, victim := newProofFixture(t), newProofFixture(t)
	victim.clock = attacker.clock
	// 32 entries a shard, 8 a key in each.
	d := NewDPoP(DPoPConfig{Now: attacker.clock.Now, ReplayCacheSize: 32 * replayShards, ReplayPerKey: 8 * replayShards})
	check := func(p string) ProofCheck { return ProofCheck{Headers: []string{p}, Method: "POST", URL: rfcTokenURL} }
	refused := 0
	for range 2 * 32 * replayShards {
		if _, err := d.Verify(check(attacker.proof(t, nil))); err != nil {
			if !errors.Is(err, errProofKeyBusy) {
				t.Fatalf("attacker's proof: %v", err)
			}
			refused++
		}
	}
	// It is stopped at its bound in each shard once the shard is half
	// full: it holds at most half of the cache.
	if admitted := 2*32*replayShards - refused; admitted > 16*replayShards {
		t.Fatalf("the attacker holds %d entries of a cache of %d", admitted, 32*replayShards)
	}
	for i := range 8 {
		p := victim.proof(t, func(h, c map[string]any) { c["jti"] = "victim-" + strconv.Itoa(i) })
		if _, err := d.Verify(check(p)); err != nil {
			t.Fatalf("victim's proof %d after the flood: %v", i, err)
		}
	}
	// Nor can the attacker spend a jti for someone else: a replay is the
	// same proof, so the same key, and jtis are remembered per key.
	squatted := attacker.proof(t, func(h, c map[string]any) { c["jti"] = "victim-next" })
	d2 := NewDPoP(DPoPConfig{Now: attacker.clock.Now})
	if _, err := d2.Verify(check(squatted)); err != nil {
		t.Fatal(err)
	}
	mine := victim.proof(t, func(h, c map[string]any) { c["jti"] = "victim-next" })
	if _, err := d2.Verify(check(mine)); err != nil {
		t.Fatalf("a jti first used under another key: %v", err)
	}
}

func TestDPoPRecordIsIdempotentPerProof(t *testing.T) {
	f := newProofFixture(t)
	d := NewDPoP(DPoPConfig{Now: f.clock.Now})
	check := ProofCheck{Headers: []string{f.proof(t, nil)}, Method: "POST", URL: rfcTokenURL}
	a, err := d.CheckOnly(check)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.CheckOnly(check)
	if err != nil {
		t.Fatal(err)
	}
	// A store transaction function that runs twice records its proof twice.
	for i := range 2 {
		if err := d.Record(a); err != nil {
			t.Fatalf("Record #%d of the same proof: %v", i, err)
		}
	}
	// Another request with the same proof is a replay.
	if err := d.Record(b); !errors.Is(err, errProofReplay) {
		t.Fatalf("Record of a second request with the proof: %v", err)
	}
	if _, err := d.CheckOnly(check); !errors.Is(err, errProofReplay) {
		t.Fatalf("CheckOnly after Record: %v", err)
	}
	wantCode(t, d.Record(&Proof{JTI: "x"}), jose.CodeInvalidDPoPProof)
}
