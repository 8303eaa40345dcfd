package resource

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Introspection configures revocation awareness through the issuer's RFC
// 7662 introspection endpoint, for APIs that must see a revocation within
// a bound: Latch's tokens verify offline until they expire, and only the
// issuer knows one was revoked.
type Introspection struct {
	// ClientID and ClientSecret are an introspection client's credentials
	// (`latch clients add ID`), sent with HTTP Basic.
	ClientID, ClientSecret string
	// MaxStale is how long an answer is used before the token is
	// introspected again: a revoked token is refused at most MaxStale
	// after its revocation. Default 30 s.
	MaxStale time.Duration
	// CacheSize bounds the answers kept; default 10000.
	CacheSize int
	// Endpoint overrides the introspection_endpoint of the issuer's
	// metadata.
	Endpoint string
}

const (
	defaultMaxStale          = 30 * time.Second
	defaultIntrospectEntries = 10000
	maxIntrospectBody        = 64 << 10
)

// introspector keeps the last answer for each token. Only tokens that
// passed offline verification (and, when bound, whose proof checked) are
// introspected, so nobody can make the API call the issuer with junk.
type introspector struct {
	cfg Introspection
	g   *Guard

	mu       sync.Mutex
	answers  map[[32]byte]introspected
	inflight map[[32]byte]*introspectCall
}

type introspected struct {
	active bool
	at     time.Time
}

// introspectCall is one request to the issuer that concurrent requests
// with the same token wait for, rather than each asking.
type introspectCall struct {
	done   chan struct{}
	active bool
	err    error
}

func newIntrospector(cfg Introspection, g *Guard) (*introspector, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("resource: Introspection needs ClientID and ClientSecret")
	}
	if cfg.Endpoint != "" {
		if err := absoluteHTTP(cfg.Endpoint, "Introspection.Endpoint"); err != nil {
			return nil, err
		}
	}
	if cfg.MaxStale <= 0 {
		cfg.MaxStale = defaultMaxStale
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = defaultIntrospectEntries
	}
	return &introspector{cfg: cfg, g: g, answers: map[[32]byte]introspected{}, inflight: map[[32]byte]*introspectCall{}}, nil
}

// active reports whether the issuer considers token active, from an answer
// at most MaxStale old.
func (in *introspector) active(ctx context.Context, token string) (bool, error) {
	key := sha256.Sum256([]byte(token))
	now := in.g.cfg.Now()
	in.mu.Lock()
	if a, ok := in.answers[key]; ok && now.Sub(a.at) < in.cfg.MaxStale {
		in.mu.Unlock()
		return a.active, nil
	}
	call, waiting := in.inflight[key]
	if !waiting {
		call = &introspectCall{done: make(chan struct{})}
		in.inflight[key] = call
	}
	in.mu.Unlock()
	if waiting {
		select {
		case <-call.done:
			return call.active, call.err
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}

	call.active, call.err = in.ask(ctx, token)
	in.mu.Lock()
	delete(in.inflight, key)
	if call.err == nil {
		if len(in.answers) >= in.cfg.CacheSize {
			in.evictLocked(now)
		}
		in.answers[key] = introspected{active: call.active, at: now}
	}
	in.mu.Unlock()
	close(call.done)
	return call.active, call.err
}

// evictLocked frees a slot: stale answers among the first few visited go,
// or else the first one visited (map order is random), so an insert into
// a full cache does bounded work.
func (in *introspector) evictLocked(now time.Time) {
	var victim [32]byte
	seen, freed := 0, false
	for k, a := range in.answers {
		if seen == 0 {
			victim = k
		}
		if now.Sub(a.at) >= in.cfg.MaxStale {
			delete(in.answers, k)
			freed = true
		}
		if seen++; seen >= evictScan {
			break
		}
	}
	if !freed {
		delete(in.answers, victim)
	}
}

// evictScan bounds the entries an eviction looks at.
const evictScan = 16

// ask posts the token to the introspection endpoint (RFC 7662 section 2).
// Only "active" is read: the claims were verified offline already.
func (in *introspector) ask(ctx context.Context, token string) (bool, error) {
	endpoint := in.cfg.Endpoint
	if endpoint == "" {
		endpoint = in.g.keys.introspectionEndpoint()
	}
	if endpoint == "" {
		return false, errors.New("resource: the issuer's metadata names no introspection_endpoint")
	}
	ctx, cancel := context.WithTimeout(ctx, in.g.cfg.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 section 2.3.1: the credentials are form-encoded first.
	req.SetBasicAuth(url.QueryEscape(in.cfg.ClientID), url.QueryEscape(in.cfg.ClientSecret))
	res, err := in.g.cfg.HTTPClient.Do(req)
	if err != nil {
		return false, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return false, fmt.Errorf("resource: introspection answered %d", res.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(res.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return false, errors.New("resource: introspection answered a body that is not JSON")
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxIntrospectBody+1))
	if err != nil {
		return false, err
	}
	if len(body) > maxIntrospectBody {
		return false, errors.New("resource: introspection answer too large")
	}
	var out struct {
		Active *bool `json:"active"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Active == nil {
		return false, errors.New("resource: introspection answer without active")
	}
	return *out.Active, nil
}
