package sdjwt

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSDDecodeJSON(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"object with nested values is accepted", `{"a":[1,{"b":null}],"c":true}`, true},
		{"surrounding whitespace is accepted", " {\"a\":1} \n", true},
		{"nesting at the limit is accepted", deep(sdMaxJSONDepth), true},
		{"nesting beyond the limit is rejected", deep(sdMaxJSONDepth + 1), false},
		{"duplicate key is rejected", `{"a":1,"a":1}`, false},
		{"duplicate key in a nested object is rejected", `{"o":{"k":1,"k":2}}`, false},
		{"trailing value is rejected", `{"a":1}{"b":2}`, false},
		{"trailing garbage is rejected", `{"a":1}x`, false},
		{"invalid utf-8 is rejected", "{\"a\":\"\xff\"}", false},
		{"truncated input is rejected", `{"a":`, false},
		{"empty input is rejected", ``, false},
		{"missing colon is rejected", `{"a" 1}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sdDecodeJSON([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestSDDecodeJSONKeepsIntegersExact(t *testing.T) {
	v, err := sdDecodeObject([]byte(`{"n":9007199254740993}`))
	if err != nil {
		t.Fatal(err)
	}
	if v["n"] != json.Number("9007199254740993") {
		t.Fatalf("n = %#v", v["n"])
	}
}

func TestSDNumericDate(t *testing.T) {
	cases := []struct {
		name string
		in   any
		want time.Time
		ok   bool
	}{
		{"integer seconds", json.Number("1748536865"), time.Unix(1748536865, 0), true},
		{"fractional seconds", json.Number("1.5"), time.Unix(1, 5e8), true},
		{"exponent form", json.Number("1.7e9"), time.Unix(1_700_000_000, 0), true},
		{"negative is rejected", json.Number("-1"), time.Time{}, false},
		{"beyond year 9999 is rejected", json.Number("1e300"), time.Time{}, false},
		{"string is rejected", "1748536865", time.Time{}, false},
		{"missing is rejected", nil, time.Time{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := sdNumericDate(tc.in)
			if ok != tc.ok || !got.Equal(tc.want) {
				t.Fatalf("sdNumericDate = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
