package auth

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"
)

// The grant of a code of kindSessionCode is kept in a compact binary form
// rather than JSON: it is decoded on the store's single writer, inside
// the exchange's transaction, where JSON's reflection cost every code
// exchange more than the rest of its reads. Codes of the older kinds keep
// their JSON grants, which decodeGrant still reads.
//
// The form is grantBinaryV1 and then the fields in a fixed order: strings
// as a uvarint length and the bytes, string lists as a uvarint count and
// the strings, times as a varint of Unix nanoseconds with a flag for the
// zero time. A JSON grant starts with '{', so the two never mix up.
const grantBinaryV1 = 1

// maxGrantField bounds each string and list of a decoded grant: far above
// what an authorization request may carry, far below what could hurt.
const maxGrantField = 8 << 10

var errGrantRecord = errors.New("auth: malformed code grant record")

// encodeGrant returns g in the binary form.
func encodeGrant(g *codeGrant) []byte {
	b := make([]byte, 0, 256)
	b = append(b, grantBinaryV1)
	for _, s := range []string{g.ClientID, g.RedirectURI, g.Nonce, g.CodeChallenge, g.DPoPJKT, g.UserID, g.LoginSID, g.GrantSID} {
		b = appendGrantString(b, s)
	}
	b = appendGrantStrings(b, g.Scope)
	b = appendGrantStrings(b, g.AMR)
	b = appendGrantTime(b, g.AuthTime)
	return appendGrantTime(b, g.Issued)
}

// decodeGrant reads a grant in either form into g.
func decodeGrant(b []byte, g *codeGrant) error {
	*g = codeGrant{}
	if len(b) > 0 && b[0] == '{' {
		return json.Unmarshal(b, g)
	}
	if len(b) == 0 || b[0] != grantBinaryV1 {
		return errGrantRecord
	}
	d := grantReader{b: b[1:]}
	for _, s := range []*string{&g.ClientID, &g.RedirectURI, &g.Nonce, &g.CodeChallenge, &g.DPoPJKT, &g.UserID, &g.LoginSID, &g.GrantSID} {
		*s = d.string()
	}
	g.Scope, g.AMR = d.strings(), d.strings()
	g.AuthTime, g.Issued = d.time(), d.time()
	if d.err != nil || len(d.b) != 0 {
		*g = codeGrant{}
		return errGrantRecord
	}
	return nil
}

func appendGrantString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendGrantStrings(b []byte, list []string) []byte {
	if list == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(list))+1)
	for _, s := range list {
		b = appendGrantString(b, s)
	}
	return b
}

func appendGrantTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	return binary.AppendVarint(b, t.UnixNano())
}

// grantReader reads the binary form; the first error sticks and every
// later read returns a zero value.
type grantReader struct {
	b   []byte
	err error
}

func (d *grantReader) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errGrantRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *grantReader) string() string {
	n := d.uvarint()
	if d.err != nil || n > maxGrantField || n > uint64(len(d.b)) {
		d.err = errGrantRecord
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *grantReader) strings() []string {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	n--
	if n > maxGrantField || n > uint64(len(d.b)) {
		d.err = errGrantRecord
		return nil
	}
	list := make([]string, 0, n)
	for range n {
		list = append(list, d.string())
	}
	return list
}

func (d *grantReader) time() time.Time {
	if d.err != nil || len(d.b) == 0 {
		d.err = errGrantRecord
		return time.Time{}
	}
	flag := d.b[0]
	d.b = d.b[1:]
	switch flag {
	case 0:
		return time.Time{}
	case 1:
		v, n := binary.Varint(d.b)
		if n <= 0 {
			d.err = errGrantRecord
			return time.Time{}
		}
		d.b = d.b[n:]
		return time.Unix(0, v).UTC()
	}
	d.err = errGrantRecord
	return time.Time{}
}
