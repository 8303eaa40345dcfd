package auth

import (
	"math"
	"net/http"
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
	rate    float64 // tokens per second
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

func newRateLimiter(perSecond float64, burst int, now func() time.Time) *rateLimiter {
	return &rateLimiter{rate: perSecond, burst: float64(burst), now: now, buckets: map[string]*bucket{}}
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
// used up its burst. c.IP() is the peer address unless --trusted-proxies
// names the proxy it came through.
func (l *rateLimiter) limit(c *fiber.Ctx) error {
	ok, wait := l.allow(c.IP())
	if ok {
		return c.Next()
	}
	return &Error{
		Status: http.StatusTooManyRequests, Code: CodeRateLimited,
		Description: "too many requests from this address; try again shortly",
		RetryAfter:  int(math.Ceil(wait.Seconds())),
	}
}
