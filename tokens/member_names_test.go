package tokens

import (
	"reflect"
	"strings"
	"testing"

	"github.com/latchid/latch/tokens/jose"
)

// joseMemberNames are the member names Latch reads from JOSE objects in
// this package and its JWK members, taken from the json tags of the
// structs they are decoded into.
var joseMemberNames = func() map[string]bool {
	names := map[string]bool{}
	for _, n := range []string{"kty", "crv", "x", "y", "n", "e", "alg", "d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		names[n] = true
	}
	for _, v := range []any{proofHeader{}, proofClaims{}, accessHeader{}, accessPayload{}, confirmation{}} {
		t := reflect.TypeOf(v)
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name != "" && name != "-" {
				names[name] = true
			}
		}
	}
	return names
}()

// TestStrictJSONKnowsMemberNames checks that the strict JOSE scan refuses
// a case-folded spelling of every member name read here, which it does
// only for names on its list.
func TestStrictJSONKnowsMemberNames(t *testing.T) {
	for name := range joseMemberNames {
		folded := `{"` + strings.ToUpper(name) + `":1}`
		if jose.StrictJSON([]byte(folded)) {
			t.Errorf("the strict JOSE scan accepts %s: add %q to its member names", folded, name)
		}
	}
}
