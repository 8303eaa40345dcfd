// Command latch-floor is a yardstick for the load generator, not a
// product: a passkey service cut down to the stack Latch must use
// (go-webauthn through package webauthn, ES256 access tokens from package
// tokens, HTTP on fasthttp, the engine under Fiber, without Fiber's
// routing) and, unless LATCH_FLOOR_DURABLE=0, one durable group-committed
// store write per ceremony. It keeps accounts in memory, has no sessions,
// refresh tokens, counters on disk, indexes, metrics or middleware, and
// checks only what the ceremonies themselves check. What it reaches under
// latch-load is the most any service on that stack can reach on a
// machine, so Latch's figures can be read against it:
//
//	latch-load -server bin/latch -compare bin/latch-floor -s signup,signin -dpop=false
//
// It takes the flags latch-load passes to a server: serve --data --addr
// --issuer (and ignores --begin-rate).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/tokens"
	"github.com/latchid/latch/webauthn"

	"github.com/latchid/latch/tokens/jose"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "latch-floor:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || args[0] != "serve" {
		return errors.New("usage: latch-floor serve --data DIR [--addr HOST:PORT] [--issuer URL]")
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	data := fs.String("data", "", "data directory (the store file goes here)")
	issuer := fs.String("issuer", "http://localhost:8080", "issuer and WebAuthn origin")
	fs.String("begin-rate", "", "ignored")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	u, err := url.Parse(*issuer)
	if err != nil || *data == "" {
		return errors.New("--data and a valid --issuer are required")
	}
	f, err := newFloor(u, filepath.Join(*data, "latch.db"), os.Getenv("LATCH_FLOOR_DURABLE") != "0")
	if err != nil {
		return err
	}
	defer f.db.Close()
	return fasthttp.ListenAndServe(*addr, f.handle)
}

// floor is the cut-down service.
type floor struct {
	rp      *webauthn.RP
	access  *tokens.AccessTokens
	db      store.Store
	durable bool

	mu         sync.Mutex
	ceremonies map[string]ceremony
	accounts   map[string]*account // by user handle
}

type ceremony struct {
	session []byte
	user    webauthn.User // sign-up only
}

type account struct {
	user  webauthn.User
	creds []webauthn.Credential
}

func newFloor(issuer *url.URL, path string, durable bool) (*floor, error) {
	rp, err := webauthn.New(webauthn.Config{RPID: issuer.Hostname(), RPDisplayName: "latch-floor", Origins: []string{issuer.Scheme + "://" + issuer.Host}})
	if err != nil {
		return nil, err
	}
	key, err := jose.GenerateSigningKey("ES256", time.Now())
	if err != nil {
		return nil, err
	}
	db, err := store.Open(store.Options{Path: path, KEK: make([]byte, store.KeySize)})
	if err != nil {
		return nil, err
	}
	return &floor{
		rp:         rp,
		access:     tokens.NewAccessTokens(tokens.AccessConfig{Issuer: issuer.String(), Audience: issuer.String(), TTL: 10 * time.Minute, Keys: jose.NewKeyring(key), Now: time.Now}),
		db:         db,
		durable:    durable,
		ceremonies: map[string]ceremony{},
		accounts:   map[string]*account{},
	}, nil
}

// handle routes a request; the answer to anything it does not know, or
// cannot verify, is a bare 400 or 404.
func (f *floor) handle(c *fasthttp.RequestCtx) {
	var err error
	switch string(c.Path()) {
	case "/readyz":
		c.SetBodyString("ok")
		return
	case "/webauthn/register/begin":
		err = f.registerBegin(c)
	case "/webauthn/register/finish":
		err = f.registerFinish(c)
	case "/webauthn/login/begin":
		err = f.loginBegin(c)
	case "/webauthn/login/finish":
		err = f.loginFinish(c)
	default:
		c.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	if err != nil {
		c.Error(err.Error(), fasthttp.StatusBadRequest)
	}
}

// reply writes v as the JSON answer.
func reply(c *fasthttp.RequestCtx, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.SetContentType("application/json")
	c.SetBody(b)
	return nil
}

func (f *floor) begin(c *fasthttp.RequestCtx, opts json.RawMessage, cer ceremony) error {
	id := tokens.NewOrderedID(time.Now())
	f.mu.Lock()
	f.ceremonies[id] = cer
	f.mu.Unlock()
	return reply(c, map[string]any{"ceremony": id, "publicKey": opts})
}

// take removes and returns a ceremony: each is used once.
func (f *floor) take(id string) (ceremony, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cer, ok := f.ceremonies[id]
	delete(f.ceremonies, id)
	return cer, ok
}

var errBadRequest = errors.New("bad request")

type finishRequest struct {
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
}

func (f *floor) registerBegin(c *fasthttp.RequestCtx) error {
	var req struct {
		Username string `json:"username"`
	}
	if err := json.Unmarshal(c.PostBody(), &req); err != nil || req.Username == "" {
		return errBadRequest
	}
	user := webauthn.User{Handle: []byte(tokens.NewOrderedID(time.Now())), Name: req.Username, DisplayName: req.Username}
	opts, session, err := f.rp.BeginRegistration(user, nil)
	if err != nil {
		return err
	}
	return f.begin(c, opts, ceremony{session: session, user: user})
}

func (f *floor) registerFinish(c *fasthttp.RequestCtx) error {
	var req finishRequest
	if err := json.Unmarshal(c.PostBody(), &req); err != nil {
		return errBadRequest
	}
	cer, ok := f.take(req.Ceremony)
	if !ok || cer.user.Handle == nil {
		return errBadRequest
	}
	cred, err := f.rp.FinishRegistration(cer.user, cer.session, req.Credential)
	if err != nil {
		return err
	}
	if err := f.persist(c, string(cer.user.Handle)); err != nil {
		return err
	}
	f.mu.Lock()
	f.accounts[string(cer.user.Handle)] = &account{user: cer.user, creds: []webauthn.Credential{*cred}}
	f.mu.Unlock()
	return f.respond(c, string(cer.user.Handle))
}

func (f *floor) loginBegin(c *fasthttp.RequestCtx) error {
	opts, session, err := f.rp.BeginLogin(nil)
	if err != nil {
		return err
	}
	return f.begin(c, opts, ceremony{session: session})
}

func (f *floor) loginFinish(c *fasthttp.RequestCtx) error {
	var req finishRequest
	if err := json.Unmarshal(c.PostBody(), &req); err != nil {
		return errBadRequest
	}
	cer, ok := f.take(req.Ceremony)
	if !ok {
		return errBadRequest
	}
	assertion, err := f.rp.ParseAssertion(req.Credential)
	if err != nil {
		return err
	}
	f.mu.Lock()
	acc := f.accounts[string(assertion.UserHandle)]
	var user webauthn.User
	var creds []webauthn.Credential
	if acc != nil {
		user, creds = acc.user, append(creds, acc.creds...)
	}
	f.mu.Unlock()
	if acc == nil {
		return errBadRequest
	}
	cred, err := f.rp.FinishLogin(user, creds, cer.session, assertion)
	if err != nil {
		return err
	}
	if err := f.persist(c, string(user.Handle)); err != nil {
		return err
	}
	f.mu.Lock()
	acc.creds[0] = *cred
	f.mu.Unlock()
	return f.respond(c, string(user.Handle))
}

// persist is the ceremony's one durable write: a session record, appended,
// acknowledged after its commit's fsync like every write of Latch's.
func (f *floor) persist(ctx context.Context, userID string) error {
	if !f.durable {
		return nil
	}
	now := time.Now()
	return f.db.Update(ctx, func(tx store.Tx) error {
		return tx.PutSession(&store.Session{ID: tokens.NewOrderedID(now), UserID: userID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	})
}

func (f *floor) respond(c *fasthttp.RequestCtx, userID string) error {
	tok, _, err := f.access.Issue(tokens.AccessClaims{Subject: userID, ClientID: "latch-floor", Scope: "openid", AMR: []string{"pop"}, AuthTime: time.Now()})
	if err != nil {
		return err
	}
	return reply(c, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 600})
}
