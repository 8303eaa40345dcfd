package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/tokens"
)

// OpenID Connect Back-Channel Logout 1.0: when a session of a person ends
// in Latch, each application that holds tokens in it, and each
// application the ended provider session signed into, is sent a logout
// token at its registered backchannel_logout_uri.
//
// The notices are gathered inside the transaction that ends the sessions
// (logoutTargets), so that they name exactly what it ended, and handed to
// an in-process queue after the commit (Server.sendLogouts): delivery
// never holds up the request that ended the session, is retried with
// back-off, and is given up after a few tries. The queue lives in memory:
// a restart drops what it still holds, which a logout token's two-minute
// life would mostly have outlived anyway.

// Delivery bounds.
const (
	logoutTokenTTL      = 2 * time.Minute
	logoutQueueSize     = 1024 // deliveries waiting, across clients
	logoutWorkers       = 8    // each serves one client at a time
	logoutTries         = 5
	logoutRetryBase     = 3 * time.Second // then 6, 12, 24 s: the tries span about a minute
	logoutTimeout       = 5 * time.Second
	logoutMaxBody       = 4 << 10
	logoutMaxRespHeader = 16 << 10
)

// logoutNotice is one logout token due to one client.
type logoutNotice struct {
	clientID, uri, alg string
	sub, sid           string
}

// logoutTargets gathers the back-channel logouts that the sessions a
// transaction ends call for, each (client, sid) once. A nil
// *logoutTargets gathers nothing.
type logoutTargets struct {
	notices []logoutNotice
	// cascaded are the application sessions that ended with their login
	// session (endAppSessionsOf), for the caller to mirror in memory.
	cascaded []string
	seen     map[string]bool
	clients  map[string]*store.Client
	users    map[string][]store.Session
}

func newLogoutTargets() *logoutTargets {
	return &logoutTargets{seen: map[string]bool{}, clients: map[string]*store.Client{}, users: map[string][]store.Session{}}
}

// isAppSession reports whether sess holds an application's tokens, as
// startGrantSession starts them, rather than being a Latch login session.
func isAppSession(sess *store.Session) bool {
	return sess.ClientID != "" && sess.ClientID != defaultClientID
}

// ended records that sess ends in this transaction: its own application
// is told, with the sid of the ID tokens it got (the login session it
// started from), and so is every application that a login session signed
// into, with that session's id as sid.
func (lt *logoutTargets) ended(tx store.Tx, sess *store.Session) error {
	if lt == nil {
		return nil
	}
	if isAppSession(sess) {
		// An application's session started before sessions named their
		// login session has no sid to send: its logout token names sub
		// alone, which ends every session of that person at the client.
		return lt.add(tx, sess.ClientID, sess.UserID, sess.LoginSID)
	}
	sessions, ok := lt.users[sess.UserID]
	if !ok {
		var err error
		if sessions, err = tx.SessionsByUser(sess.UserID); err != nil {
			return err
		}
		lt.users[sess.UserID] = sessions
	}
	for i := range sessions {
		// An application session ended before was told then.
		if app := &sessions[i]; app.LoginSID == sess.ID && isAppSession(app) && app.RevokedAt.IsZero() {
			if err := lt.add(tx, app.ClientID, sess.UserID, sess.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

func (lt *logoutTargets) add(tx store.Tx, clientID, sub, sid string) error {
	key := clientID + "\x00" + sub + "\x00" + sid
	if lt.seen[key] {
		return nil
	}
	lt.seen[key] = true
	c, ok := lt.clients[clientID]
	if !ok {
		var err error
		c, err = tx.Client(clientID)
		if errors.Is(err, store.ErrNotFound) {
			c = nil
		} else if err != nil {
			return err
		}
		lt.clients[clientID] = c
	}
	if c == nil || c.BackchannelLogoutURI == "" {
		return nil
	}
	lt.notices = append(lt.notices, logoutNotice{clientID: c.ID, uri: c.BackchannelLogoutURI, alg: c.IDTokenAlg, sub: sub, sid: sid})
	return nil
}

// logoutDelivery is one logout token on its way.
type logoutDelivery struct {
	notice  logoutNotice
	token   string
	expires time.Time // the token's exp: past it, sending is pointless
	try     int
}

// backchannel delivers logout tokens: a bounded queue, a few workers,
// retries with exponential back-off. A client has at most one request in
// flight: a worker that takes a delivery for a client another worker is
// sending to leaves it with that worker, which sends it next. So a client
// that does not answer holds up its own logouts, never another client's
// (a slow answer costs up to logoutTimeout a try, and 8 of them at once
// would be needed to hold every worker).
type backchannel struct {
	log    *slog.Logger
	now    func() time.Time // the server's clock, which the tokens' exp follows
	queue  chan *logoutDelivery
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// mu guards busy (per client being sent to, what waits for it) and
	// pending (deliveries queued or waiting, the bound of enqueue).
	mu      sync.Mutex
	busy    map[string][]*logoutDelivery
	pending int
	// public dials only public addresses; loopback only loopback ones,
	// for URIs registered with a loopback host.
	public, loopback *http.Client
	// retryBase is the first retry's delay (tests shorten it).
	retryBase time.Duration
}

func newBackchannel(log *slog.Logger, now func() time.Time) *backchannel {
	ctx, cancel := context.WithCancel(context.Background())
	b := &backchannel{
		log: log, now: now, queue: make(chan *logoutDelivery, logoutQueueSize), ctx: ctx, cancel: cancel, busy: map[string][]*logoutDelivery{},
		public: logoutHTTPClient(false), loopback: logoutHTTPClient(true), retryBase: logoutRetryBase,
	}
	for range logoutWorkers {
		b.wg.Add(1)
		go b.work()
	}
	return b
}

// close stops delivery; what is still queued or waiting to be retried is
// dropped.
func (b *backchannel) close() {
	b.cancel()
	b.wg.Wait()
}

func (b *backchannel) work() {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case d := <-b.queue:
			b.serve(d)
		}
	}
}

// serve sends d, and then whatever waits for d's client, unless another
// worker is sending to that client: then d waits for that worker.
func (b *backchannel) serve(d *logoutDelivery) {
	client := d.notice.clientID
	b.mu.Lock()
	if waiting, sending := b.busy[client]; sending {
		b.busy[client] = append(waiting, d)
		b.mu.Unlock()
		return
	}
	b.busy[client] = nil
	b.mu.Unlock()
	for d != nil {
		b.deliver(d)
		b.mu.Lock()
		b.pending--
		if waiting := b.busy[client]; len(waiting) > 0 && b.ctx.Err() == nil {
			d, b.busy[client] = waiting[0], waiting[1:]
		} else {
			d = nil
			delete(b.busy, client)
		}
		b.mu.Unlock()
	}
}

// enqueue queues d without waiting: when logoutQueueSize deliveries are
// already waiting, it drops d.
func (b *backchannel) enqueue(d *logoutDelivery) {
	if b.ctx.Err() != nil {
		return
	}
	b.mu.Lock()
	full := b.pending >= logoutQueueSize
	if !full {
		b.pending++
	}
	b.mu.Unlock()
	if full {
		b.log.Warn("back-channel logout dropped: the delivery queue is full", "client", d.notice.clientID)
		return
	}
	b.queue <- d // never blocks: the channel holds logoutQueueSize
}

// deliver makes one try and schedules the next after a failure.
func (b *backchannel) deliver(d *logoutDelivery) {
	if !b.now().Before(d.expires) {
		b.log.Warn("back-channel logout given up: the token expired before it could be delivered", "client", d.notice.clientID, "uri", logURI(d.notice.uri), "tries", d.try)
		return
	}
	d.try++
	err := b.post(d)
	if err == nil {
		return
	}
	var final errFinal
	if errors.As(err, &final) || d.try >= logoutTries {
		b.log.Warn("back-channel logout failed; given up", "client", d.notice.clientID, "uri", logURI(d.notice.uri), "tries", d.try, "err", err)
		return
	}
	b.log.Info("back-channel logout failed; will retry", "client", d.notice.clientID, "uri", logURI(d.notice.uri), "try", d.try, "err", err)
	delay := b.retryBase << (d.try - 1)
	time.AfterFunc(delay, func() { b.enqueue(d) })
}

// logURI is a logout URI as logged: without its query, which may carry
// something the client keeps secret.
func logURI(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	u.RawQuery, u.ForceQuery = "", false
	return u.String()
}

// errFinal is a failure that a retry would not mend: the client refused
// the token.
type errFinal struct{ status int }

func (e errFinal) Error() string { return fmt.Sprintf("the client answered %d", e.status) }

func (b *backchannel) post(d *logoutDelivery) error {
	ctx, cancel := context.WithTimeout(b.ctx, logoutTimeout)
	defer cancel()
	body := url.Values{"logout_token": {d.token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.notice.uri, strings.NewReader(body))
	if err != nil {
		return errFinal{}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cache-Control", "no-store")
	client := b.public
	if isLoopbackHost(req.URL.Hostname()) {
		client = b.loopback
	}
	res, err := client.Do(req)
	if err != nil {
		return redactURLError(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, logoutMaxBody))
	res.Body.Close()
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return nil
	case res.StatusCode == http.StatusRequestTimeout || res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		return fmt.Errorf("the client answered %d", res.StatusCode)
	}
	return errFinal{res.StatusCode}
}

// redactURLError keeps the cause of a failed request and drops the
// request line around it, which names the URI already logged beside it.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// logoutHTTPClient is the HTTP client of deliveries: no proxy, no
// redirects followed, bounded in time and header size, and dialing only
// the addresses its kind allows, checked at connect time, after name
// resolution, so that a name that resolves to an internal address
// reaches nothing.
func logoutHTTPClient(loopback bool) *http.Client {
	dialer := &net.Dialer{Timeout: logoutTimeout, Control: func(_, address string, _ syscall.RawConn) error {
		return checkDialAddress(address, loopback)
	}}
	return &http.Client{
		Timeout: logoutTimeout,
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			TLSHandshakeTimeout:    logoutTimeout,
			ResponseHeaderTimeout:  logoutTimeout,
			MaxResponseHeaderBytes: logoutMaxRespHeader,
			MaxIdleConns:           16,
			IdleConnTimeout:        30 * time.Second,
			ForceAttemptHTTP2:      true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

var errForbiddenAddress = errors.New("the address is not one a logout token may be sent to")

// Address ranges never dialed for a client registered with a public host:
// beside what netip classifies (loopback, private, link-local, multicast,
// unspecified), shared address space (RFC 6598, where some clouds keep
// their metadata services), benchmarking, IETF protocol assignments,
// reserved, and NAT64 and 6to4 forms of IPv4 addresses.
var forbiddenPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("2001::/32"),     // Teredo
	netip.MustParsePrefix("2001:db8::/32"), // documentation
}

// globalIPv6 is where every public IPv6 unicast address is (RFC 4291
// section 2.4); IPv4-compatible and other legacy forms are outside it.
var globalIPv6 = netip.MustParsePrefix("2000::/3")

// checkDialAddress admits address (ip:port, as the dialer connects to
// it): with loopback, only a loopback address; otherwise only a public
// unicast one.
func checkDialAddress(address string, loopback bool) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return errForbiddenAddress
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return errForbiddenAddress
	}
	ip = ip.Unmap()
	if loopback {
		if ip.IsLoopback() {
			return nil
		}
		return errForbiddenAddress
	}
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.Zone() != "" {
		return errForbiddenAddress
	}
	if ip.Is6() && !globalIPv6.Contains(ip) {
		return errForbiddenAddress
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(ip) {
			return errForbiddenAddress
		}
	}
	return nil
}

// afterSessionsEnd finishes what a committed transaction that ended
// sessions gathered in lt: it mirrors the revocations of the application
// sessions that ended with their login session (the caller mirrors the
// ones it ended itself), then signs the logout tokens and queues them.
func (s *Server) afterSessionsEnd(lt *logoutTargets) {
	if lt == nil {
		return
	}
	for _, sid := range lt.cascaded {
		s.mirrorSessionRevocation(sid, s.now())
	}
	if len(lt.notices) == 0 || s.backchannel == nil {
		return
	}
	now := time.Unix(s.now().Unix(), 0)
	for _, n := range lt.notices {
		key, ok := s.keys.IDSigner(n.alg)
		if !ok {
			s.log.Warn("back-channel logout not sent: no signing key", "client", n.clientID, "alg", n.alg)
			continue
		}
		token, _, err := tokens.SignLogoutToken(key, tokens.LogoutClaims{
			Issuer: s.cfg.Issuer, Audience: n.clientID, Subject: n.sub, SessionID: n.sid,
			IssuedAt: now, Expires: now.Add(logoutTokenTTL),
		})
		if err != nil {
			s.log.Warn("back-channel logout not sent", "client", n.clientID, "err", err)
			continue
		}
		s.backchannel.enqueue(&logoutDelivery{notice: n, token: token, expires: now.Add(logoutTokenTTL)})
	}
}
