package auth

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Username length bounds, counted in Unicode code points after normalisation.
const (
	minUsernameLen = 3
	maxUsernameLen = 64
)

// NormalizeUsername returns the canonical form of a username: NFC, lower-case,
// 3 to 64 characters of Unicode letters, digits and . _ - @. The canonical form
// is what makes usernames unique case-insensitively.
func NormalizeUsername(raw string) (string, error) {
	if !utf8.ValidString(raw) {
		return "", badRequest("username is not valid UTF-8")
	}
	// Lower-casing can in rare cases denormalise, so normalise on both sides.
	name := norm.NFC.String(strings.ToLower(norm.NFC.String(raw)))
	n := utf8.RuneCountInString(name)
	if n < minUsernameLen || n > maxUsernameLen {
		return "", badRequest("username must be %d to %d characters", minUsernameLen, maxUsernameLen)
	}
	for _, r := range name {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r):
		case r == '.', r == '_', r == '-', r == '@':
		case unicode.IsMark(r):
			// Combining marks that NFC could not compose (e.g. in scripts
			// without precomposed forms) belong to the preceding letter.
		default:
			return "", badRequest("username may contain only letters, digits and . _ - @")
		}
	}
	return name, nil
}

// cleanDisplayName trims a display name and rejects control characters and
// oversized values; an empty display name falls back to the username.
func cleanDisplayName(raw, username string) (string, error) {
	name := strings.TrimSpace(norm.NFC.String(raw))
	if name == "" {
		return username, nil
	}
	if utf8.RuneCountInString(name) > 128 {
		return "", badRequest("display_name must be at most 128 characters")
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return "", badRequest("display_name contains control characters")
		}
	}
	return name, nil
}
