package auth

import (
	"container/list"
	"math"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// rateLimiter is a token bucket per client address. It guards the
// unauthenticated POST endpoints: the ceremony begins, which write a record
// for anyone who asks, and everything that checks a secret or a signature
// for anyone who asks. Buckets are kept in least-recently-used order: those
// of clients that went quiet long enough to have refilled are dropped, and
// when the table is full the least recently used one makes room, so memory
// is bounded and a flood of new addresses never resets everyone at once.
type rateLimiter struct {
	proxies []netip.Prefix // trusted proxies, whose X-Forwarded-For is believed
	rate    float64        // tokens per second
	burst   float64
	refill  time.Duration // from empty to full
	max     int           // buckets kept at most
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*list.Element // of *bucket
	lru     list.List                // most recently used first
	evicted uint64                   // buckets dropped from a full table
}

type bucket struct {
	key    string
	tokens float64
	last   time.Time
}

// maxRateBuckets caps the addresses each limiter tracks at once (a
// variable so that a test can fill a table).
var maxRateBuckets = 100_000

func newRateLimiter(perSecond float64, burst int, proxies []netip.Prefix, now func() time.Time) *rateLimiter {
	return &rateLimiter{
		proxies: proxies, rate: perSecond, burst: float64(burst), now: now, max: maxRateBuckets,
		refill:  time.Duration(float64(burst) / perSecond * float64(time.Second)),
		buckets: map[string]*list.Element{},
	}
}

// clientKey names the client a request comes from: the peer address, or,
// when the peer is a trusted proxy, the nearest X-Forwarded-For entry that
// is not one (entries further left are whatever the client wrote). IPv6
// clients are keyed by their /64, which one host usually controls whole.
func (l *rateLimiter) clientKey(c *fiber.Ctx) string {
	addr, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	addr = addr.Unmap()
	if l.trusted(addr) {
		// Every X-Forwarded-For line, in order: a proxy may append its own
		// line rather than extend the client's, and Peek returns only the
		// first, the one the client wrote.
		var hops []string
		for _, line := range c.Request().Header.PeekAll(fiber.HeaderXForwardedFor) {
			hops = append(hops, strings.Split(string(line), ",")...)
		}
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a forged or broken entry: stop at the last good one
			}
			addr = hop.Unmap()
			if !l.trusted(addr) {
				break
			}
		}
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

func (l *rateLimiter) trusted(a netip.Addr) bool {
	for _, p := range l.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// allow takes one token for key; when none is left it returns how long
// until one will be.
func (l *rateLimiter) allow(key string) (bool, time.Duration) {
	return l.take(key, true)
}

// check reports whether key has a token left without taking it, for limits
// that count only failures (charge takes one when the request has failed).
func (l *rateLimiter) check(key string) (bool, time.Duration) {
	return l.take(key, false)
}

// charge takes a token from key, going no lower than empty.
func (l *rateLimiter) charge(key string) { l.take(key, true) }

func (l *rateLimiter) take(key string, spend bool) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.touch(key, now)
	b.tokens = math.Min(l.burst, b.tokens+max(0, now.Sub(b.last).Seconds())*l.rate)
	b.last = now
	if b.tokens >= 1 {
		if spend {
			b.tokens--
		}
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// touch returns key's bucket, made most recently used, creating it (with a
// full burst) if need be. Idle buckets that have refilled are dropped from
// the old end first; if the table is still full, the least recently used
// bucket goes, and only that one.
func (l *rateLimiter) touch(key string, now time.Time) *bucket {
	if e, ok := l.buckets[key]; ok {
		l.lru.MoveToFront(e)
		return e.Value.(*bucket)
	}
	for e := l.lru.Back(); e != nil && now.Sub(e.Value.(*bucket).last) >= l.refill; e = l.lru.Back() {
		l.drop(e)
	}
	if len(l.buckets) >= l.max {
		l.drop(l.lru.Back())
		l.evicted++
	}
	b := &bucket{key: key, tokens: l.burst, last: now}
	l.buckets[key] = l.lru.PushFront(b)
	return b
}

func (l *rateLimiter) drop(e *list.Element) {
	delete(l.buckets, e.Value.(*bucket).key)
	l.lru.Remove(e)
}

// limited is the 429 answer for a client that must wait.
func limited(wait time.Duration, what string) *Error {
	return &Error{
		Status: http.StatusTooManyRequests, Code: CodeRateLimited,
		Description: "too many " + what + "; try again shortly",
		RetryAfter:  max(1, int(math.Ceil(wait.Seconds()))),
	}
}

// limit answers 429 rate_limited with Retry-After once a client address has
// used up its burst. A nil limiter (limits lifted) lets everything through.
func (l *rateLimiter) limit(c *fiber.Ctx) error {
	if l == nil {
		return c.Next()
	}
	if ok, wait := l.allow(l.clientKey(c)); !ok {
		return limited(wait, "requests from this address")
	}
	return c.Next()
}

// failures admits a request while the client address has failures left to
// spend: each request the handler chain answers with a 401 (a failed
// client authentication) spends one. Successful requests cost nothing, so
// a resource server introspecting thousands of tokens is never slowed.
func (l *rateLimiter) failures(c *fiber.Ctx) error {
	if l == nil {
		return c.Next()
	}
	key := l.clientKey(c)
	if ok, wait := l.check(key); !ok {
		return limited(wait, "failed client authentications from this address")
	}
	err := c.Next()
	if e, ok := asError(err); ok && e.Status == http.StatusUnauthorized {
		l.charge(key)
	}
	return err
}

// limits are the per-address limiters of the unauthenticated POST
// endpoints, each with a table of its own so that one endpoint's traffic
// never uses up another's. All are nil when limits are lifted.
type limits struct {
	begin      *rateLimiter // both /webauthn/*/begin: --begin-rate
	register   *rateLimiter // /webauthn/register/finish
	login      *rateLimiter // /webauthn/login/finish
	token      *rateLimiter // /token
	totp       *rateLimiter // /totp/verify
	introspect *rateLimiter // failed client authentications at /introspect
	verify     *rateLimiter // /credentials/verify
	revoke     *rateLimiter // /revoke
	authorize  *rateLimiter // /authorize (each keeps a pending request) and the consent and logout forms: --begin-rate
	par        *rateLimiter // /par
	recovery   *rateLimiter // /recovery/start
}

// newLimits builds the limiters from the configuration: a negative
// BeginRate lifts every per-address limit (load tests from one address).
func newLimits(cfg Config, now func() time.Time) *limits {
	if cfg.BeginRate < 0 {
		return &limits{}
	}
	proxies := trustedPrefixes(cfg.TrustedProxies)
	mk := func(rate float64) *rateLimiter {
		if rate < 0 {
			return nil
		}
		return newRateLimiter(rate, int(math.Ceil(4*rate)), proxies, now)
	}
	return &limits{
		begin: mk(cfg.BeginRate), register: mk(cfg.PostRate), login: mk(cfg.PostRate), token: mk(cfg.PostRate), totp: mk(cfg.PostRate),
		introspect: mk(cfg.PostRate), verify: mk(cfg.PostRate), revoke: mk(cfg.PostRate), recovery: mk(cfg.PostRate),
		authorize: mk(cfg.BeginRate), par: mk(cfg.PostRate),
	}
}

// evictions counts the buckets dropped from full tables: a rising count
// means a flood from many addresses.
func (ls *limits) evictions() float64 {
	var n uint64
	for _, l := range []*rateLimiter{ls.begin, ls.register, ls.login, ls.token, ls.totp, ls.introspect, ls.verify, ls.revoke, ls.authorize, ls.par, ls.recovery} {
		if l != nil {
			l.mu.Lock()
			n += l.evicted
			l.mu.Unlock()
		}
	}
	return float64(n)
}
