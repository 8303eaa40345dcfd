package store

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// TestTextsReadBackAsWritten: every string, coded or not, reads back as
// appendText wrote it, the texts the records repeat in a fraction of their
// length, and an id still packed.
func TestTextsReadBackAsWritten(t *testing.T) {
	cases := []struct {
		s       string
		maxSize int
	}{
		{"", 1},
		{"x", 2},
		{"latch", 2},
		{"profile groups", 4},
		{"signin_failed", 3},
		{testUserAgent, 25},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", 20},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", 16},
		{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", 20},
		{"0194c2a1b2c3AAAAAAAAAAAAAAAAAAAAAA", 23}, // an ordered id, packed
		{"Zürich ✓ latch", 40},                     // escapes what is not ASCII
		{"\xff\x80\xfe latch", 20},                 // and bytes that are no UTF-8
		{strings.Repeat("latch", 100), 110},
	}
	for _, c := range cases {
		b := appendText(nil, c.s)
		r := &reader{b: b}
		if got := r.id(); got != c.s || r.err != nil || len(r.b) != 0 {
			t.Errorf("%q: read %q (%v)", c.s, got, r.err)
		}
		if len(b) > c.maxSize || len(b) > len(appendID(nil, c.s)) {
			t.Errorf("%q: %d bytes written, want at most %d and no more than appendID's %d", c.s, len(b), c.maxSize, len(appendID(nil, c.s)))
		}
	}
}

// TestCodedTextsThatNoPhraseHasAreRefused: a code past the phrases, or an
// escape with nothing after it, is a damaged record, not a text.
func TestCodedTextsThatNoPhraseHasAreRefused(t *testing.T) {
	for _, coded := range [][]byte{{'a', byte(textFirstCode + len(textPhrases))}, {'a', textEscape}, {0xfe}} {
		b := append([]byte{byte(len(coded)<<2 | idText)}, coded...)
		r := &reader{b: b}
		if got := r.id(); r.err == nil {
			t.Errorf("% x read as %q", coded, got)
		}
	}
}

// TestTextPhrasesOnlyGrow: the phrases are part of the file format (a
// phrase's position is its code), so those stored files already use must
// never change. Add new ones at the end and extend pinnedPhrases.
func TestTextPhrasesOnlyGrow(t *testing.T) {
	const pinnedPhrases, pinnedHash = 63, "96dd8b3bb105a75370a4f967f286f5b5e07716792bcecd04059a8c2fb467ec45"
	if len(textPhrases) < pinnedPhrases || len(textPhrases) > textMaxPhrases {
		t.Fatalf("%d phrases: want from %d to %d", len(textPhrases), pinnedPhrases, textMaxPhrases)
	}
	sum := sha256.Sum256([]byte(strings.Join(textPhrases[:pinnedPhrases], "\x00")))
	if got := hex.EncodeToString(sum[:]); got != pinnedHash {
		t.Errorf("the first %d phrases changed (hash %s): stored records would read wrong", pinnedPhrases, got)
	}
	seen := map[string]bool{}
	for _, p := range textPhrases {
		if p == "" || seen[p] || strings.ContainsFunc(p, func(r rune) bool { return r >= textFirstCode }) {
			t.Errorf("phrase %q: empty, repeated or not ASCII", p)
		}
		seen[p] = true
	}
}
