package store

import (
	"encoding/binary"
	"strings"
)

// Short texts that records repeat over and over — the User-Agent of a
// session's device, its client and scope, audit event types and detail
// keys — are stored with the phrases of textPhrases replaced by one byte
// each: a desktop Chrome User-Agent of 117 bytes takes 22. The coding is
// lossless for any string: a byte of 0x80 or more in the text is escaped
// (textEscape, then the byte), so only texts that gain are coded.
//
// textPhrases is part of the file format: a phrase's position is its code,
// so phrases are only ever appended, never changed, moved or removed, and
// the list never grows past textMaxPhrases.
var textPhrases = []string{
	// User-Agent strings of the common browsers (reduced Chrome UAs, Safari,
	// Firefox, Edge) on the common systems.
	"Mozilla/5.0 (",
	") AppleWebKit/537.36 (KHTML, like Gecko) ",
	"Chrome/",
	" Safari/537.36",
	"Macintosh; Intel Mac OS X ",
	"Windows NT 10.0; Win64; x64",
	"X11; Linux x86_64",
	"Linux; Android ",
	"iPhone; CPU iPhone OS ",
	"iPad; CPU OS ",
	" like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) ",
	") AppleWebKit/605.1.15 (KHTML, like Gecko) ",
	"Version/",
	" Mobile/15E148 Safari/604.1",
	" Safari/605.1.15",
	" Mobile Safari/537.36",
	"Firefox/",
	"; rv:",
	") Gecko/20100101 ",
	" Edg/",
	"HeadlessChrome/",
	".0.0.0",
	"CriOS/",
	"FxiOS/",
	"; K",
	"X11; Ubuntu; Linux x86_64",
	"X11; CrOS x86_64 ",
	// Clients, scopes and authentication methods.
	"latch",
	"app: ",
	"openid",
	"profile",
	"groups",
	"offline_access",
	"pop",
	"otp",
	"passkey",
	"totp",
	"recovery_code",
	// Audit event types and detail keys.
	"signin",
	"_failed",
	"_failures",
	"signup",
	"session",
	"_ended",
	"_added",
	"_deleted",
	"_created",
	"_removed",
	"client",
	"consent",
	"_granted",
	"_revoked",
	"recovery",
	"user",
	"amr",
	"sid",
	"factor",
	"reason",
	"group",
	"method",
	"count",
	"wrong code",
	"locked after repeated failures",
}

const (
	textFirstCode  = 0x80
	textEscape     = 0xff
	textMaxPhrases = textEscape - textFirstCode
)

// textByFirst lists the phrases by their first byte, longest first, for
// the greedy match of codeText.
var textByFirst = func() (m [128][]int) {
	if len(textPhrases) > textMaxPhrases {
		panic("store: too many text phrases")
	}
	for i, p := range textPhrases {
		m[p[0]] = append(m[p[0]], i)
	}
	for _, list := range m {
		for i := 1; i < len(list); i++ { // insertion sort, longest first
			for j := i; j > 0 && len(textPhrases[list[j]]) > len(textPhrases[list[j-1]]); j-- {
				list[j], list[j-1] = list[j-1], list[j]
			}
		}
	}
	return m
}()

// codeText appends s coded with textPhrases to b.
func codeText(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= textFirstCode {
			b = append(b, textEscape, c)
			i++
			continue
		}
		matched := false
		for _, p := range textByFirst[c] {
			if strings.HasPrefix(s[i:], textPhrases[p]) {
				b = append(b, byte(textFirstCode+p))
				i += len(textPhrases[p])
				matched = true
				break
			}
		}
		if !matched {
			b = append(b, c)
			i++
		}
	}
	return b
}

// decodeText is the inverse of codeText; ok is false for a code no phrase
// has or an escape at the end.
func decodeText(coded []byte) (s string, ok bool) {
	var out strings.Builder
	for i := 0; i < len(coded); i++ {
		c := coded[i]
		switch {
		case c < textFirstCode:
			out.WriteByte(c)
		case c == textEscape:
			if i++; i == len(coded) {
				return "", false
			}
			out.WriteByte(coded[i])
		case int(c-textFirstCode) < len(textPhrases):
			out.WriteString(textPhrases[c-textFirstCode])
		default:
			return "", false
		}
	}
	return out.String(), true
}

// appendText writes s as appendID does, an identifier packed, and any
// other string coded with textPhrases when that is shorter: tag 4n+1 (n ≥
// 1, a form appendID never writes) and the n coded bytes. reader.id reads
// it back.
func appendText(b []byte, s string) []byte {
	start := len(b)
	b = appendID(b, s)
	if b[start]&3 != idRaw || len(s) < 2 {
		return b // an id, packed, or too short to gain
	}
	var buf [64]byte
	coded := codeText(buf[:0], s)
	if len(coded) >= len(s) {
		return b
	}
	return append(binary.AppendUvarint(b[:start], uint64(len(coded))<<2|idText), coded...)
}

// appendTexts writes a list as a count and the strings, with appendText.
func appendTexts(b []byte, list []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(list)))
	for _, s := range list {
		b = appendText(b, s)
	}
	return b
}

// texts reads a list written by appendTexts.
func (r *reader) texts() []string { return r.list(r.id) }
