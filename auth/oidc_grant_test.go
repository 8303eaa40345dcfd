package auth

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestCodeGrantEncoding(t *testing.T) {
	at := time.Unix(1_790_000_000, 123456789).UTC()
	for name, g := range map[string]codeGrant{
		"every field": {ClientID: "web", RedirectURI: "https://web.example/cb", Scope: []string{"openid", "profile"}, Nonce: "n",
			CodeChallenge: "c", DPoPJKT: "j", UserID: "u", LoginSID: "l", AuthTime: at, AMR: []string{"pop", "otp"}, GrantSID: "g", Issued: at.Add(time.Second)},
		"the zero grant":          {},
		"empty lists, not absent": {ClientID: "web", Scope: []string{}, AMR: []string{}},
	} {
		var got codeGrant
		if err := decodeGrant(encodeGrant(&g), &got); err != nil || !reflect.DeepEqual(got, g) {
			t.Errorf("%s: decoded %+v, %v; want %+v", name, got, err, g)
		}
	}
	// The JSON grants of codes issued before still read.
	old := codeGrant{ClientID: "web", Scope: []string{"openid"}, UserID: "u", AuthTime: at}
	body, _ := json.Marshal(old)
	var got codeGrant
	if err := decodeGrant(body, &got); err != nil || got.ClientID != "web" || !got.AuthTime.Equal(at) || got.Scope[0] != "openid" {
		t.Fatalf("JSON grant: %+v, %v", got, err)
	}
	full := encodeGrant(&codeGrant{ClientID: "web", Scope: []string{"openid"}, Issued: at})
	for name, bad := range map[string][]byte{
		"empty":              nil,
		"unknown version":    append([]byte{9}, full[1:]...),
		"truncated":          full[:len(full)-1],
		"trailing bytes":     append(append([]byte{}, full...), 0),
		"a string too long":  {grantBinaryV1, 0xff, 0xff, 0x03},
		"a bad time flag":    append(append([]byte{}, full[:len(full)-10]...), 7),
		"a list too long":    append([]byte{grantBinaryV1, 0, 0, 0, 0, 0, 0, 0, 0}, 0xff, 0xff, 0x03),
		"an unended varint":  {grantBinaryV1, 0x80},
		"a broken JSON body": []byte(`{"client_id":`),
	} {
		if err := decodeGrant(bad, &got); err == nil {
			t.Errorf("%s: decoded %+v", name, got)
		}
	}
}

func FuzzCodeGrant(f *testing.F) {
	at := time.Unix(1_790_000_000, 5).UTC()
	f.Add(encodeGrant(&codeGrant{ClientID: "web", Scope: []string{"openid"}, AMR: []string{"pop"}, AuthTime: at, Issued: at}))
	f.Add(encodeGrant(&codeGrant{}))
	f.Add([]byte(`{"client_id":"web"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var g codeGrant
		if decodeGrant(b, &g) != nil || len(b) == 0 || b[0] == '{' {
			return
		}
		// What decodes encodes to a record that decodes to the same grant.
		var again codeGrant
		if err := decodeGrant(encodeGrant(&g), &again); err != nil || !reflect.DeepEqual(again, g) {
			t.Fatalf("%x decodes to %+v, which reads back as %+v, %v", b, g, again, err)
		}
	})
}
