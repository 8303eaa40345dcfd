package sdjwt

import (
	"strings"
	"testing"

	"github.com/latchid/latch/tokens/jose"
)

func TestSDInspectIssued(t *testing.T) {
	fx := sdNewFixture(t)
	cred := fx.issue(t, fx.claims())
	wantJKT, err := jose.Thumbprint(fx.holderJWK)
	if err != nil {
		t.Fatal(err)
	}
	withSub := sdSDJWT(cred.IssuerJWT, sdPick(t, cred, "sub"))
	withoutSub := sdSDJWT(cred.IssuerJWT, sdPick(t, cred, "username"))
	cases := []struct {
		name, in, sub string
	}{
		{"whole credential discloses sub", cred.Compact, "user-7f3a"},
		{"presentation of sub", fx.present(t, cred.IssuerJWT, sdPick(t, cred, "sub"), sdKBOptions{}), "user-7f3a"},
		{"sub withheld", withoutSub, ""},
		{"issuer JWT alone", cred.IssuerJWT, ""},
		{"a forged disclosure is ignored", withSub + "WyJzYWx0IiwgInN1YiIsICJtYWxsb3J5Il0~", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := SDInspectIssued(c.in, sdTestIssuer, fx.keys(), sdTestNow)
			if err != nil {
				t.Fatal(err)
			}
			if got.HolderJKT != wantJKT || got.Subject != c.sub || got.IssuerJWT != cred.IssuerJWT || !got.ExpiresAt.Equal(sdTestNow.Add(23*3600e9)) {
				t.Fatalf("got %+v, want jkt %s sub %q", got, wantJKT, c.sub)
			}
		})
	}
	for name, in := range map[string]string{
		"other issuer's signature": strings.Replace(cred.Compact, cred.IssuerJWT[len(cred.IssuerJWT)-8:], "AAAAAAAA", 1),
		"garbage":                  "a.b.c~",
		"empty":                    "",
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := SDInspectIssued(in, sdTestIssuer, fx.keys(), sdTestNow); err == nil {
				t.Fatalf("accepted: %+v", got)
			}
		})
	}
}

// FuzzSDInspectIssued feeds arbitrary text after a real issuer JWT and on
// its own: nothing may panic, and whatever is accepted names the real
// holder key.
func FuzzSDInspectIssued(f *testing.F) {
	fx := sdNewFixture(f)
	cred := fx.issue(f, fx.claims())
	jkt, _ := jose.Thumbprint(fx.holderJWK)
	f.Add(cred.Compact[len(cred.IssuerJWT):])
	f.Add("~WyJzYWx0IiwgInN1YiIsICJtYWxsb3J5Il0~")
	f.Add("~~~")
	keys := fx.keys()
	f.Fuzz(func(t *testing.T, tail string) {
		for _, in := range []string{cred.IssuerJWT + tail, tail} {
			got, err := SDInspectIssued(in, sdTestIssuer, keys, sdTestNow)
			if err != nil {
				continue
			}
			if got.HolderJKT != jkt || got.IssuerJWT != cred.IssuerJWT {
				t.Fatalf("accepted %q as %+v", in, got)
			}
		}
	})
}
