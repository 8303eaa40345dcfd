package sdjwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"time"
	"unicode/utf8"
)

// errSDJSON is returned for any JSON the strict decoder refuses; callers turn
// it into an SDError naming the document that failed.
var errSDJSON = errors.New("invalid json")

// sdDecodeJSON parses exactly one JSON value with rules stricter than
// encoding/json: valid UTF-8 only, no duplicate object keys (two parsers
// could otherwise disagree about which value a claim has), nesting bounded by
// sdMaxJSONDepth, and nothing after the value. Numbers stay json.Number so
// large integers keep their exact value.
func sdDecodeJSON(data []byte) (any, error) {
	if !utf8.Valid(data) {
		return nil, errSDJSON
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := sdDecodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errSDJSON
	}
	return v, nil
}

// sdDecodeObject parses a JSON document that must be an object.
func sdDecodeObject(data []byte) (map[string]any, error) {
	v, err := sdDecodeJSON(data)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errSDJSON
	}
	return m, nil
}

func sdDecodeValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, errSDJSON
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= sdMaxJSONDepth {
			return nil, errSDJSON
		}
		switch t {
		case '{':
			m := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, errSDJSON
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errSDJSON
				}
				if _, dup := m[k]; dup {
					return nil, errSDJSON
				}
				v, err := sdDecodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				m[k] = v
			}
			if end, err := dec.Token(); err != nil || end != json.Delim('}') {
				return nil, errSDJSON
			}
			return m, nil
		case '[':
			a := []any{}
			for dec.More() {
				v, err := sdDecodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if end, err := dec.Token(); err != nil || end != json.Delim(']') {
				return nil, errSDJSON
			}
			return a, nil
		}
		return nil, errSDJSON
	default:
		// string, json.Number, bool or nil.
		return t, nil
	}
}

// sdMaxNumericDate is 9999-12-31T23:59:59Z; later dates are treated as
// malformed rather than risking overflow in time arithmetic.
const sdMaxNumericDate = 253402300799

// sdNumericDate reads a JWT NumericDate (RFC 7519 §2): a non-negative JSON
// number of seconds, possibly fractional.
func sdNumericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	if i, err := n.Int64(); err == nil {
		if i < 0 || i > sdMaxNumericDate {
			return time.Time{}, false
		}
		return time.Unix(i, 0), true
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > sdMaxNumericDate {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}
