package resource

import (
	"context"
	"crypto"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchid/latch/tokens/jose"

	"github.com/latchid/latch/tokens/sdjwt"
)

// statusServer serves one signed list at /list and counts fetches.
type statusServer struct {
	t       *testing.T
	srv     *httptest.Server
	key     *jose.SigningKey
	mu      sync.Mutex
	list    *sdjwt.StatusList
	ttl     time.Duration
	ctype   string
	now     time.Time
	fetches atomic.Int32
	// mutate, when set, replaces the served body.
	mutate func(token string) string
}

func newStatusServer(t *testing.T) *statusServer {
	t.Helper()
	key, err := jose.GenerateSigningKey("ES256", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	list, _ := sdjwt.NewStatusList(1, 1024)
	s := &statusServer{t: t, key: key, list: list, ttl: time.Minute, ctype: "application/statuslist+jwt", now: time.Unix(1_790_000_000, 0)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/list", http.StatusFound)
			return
		}
		if r.URL.Path != "/list" {
			http.NotFound(w, r)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		tok, err := sdjwt.SignStatusList(sdjwt.StatusListClaims{
			Subject: s.srv.URL + "/list", Issuer: "https://issuer.example", IssuedAt: s.now,
			ExpiresAt: s.now.Add(time.Hour), TTL: s.ttl, List: s.list,
		}, s.key)
		if err != nil {
			t.Error(err)
		}
		if s.mutate != nil {
			tok = s.mutate(tok)
		}
		w.Header().Set("Content-Type", s.ctype)
		w.Write([]byte(tok))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *statusServer) set(idx int, status byte) {
	s.mu.Lock()
	s.list.Set(idx, status)
	s.mu.Unlock()
}

func (s *statusServer) keys(_ context.Context, kid string) (crypto.PublicKey, string, error) {
	if kid != s.key.ID {
		return nil, "", errors.New("unknown kid")
	}
	return s.key.Public(), s.key.Alg, nil
}

func TestStatusListVerifier(t *testing.T) {
	s := newStatusServer(t)
	now := s.now
	var clockMu sync.Mutex
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }
	v, err := NewStatusListVerifier(StatusListConfig{Keys: s.keys, Issuer: "https://issuer.example", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ref := sdjwt.StatusRef{Index: 700, URI: s.srv.URL + "/list"}
	if err := v.Check(ctx, ref); err != nil {
		t.Fatalf("valid entry: %v", err)
	}
	s.set(700, sdjwt.StatusInvalid)
	// Cached for the ttl: the revocation shows once it has passed.
	if err := v.Check(ctx, ref); err != nil || s.fetches.Load() != 1 {
		t.Fatalf("within the ttl the cached list answers (%v, %d fetches)", err, s.fetches.Load())
	}
	advance(time.Minute)
	if err := v.Check(ctx, ref); !errors.Is(err, ErrStatusListRevoked) || s.fetches.Load() != 2 {
		t.Fatalf("after the ttl: %v (%d fetches)", err, s.fetches.Load())
	}
	if err := v.Check(ctx, sdjwt.StatusRef{Index: 702, URI: ref.URI}); err != nil {
		t.Fatalf("other entry: %v", err)
	}
	if err := v.Check(ctx, sdjwt.StatusRef{Index: 1024, URI: ref.URI}); err == nil || errors.Is(err, ErrStatusListRevoked) {
		t.Fatalf("an index outside the list must be no statement: %v", err)
	}
	// A redirect within the allowed URIs is followed; the sub must still
	// be the URI the credential named.
	if err := v.Check(ctx, sdjwt.StatusRef{Index: 1, URI: s.srv.URL + "/moved"}); err == nil || !strings.Contains(err.Error(), "sub does not match") {
		t.Fatalf("a list whose sub is another URI: %v", err)
	}
}

func TestStatusListVerifierRefuses(t *testing.T) {
	cases := map[string]struct {
		prepare func(s *statusServer)
		uri     func(s *statusServer) string
		allow   func(string) bool
		want    string
	}{
		"wrong content type": {prepare: func(s *statusServer) { s.ctype = "application/json" }, want: "not application/statuslist+jwt"},
		"HTTP 404":           {uri: func(s *statusServer) string { return s.srv.URL + "/other" }, want: "HTTP 404"},
		"signature altered":  {prepare: func(s *statusServer) { s.mutate = func(tok string) string { return tok[:len(tok)-4] + "AAAA" } }, want: "signature invalid"},
		"another issuer's key": {prepare: func(s *statusServer) {
			other, _ := jose.GenerateSigningKey("ES256", time.Now())
			s.key = other
		}, want: "key unknown"},
		"expired":         {prepare: func(s *statusServer) { s.now = s.now.Add(-2 * time.Hour) }, want: "expired"},
		"uri not allowed": {allow: func(string) bool { return false }, want: "not allowed"},
		"too large": {prepare: func(s *statusServer) {
			s.mutate = func(string) string { return strings.Repeat("A", sdjwt.StatusListMaxToken+1) }
		}, want: "too large"},
		"redirect elsewhere": {uri: func(s *statusServer) string { return s.srv.URL + "/moved" }, allow: func(u string) bool { return strings.HasSuffix(u, "/moved") }, want: "redirect target not allowed"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := newStatusServer(t)
			keys := s.keys // the verifier trusts the original key
			if c.prepare != nil {
				orig := s.key
				c.prepare(s)
				keys = func(ctx context.Context, kid string) (crypto.PublicKey, string, error) {
					if kid != orig.ID {
						return nil, "", errors.New("unknown kid")
					}
					return orig.Public(), orig.Alg, nil
				}
			}
			uri := s.srv.URL + "/list"
			if c.uri != nil {
				uri = c.uri(s)
			}
			v, _ := NewStatusListVerifier(StatusListConfig{Keys: keys, AllowURI: c.allow, Now: func() time.Time { return time.Unix(1_790_000_000, 0) }})
			err := v.Check(context.Background(), sdjwt.StatusRef{Index: 1, URI: uri})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error about %q", err, c.want)
			}
		})
	}
	if _, err := NewStatusListVerifier(StatusListConfig{}); err == nil {
		t.Fatal("a verifier without keys")
	}
	for uri, want := range map[string]bool{
		"https://issuer.example/credentials/status/x": true, "http://127.0.0.1:8080/x": true, "http://localhost/x": true,
		"http://issuer.example/x": false, "file:///etc/passwd": false, "https://user@issuer.example/x": false, "/relative": false,
	} {
		if defaultAllowStatusURI(uri) != want {
			t.Fatalf("default AllowURI(%q) = %v", uri, !want)
		}
	}
}

func TestStatusListVerifierTwoBitStatuses(t *testing.T) {
	s := newStatusServer(t)
	s.list, _ = sdjwt.NewStatusList(2, 64)
	s.set(3, sdjwt.StatusSuspended)
	s.set(4, sdjwt.StatusInvalid)
	s.set(5, 3)
	v, _ := NewStatusListVerifier(StatusListConfig{Keys: s.keys, Now: func() time.Time { return s.now }})
	ctx := context.Background()
	for idx, want := range map[int]error{3: ErrStatusListSuspended, 4: ErrStatusListRevoked, 6: nil} {
		if err := v.Check(ctx, sdjwt.StatusRef{Index: idx, URI: s.srv.URL + "/list"}); !errors.Is(err, want) {
			t.Fatalf("entry %d: %v, want %v", idx, err, want)
		}
	}
	if err := v.Check(ctx, sdjwt.StatusRef{Index: 5, URI: s.srv.URL + "/list"}); err == nil || !strings.Contains(err.Error(), "0x03") {
		t.Fatalf("an application-specific status: %v", err)
	}
}
