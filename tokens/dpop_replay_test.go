package tokens

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

func TestReplayCache(t *testing.T) {
	t0 := time.Unix(1_790_000_000, 0)
	window := 65 * time.Second
	alice := holderID{3, 1}
	bob := holderID{3, 2} // same shard as alice

	t.Run("recorded key is seen until it expires", func(t *testing.T) {
		c := newReplayCache(window, 1024, 0)
		key := c.key(alice, "https://a.example/", "j1")
		if r := c.record(alice, &key, t0.Add(60*time.Second), t0); r != recorded {
			t.Fatalf("first record: %v", r)
		}
		if !c.seen(alice, &key, t0.Add(59*time.Second)) {
			t.Fatal("key forgotten before it expired")
		}
		if r := c.record(alice, &key, t0.Add(60*time.Second), t0.Add(30*time.Second)); r != replayed {
			t.Fatalf("replay: %v", r)
		}
		// Buckets round expiry up by at most one bucket width.
		if c.seen(alice, &key, t0.Add(60*time.Second+time.Duration(c.width)*time.Second)) {
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
		// Across many thumbprints the two caches place keys differently.
		same := 0
		for i := range 64 {
			jkt := string(rune('A'+i%26)) + string(rune('a'+i/26))
			if shardIndex(a.holder(jkt)) == shardIndex(b.holder(jkt)) {
				same++
			}
		}
		if same == 64 {
			t.Fatal("shard choice does not depend on the secret")
		}
	})
	t.Run("full shard fails closed and recovers after expiry", func(t *testing.T) {
		c := newReplayCache(window, 4*replayShards, 4) // 4 per shard, 4 per key
		for i := range 4 {
			h := holderID{3, byte(10 + i)}
			k := c.key(h, "https://a.example/", "j")
			if r := c.record(h, &k, t0.Add(60*time.Second), t0); r != recorded {
				t.Fatalf("record %d: %v", i, r)
			}
		}
		k := c.key(alice, "https://a.example/", "j")
		if r := c.record(alice, &k, t0.Add(60*time.Second), t0); r != shardIsFull {
			t.Fatalf("a fifth live entry in a shard of four: %v", r)
		}
		later := t0.Add(3 * time.Minute)
		if r := c.record(alice, &k, later.Add(60*time.Second), later); r != recorded {
			t.Fatalf("expired entries were not reclaimed: %v", r)
		}
	})
	t.Run("a key at its bound is refused, others in its shard are not", func(t *testing.T) {
		c := newReplayCache(window, 64*replayShards, 4)
		jti := func(i int) string { return string(rune('a' + i)) }
		// Others have filled the shard to just under half (28 of 64).
		for i := range 28 {
			h := holderID{3, 100, byte(i)}
			k := c.key(h, "https://a.example/", "j")
			if r := c.record(h, &k, t0.Add(60*time.Second), t0); r != recorded {
				t.Fatalf("filling: %v", r)
			}
		}
		for i := range 4 {
			k := c.key(alice, "https://a.example/", jti(i))
			if r := c.record(alice, &k, t0.Add(60*time.Second), t0); r != recorded {
				t.Fatalf("record %d: %v", i, r)
			}
		}
		k := c.key(alice, "https://a.example/", jti(9))
		if r := c.record(alice, &k, t0.Add(60*time.Second), t0); r != keyAtBound {
			t.Fatalf("a fifth live entry for a key bound to four: %v", r)
		}
		// Replays are still told apart from the bound: nothing is forgotten.
		k0 := c.key(alice, "https://a.example/", jti(0))
		if r := c.record(alice, &k0, t0.Add(60*time.Second), t0); r != replayed {
			t.Fatalf("replay at the bound: %v", r)
		}
		for i := range 4 {
			k := c.key(bob, "https://a.example/", jti(i))
			if r := c.record(bob, &k, t0.Add(60*time.Second), t0); r != recorded {
				t.Fatalf("another key in the same shard, record %d: %v", i, r)
			}
		}
		later := t0.Add(3 * time.Minute)
		if r := c.record(alice, &k, later.Add(60*time.Second), later); r != recorded {
			t.Fatalf("the key's expired entries were not given back: %v", r)
		}
		if n := c.shard(alice).live[alice]; n != 1 {
			t.Fatalf("live count after expiry = %d, want 1", n)
		}
	})
	t.Run("a key may pass its bound while its shard is under half full", func(t *testing.T) {
		c := newReplayCache(window, 64*replayShards, 4)
		for i := range 32 {
			k := c.key(alice, "https://a.example/", string(rune('a'+i)))
			if r := c.record(alice, &k, t0.Add(60*time.Second), t0); r != recorded {
				t.Fatalf("record %d: %v", i, r)
			}
		}
		k := c.key(alice, "https://a.example/", "over")
		if r := c.record(alice, &k, t0.Add(60*time.Second), t0); r != keyAtBound {
			t.Fatalf("past half the shard: %v", r)
		}
		if r := c.record(bob, &k, t0.Add(60*time.Second), t0); r != recorded {
			t.Fatalf("a key within its bound in the half-full shard: %v", r)
		}
	})
	t.Run("clock jumping backwards does not drop live entries", func(t *testing.T) {
		c := newReplayCache(window, 1024, 0)
		k := c.key(alice, "https://a.example/", "jump")
		c.record(alice, &k, t0.Add(60*time.Second), t0)
		// An expiry that maps to the same slot as the live bucket but is
		// older must not clear it.
		back := t0.Add(60*time.Second - time.Duration(replayBucketSlots*c.width)*time.Second)
		other := c.key(alice, "https://a.example/", "other")
		c.record(alice, &other, back, back.Add(-60*time.Second))
		if !c.seen(alice, &k, t0) {
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
	d := NewDPoP(DPoPConfig{Now: attacker.clock.Now, ReplayCacheSize: 32 * replayShards, ReplayPerKey: 8})
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
	// It is stopped at its bound once its shard is half full: 16 of 32.
	if refused != 2*32*replayShards-16 {
		t.Fatalf("%d of the attacker's proofs refused, want all but 16", refused)
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
	wantCode(t, d.Record(&Proof{JTI: "x"}), CodeInvalidDPoPProof)
}
