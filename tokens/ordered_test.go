package tokens

import (
	"sort"
	"strings"
	"testing"
	"time"
)

func TestOrderedIDsSortByTime(t *testing.T) {
	t0 := time.UnixMilli(1_790_000_000_000)
	var ids []string
	for i := 0; i < 50; i++ {
		// Steps of varied size, so every position of the prefix changes.
		ids = append(ids, NewOrderedID(t0.Add(time.Duration(i*i*i*977)*time.Millisecond)))
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("ids of later times must sort later")
	}
	if a, b := NewOrderedID(t0), NewOrderedID(t0); a == b || a[:orderedPrefixLen] != b[:orderedPrefixLen] {
		t.Fatalf("same-millisecond ids must share the prefix and differ: %s %s", a, b)
	}
}

func TestOrderedOpaque(t *testing.T) {
	t0 := time.UnixMilli(1_790_000_000_000)
	tok, key := NewOrderedOpaque(t0)
	if len(tok) != orderedPrefixLen+43 {
		t.Fatalf("token length %d", len(tok))
	}
	if OrderedOpaqueKey(tok) != key || strings.Contains(key, tok[orderedPrefixLen:]) {
		t.Fatal("the key must be derivable from the token and must not contain its secret part")
	}
	later, laterKey := NewOrderedOpaque(t0.Add(time.Second))
	if !(key < laterKey) || tok == later {
		t.Fatal("keys of later tokens must sort later")
	}
	if OrderedOpaqueKey("short") == key || OrderedOpaqueKey(tok+"x") == key {
		t.Fatal("another token must not share the key")
	}
}
