package jose

import (
	"strings"
	"testing"
)

func TestStrictJOSE(t *testing.T) {
	deep := strings.Repeat(`{"a":`, maxJOSEDepth+1) + "1" + strings.Repeat("}", maxJOSEDepth+1)
	var many strings.Builder
	many.WriteString("{")
	for i := range maxJOSEMembers + 1 {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`"m` + string(rune('a'+i/26)) + string(rune('a'+i%26)) + `":1`)
	}
	many.WriteString("}")
	tests := []struct {
		name string
		json string
		ok   bool
	}{
		{"plain object", `{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","x":"a","y":"b"}}`, true},
		{"whitespace, arrays and literals", " {\"a\" : [1, -2.5e3, true, false, null, \"s\", {\"b\":[]}] }\n", true},
		{"escaped name that is unique", `{"\u0074yp":"x","alg":"y"}`, true},
		{"surrogate pair", `{"a":"\ud83d\ude00"}`, true},
		{"unknown name in upper case", `{"Foo":1,"foo":2}`, true},
		{"empty object", `{}`, true},
		{"duplicate member", `{"typ":"a","typ":"b"}`, false},
		{"duplicate spelled with an escape", `{"typ":"a","\u0074yp":"b"}`, false},
		{"duplicate inside a nested object", `{"jwk":{"x":"a","x":"b"}}`, false},
		{"duplicate inside an array element", `{"a":[{"b":1,"b":2}]}`, false},
		{"known name in upper case", `{"TYP":"dpop+jwt"}`, false},
		{"known name in mixed case", `{"Htu":"https://a.example/"}`, false},
		{"known name with a Kelvin sign", "{\"\u212aty\":\"EC\"}", false},
		{"known name with a long s", "{\"\u017fub\":\"x\"}", false},
		{"known name folded inside jwk", `{"jwk":{"X":"a"}}`, false},
		{"invalid UTF-8 in a value", "{\"a\":\"\xff\"}", false},
		{"invalid UTF-8 in a name", "{\"\xc3\":1}", false},
		{"lone high surrogate", `{"a":"\ud800"}`, false},
		{"lone low surrogate", `{"a":"\udc00"}`, false},
		{"high surrogate then a non-surrogate", `{"a":"\ud800\u0041"}`, false},
		{"too deep", deep, false},
		{"too many members", many.String(), false},
		{"not an object", `["typ"]`, false},
		{"null", `null`, false},
		{"trailing data", `{"a":1}{}`, false},
		{"syntax error", `{"a":1,}`, false},
		{"empty", ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StrictJSON([]byte(tt.json)); got != tt.ok {
				t.Fatalf("StrictJSON(%q) = %v, want %v", tt.json, got, tt.ok)
			}
		})
	}
}
