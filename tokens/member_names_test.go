package tokens

import (
	"reflect"
	"strings"
	"testing"

	"github.com/latchid/latch/tokens/jose"
)

// joseMemberNames are the member names Latch reads from JOSE objects: the
// JWK members, the DPoP proof header and claims, and the access-token
// header, claims and cnf.
var joseMemberNames = func() map[string]bool {
	names := map[string]bool{}
	for _, n := range []string{
		"alg", "amr", "ath", "aud", "auth_time", "client_id", "cnf", "crit",
		"crv", "d", "dp", "dq", "e", "exp", "groups", "htm", "htu", "iat",
		"iss", "jkt", "jti", "jwk", "k", "kid", "kty", "n", "nbf", "nonce",
		"oth", "p", "q", "qi", "scope", "sid", "sub", "typ", "x", "y",
	} {
		names[n] = true
	}
	return names
}()

// TestStrictJSONKnowsMemberNames checks that the strict JOSE scan refuses
// a case-folded spelling of every member name read from access tokens,
// which it does only for names on its list.
func TestStrictJSONKnowsMemberNames(t *testing.T) {
	for _, v := range []any{accessHeader{}, accessPayload{}, confirmation{}} {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			if !joseMemberNames[name] {
				t.Errorf("%s is not in this test's list of member names", name)
			}
			folded := `{"` + strings.ToUpper(name) + `":1}`
			if jose.StrictJSON([]byte(folded)) {
				t.Errorf("the strict JOSE scan accepts %s: add %q to its member names", folded, name)
			}
		}
	}
	for name := range joseMemberNames {
		folded := `{"` + strings.ToUpper(name) + `":1}`
		if jose.StrictJSON([]byte(folded)) {
			t.Errorf("the strict JOSE scan accepts %s: add %q to its member names", folded, name)
		}
	}
}
