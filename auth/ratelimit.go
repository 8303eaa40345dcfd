package auth

import (
	"math"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// rateLimiter is a token bucket per client address. It guards the
// endpoints that write a record for anyone who asks (ceremony begins), so
// one client cannot fill the store with pending ceremonies. Buckets of
// clients that went quiet are dropped, which keeps memory bounded by the
// number of recently active addresses.
type rateLimiter struct {
	proxies []netip.Prefix // trusted proxies, whose X-Forwarded-For is believed
	rate    float64        // tokens per second
	burst   float64
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxRateBuckets caps the addresses tracked at once; past it every bucket
// is dropped (clients start again with a full burst, which errs towards
// letting people in).
const maxRateBuckets = 100_000

func newRateLimiter(perSecond float64, burst int, proxies []netip.Prefix, now func() time.Time) *rateLimiter {
	return &rateLimiter{proxies: proxies, rate: perSecond, burst: float64(burst), now: now, buckets: map[string]*bucket{}}
}

// clientKey names the client a request comes from: the peer address, or,
// when the peer is a trusted proxy, the nearest X-Forwarded-For entry that
// is not one (entries further left are whatever the client wrote). IPv6
// clients are keyed by their /64, which one host usually controls whole.
func (l *rateLimiter) clientKey(c *fiber.Ctx) string {
	addr, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	addr = addr.Unmap()
	if l.trusted(addr) {
		hops := strings.Split(string(c.Request().Header.Peek(fiber.HeaderXForwardedFor)), ",")
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
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// sweep drops buckets that have refilled completely (their clients are
// idle), at most once a minute, and everything if the map grew too large.
func (l *rateLimiter) sweep(now time.Time) {
	if len(l.buckets) >= maxRateBuckets {
		clear(l.buckets)
	}
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		}
	}
}

// limit answers 429 rate_limited with Retry-After once a client address has
// used up its burst.
func (l *rateLimiter) limit(c *fiber.Ctx) error {
	ok, wait := l.allow(l.clientKey(c))
	if ok {
		return c.Next()
	}
	return &Error{
		Status: http.StatusTooManyRequests, Code: CodeRateLimited,
		Description: "too many requests from this address; try again shortly",
		RetryAfter:  int(math.Ceil(wait.Seconds())),
	}
}
