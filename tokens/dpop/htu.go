package dpop

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/latchid/latch/tokens/jose"
)

// maxHTU bounds the URLs NormalizeHTU accepts; a proof cannot carry a longer
// one anyway.
const maxHTU = 4 << 10

var errHTU = errors.New("tokens: htu is not an absolute http(s) URL")

// NormalizeHTU returns the form of an http(s) URL that DPoP "htu" values are
// compared in (RFC 9449 section 4.3): RFC 3986 section 6.2.2 syntax-based
// normalisation (lower-case scheme and host, upper-case percent-encoding,
// percent-encoded unreserved characters decoded, dot segments removed) and
// section 6.2.3 scheme-based normalisation (default port dropped, empty path
// becomes "/"). Query and fragment are dropped because htu excludes them.
// User information is rejected: a request target never carries it.
func NormalizeHTU(raw string) (string, error) {
	if len(raw) == 0 || len(raw) > maxHTU {
		return "", errHTU
	}
	// Cut the fragment and query first so url.Parse never has to accept
	// their syntax on our behalf.
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		raw = raw[:i]
	}
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", errHTU
	}
	scheme := strings.ToLower(u.Scheme)
	var defaultPort string
	switch scheme {
	case "https":
		defaultPort = "443"
	case "http":
		defaultPort = "80"
	default:
		return "", errHTU
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || strings.ContainsAny(host, "%") {
		return "", errHTU
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return "", errHTU
		}
		port = strconv.FormatUint(n, 10)
		if port == defaultPort {
			port = ""
		}
	}
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]"
	}
	var b strings.Builder
	b.Grow(len(raw) + 8)
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	path, ok := normalizePercent(u.EscapedPath())
	if !ok {
		return "", errHTU
	}
	path = removeDotSegments(path)
	if path == "" {
		path = "/"
	}
	b.WriteString(path)
	return b.String(), nil
}

// normalizePercent upper-cases the hex digits of percent-encodings and
// decodes those that encode unreserved characters (RFC 3986 section
// 6.2.2.2). It fails on a malformed escape.
func normalizePercent(p string) (string, bool) {
	if strings.IndexByte(p, '%') < 0 {
		return p, true
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", false
		}
		v := unhex(p[i+1])<<4 | unhex(p[i+2])
		if isUnreserved(v) {
			b.WriteByte(v)
		} else {
			const hexUpper = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hexUpper[v>>4])
			b.WriteByte(hexUpper[v&15])
		}
		i += 2
	}
	return b.String(), true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func isUnreserved(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// removeDotSegments is the algorithm of RFC 3986 section 5.2.4. Unlike
// path.Clean it keeps empty segments and a trailing slash, which are
// significant in a URI.
func removeDotSegments(in string) string {
	if !strings.Contains(in, ".") {
		return in
	}
	out := make([]string, 0, strings.Count(in, "/")+1)
	for len(in) > 0 {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "/..":
			in = "/"
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "." || in == "..":
			in = ""
		default:
			// Move the first segment, with its leading slash, to the output.
			start := 0
			if in[0] == '/' {
				start = 1
			}
			end := strings.IndexByte(in[start:], '/')
			if end < 0 {
				end = len(in)
			} else {
				end += start
			}
			out = append(out, in[:end])
			in = in[end:]
		}
	}
	return strings.Join(out, "")
}

// ATH returns the DPoP "ath" value for an access token: the base64url
// SHA-256 of its ASCII bytes (RFC 9449 section 4.2).
func ATH(accessToken string) string {
	sum := jose.SHA256String(accessToken)
	return b64.EncodeToString(sum[:])
}
