package dpop

import (
	"reflect"
	"strings"
	"testing"

	"github.com/latchid/latch/tokens/jose"
)

// TestStrictJSONKnowsProofMemberNames checks that the strict JOSE scan
// refuses a case-folded spelling of every member name read from a proof,
// which it does only for names on its list.
func TestStrictJSONKnowsProofMemberNames(t *testing.T) {
	for _, v := range []any{proofHeader{}, proofClaims{}} {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			folded := `{"` + strings.ToUpper(name) + `":1}`
			if jose.StrictJSON([]byte(folded)) {
				t.Errorf("the strict JOSE scan accepts %s: add %q to its member names", folded, name)
			}
		}
	}
}
