package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
)

// The helpers here build request bodies and read response fields without
// encoding/json's reflection and maps: the generator shares the CPU with
// the server it measures, so it builds exactly the bytes json.Marshal would
// and reads only the few fields it needs.

// appendJSONString appends s as a JSON string, byte for byte as
// json.Marshal writes it. Strings that need escaping (none of the
// generator's do: base64url, URLs, fixed names) go through json.Marshal.
func appendJSONString[S ~string | ~[]byte](b []byte, s S) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(string(s))
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendQueryEscaped appends s escaped as a form value, like
// url.QueryEscape; tokens are base64url and JWS, which need no escaping.
func appendQueryEscaped(b, s []byte) []byte {
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return append(b, url.QueryEscape(string(s))...)
		}
	}
	return append(b, s...)
}

// jsonField returns the raw value of key in the JSON object obj, or nil if
// obj is not an object or has no such member. Only obj's own members are
// looked at: a member of the same name in a nested object never matches.
// It expects well-formed JSON, as the server writes.
func jsonField(obj []byte, key string) []byte {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil
	}
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return nil // '}' or malformed
		}
		nameEnd := skipValue(obj, i)
		if nameEnd < 0 {
			return nil
		}
		name := obj[i+1 : nameEnd-1]
		i = skipSpace(obj, nameEnd)
		if i >= len(obj) || obj[i] != ':' {
			return nil
		}
		i = skipSpace(obj, i+1)
		end := skipValue(obj, i)
		if end < 0 {
			return nil
		}
		if string(name) == key {
			return obj[i:end]
		}
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ',' {
			return nil
		}
		i++
	}
}

// jsonString returns the content of the JSON string value raw (from
// jsonField), or nil if raw is not a string. Without escapes it is a
// sub-slice of raw; escaped strings are decoded by encoding/json.
func jsonString(raw []byte) []byte {
	if len(raw) < 2 || raw[0] != '"' {
		return nil
	}
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return s
	}
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	return []byte(v)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at b[i],
// or -1 if it does not end.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++ // the escaped byte cannot close the string
			case '"':
				return j + 1
			}
		}
		return -1
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end := skipValue(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default: // number, true, false, null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

var errSignature = errors.New("unexpected ECDSA signature encoding")

// appendRawSignature appends the ASN.1 DER ECDSA P-256 signature der in
// the fixed-size r||s form JWS uses (RFC 7518 section 3.4), without going
// through big.Int.
func appendRawSignature(b, der []byte) ([]byte, error) {
	// SEQUENCE { INTEGER r, INTEGER s }: a P-256 signature is at most 72
	// bytes, so every length is in the short one-byte form.
	if len(der) < 2 || der[0] != 0x30 || int(der[1]) != len(der)-2 {
		return nil, errSignature
	}
	rest := der[2:]
	for range 2 {
		if len(rest) < 2 || rest[0] != 0x02 || int(rest[1]) > len(rest)-2 {
			return nil, errSignature
		}
		v := rest[2 : 2+int(rest[1])]
		rest = rest[2+len(v):]
		v = bytes.TrimLeft(v, "\x00") // DER's sign byte, or a short value
		if len(v) > 32 {
			return nil, errSignature
		}
		b = append(b, make([]byte, 32-len(v))...)
		b = append(b, v...)
	}
	if len(rest) != 0 {
		return nil, errSignature
	}
	return b, nil
}

// appendCBORBytes appends data as a CBOR byte string (RFC 8949, major
// type 2).
func appendCBORBytes(b, data []byte) []byte {
	switch n := len(data); {
	case n < 24:
		b = append(b, 0x40|byte(n))
	case n < 1<<8:
		b = append(b, 0x58, byte(n))
	case n < 1<<16:
		b = append(b, 0x59, byte(n>>8), byte(n))
	default:
		b = append(b, 0x5a, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, data...)
}
