package sdjwt

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

// FuzzStatusList feeds arbitrary "lst" values and bits to the list decoder
// and arbitrary text to the Status List Token verifier. Nothing may panic,
// every failure must be a *StatusListError, and a decoded list must stay
// within its bounds and encode back to the same byte array.
func FuzzStatusList(f *testing.F) {
	f.Add(uint8(1), "eNrbuRgAAhcBXQ")
	f.Add(uint8(2), "eNo76fITAAPfAgc")
	for _, v := range statusDraftVectors {
		f.Add(uint8(v.bits), v.lst)
	}
	f.Add(uint8(1), b64.EncodeToString(zlibOf(make([]byte, StatusListMaxBytes+1))))
	f.Add(uint8(8), "eNoDAAAAAAE")
	key, err := jose.GenerateSigningKey(jose.AlgES256, sdTestNow)
	if err != nil {
		f.Fatal(err)
	}
	token, _ := statusTestToken(f, key, nil)
	keys := keyLookupOf(key)
	f.Add(uint8(0), token)

	f.Fuzz(func(t *testing.T, bits uint8, in string) {
		l, err := DecodeStatusList(int(bits), in)
		if err != nil {
			var se *StatusListError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *StatusListError", err)
			}
		} else {
			if len(l.Bytes()) == 0 || len(l.Bytes()) > StatusListMaxBytes || l.Len() != len(l.Bytes())*8/int(bits) {
				t.Fatalf("list of %d bytes, %d entries", len(l.Bytes()), l.Len())
			}
			if _, ok := l.Get(l.Len()); ok {
				t.Fatal("read past the end")
			}
			if s, ok := l.Get(l.Len() - 1); !ok || int(s) >= 1<<bits {
				t.Fatalf("last entry %d, ok %v", s, ok)
			}
			again, err := l.Encode()
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodeStatusList(int(bits), again)
			if err != nil || !bytes.Equal(back.Bytes(), l.Bytes()) {
				t.Fatalf("does not round-trip: %v", err)
			}
		}
		tok, err := VerifyStatusListToken(StatusListVerifyRequest{Token: in, Subject: statusTestURI, Keys: keys, Now: sdTestNow.Add(time.Minute)})
		if (tok == nil) == (err == nil) {
			t.Fatalf("token %v with error %v", tok, err)
		}
		if err != nil {
			var se *StatusListError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *StatusListError", err)
			}
			return
		}
		if tok.Subject != statusTestURI || tok.List == nil {
			t.Fatalf("accepted %+v", tok)
		}
	})
}
