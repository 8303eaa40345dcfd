package tokens

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

func jwksKIDs(t *testing.T, body []byte) []string {
	t.Helper()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("JWKS %s: %v", body, err)
	}
	var kids []string
	for _, k := range set.Keys {
		if _, ok := k["d"]; ok {
			t.Fatalf("JWKS publishes a private member: %s", body)
		}
		if k["use"] != "sig" || k["alg"] == nil {
			t.Fatalf("JWKS key without use/alg: %s", body)
		}
		kids = append(kids, k["kid"].(string))
	}
	return kids
}

func TestKeyringLookupAndJWKS(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	active, _ := jose.GenerateSigningKey(jose.AlgES256, t0)
	retired, _ := jose.GenerateSigningKey(jose.AlgEdDSA, t0.Add(-time.Hour))
	until := t0.Add(10 * time.Minute)
	r := jose.NewKeyring(active, jose.KeyringEntry{Key: retired, PublishUntil: until})

	if r.Active() != active {
		t.Fatal("Active is not the active key")
	}
	tests := []struct {
		name    string
		kid     string
		at      time.Time
		ok      bool
		wantAlg string
	}{
		{"active key is found", active.ID, t0, true, jose.AlgES256},
		{"active key is found forever", active.ID, t0.Add(1000 * time.Hour), true, jose.AlgES256},
		{"retired key is found before PublishUntil", retired.ID, until.Add(-time.Second), true, jose.AlgEdDSA},
		{"retired key is gone at PublishUntil", retired.ID, until, false, ""},
		{"unknown kid is not found", "nope", t0, false, ""},
		{"empty kid is not found", "", t0, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, alg, ok := r.Lookup(tt.kid, tt.at)
			if ok != tt.ok || alg != tt.wantAlg || (ok && pub == nil) {
				t.Fatalf("Lookup = %v, %q, %v", pub, alg, ok)
			}
		})
	}

	before := r.JWKS(t0)
	if kids := jwksKIDs(t, before); len(kids) != 2 || kids[0] != active.ID || kids[1] != retired.ID {
		t.Fatalf("JWKS kids %v", kids)
	}
	if again := r.JWKS(t0.Add(time.Minute)); &again[0] != &before[0] {
		t.Fatal("JWKS was rebuilt although nothing changed")
	}
	after := r.JWKS(until)
	if kids := jwksKIDs(t, after); len(kids) != 1 || kids[0] != active.ID {
		t.Fatalf("JWKS after PublishUntil kids %v", kids)
	}
	// Asking about an earlier instant again must not reuse the later set.
	if kids := jwksKIDs(t, r.JWKS(t0)); len(kids) != 2 {
		t.Fatalf("JWKS for an earlier instant kids %v", kids)
	}
}

func TestKeyringReplace(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	a, _ := jose.GenerateSigningKey(jose.AlgES256, t0)
	b, _ := jose.GenerateSigningKey(jose.AlgES256, t0)
	r := jose.NewKeyring(a)
	old := r.JWKS(t0)
	r.Replace(b, jose.KeyringEntry{Key: a, PublishUntil: t0.Add(time.Hour)}, jose.KeyringEntry{Key: nil}, jose.KeyringEntry{Key: b})
	if r.Active() != b {
		t.Fatal("Replace did not install the new active key")
	}
	kids := jwksKIDs(t, r.JWKS(t0))
	if len(kids) != 2 || kids[0] != b.ID || kids[1] != a.ID {
		t.Fatalf("kids after Replace %v (old %s)", kids, old)
	}
	if _, _, ok := r.Lookup(a.ID, t0.Add(time.Hour)); ok {
		t.Fatal("retired key still found after its PublishUntil")
	}
}

func TestKeyringConcurrentUse(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	a, _ := jose.GenerateSigningKey(jose.AlgES256, t0)
	b, _ := jose.GenerateSigningKey(jose.AlgEdDSA, t0)
	r := jose.NewKeyring(a)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if i == 0 {
					r.Replace(b, jose.KeyringEntry{Key: a, PublishUntil: t0.Add(time.Duration(j) * time.Second)})
					continue
				}
				if body := r.JWKS(t0.Add(time.Duration(j) * time.Second)); !json.Valid(body) || len(body) < 20 {
					t.Errorf("bad JWKS %s", body)
					return
				}
				r.Lookup(a.ID, t0)
			}
		}(i)
	}
	wg.Wait()
}

func TestZeroKeyringIsEmpty(t *testing.T) {
	var r jose.Keyring
	if r.Active() != nil {
		t.Fatal("zero keyring has an active key")
	}
	if _, _, ok := r.Lookup("any", time.Now()); ok {
		t.Fatal("zero keyring found a key")
	}
	if got := string(r.JWKS(time.Now())); got != `{"keys":[]}` {
		t.Fatalf("zero keyring JWKS %s", got)
	}
	a := NewAccessTokens(AccessConfig{Issuer: testIssuer, Keys: &r})
	_, err := a.Verify("a.b.c")
	wantCode(t, err, jose.CodeInvalidToken)
}
