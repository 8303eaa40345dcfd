package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// The "exchange" scenario measures the authorization code grant of an
// OpenID Connect client at /token: client authentication, PKCE, the code
// spent, a DPoP-bound access token, a refresh token and an ID token. Its
// codes are made before the measurement starts, so that the figures are
// of the exchange alone (the authorization endpoint's work is not in
// them). Each client signs up, opens a provider session through the
// authorization endpoint as Latch's sign-in page does (/authorize/session),
// and then asks /authorize for one code per exchange it may make.

// rpClient is the OpenID Connect client the scenario exchanges codes as:
// confidential, first-party (no consent, refresh tokens without
// offline_access), with one redirect URI.
type rpClient struct {
	id, redirect string
	// basic is the Authorization header of client_secret_basic.
	basic []byte
}

func newRPClient(id, secret, redirect string) *rpClient {
	return &rpClient{id: id, redirect: redirect,
		basic: []byte("Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))}
}

// rp is set by -rp or, with -server, registered on the fresh data
// directory before the server starts.
var rp *rpClient

// parseRP reads -rp's ID:SECRET@REDIRECT.
func parseRP(v string) (*rpClient, error) {
	cred, redirect, ok := strings.Cut(v, "@")
	id, secret, ok2 := strings.Cut(cred, ":")
	if !ok || !ok2 || id == "" || secret == "" {
		return nil, errors.New("want ID:SECRET@REDIRECT_URI")
	}
	return newRPClient(id, secret, redirect), nil
}

// rpRedirect is the redirect URI of the client -server registers; nothing
// listens there, the generator reads the code off the redirect.
const rpRedirect = "http://127.0.0.1:9/callback"

// grant is a code and the PKCE verifier it was asked for with.
type grant struct {
	code, verifier string
}

// authorizeQuery is a code request of rp with a fresh PKCE pair.
func authorizeQuery(base string) (query, verifier string) {
	var raw [32]byte
	rand.Read(raw[:])
	verifier = base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type": {"code"}, "client_id": {rp.id}, "redirect_uri": {rp.redirect},
		"scope": {"openid profile"}, "state": {"load"}, "nonce": {"load"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	return base + "/authorize?" + q.Encode(), verifier
}

// raw sends a request that may answer otherwise than 200 and returns the
// status; res holds the response until the client's next request.
func (c *client) raw(method, uri string, header map[string]string, body []byte) (int, error) {
	req, res := &c.req, &c.res
	req.Reset()
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	req.SetBody(body)
	if err := c.http.DoTimeout(req, res, 30*time.Second); err != nil {
		return 0, err
	}
	return res.StatusCode(), nil
}

// openProviderSession signs the client's account in at the authorization
// endpoint: the sign-in page's pending request, bound to the account's
// login session with /authorize/session, which sets the provider session
// cookie.
func (c *client) openProviderSession(base string) error {
	uri, _ := authorizeQuery(base)
	status, err := c.raw("GET", uri, nil, nil)
	if err != nil || status != 200 {
		return fmt.Errorf("/authorize: %d %v %s", status, err, c.res.Body())
	}
	_, after, ok := bytes.Cut(c.res.Body(), []byte(`data-request="`))
	id, _, ok2 := bytes.Cut(after, []byte(`"`))
	if !ok || !ok2 {
		return errors.New("/authorize: no pending request on the sign-in page")
	}
	ep := &endpoint{"POST", "/authorize/session", base + "/authorize/session"}
	proof, err := c.proof(ep, c.access)
	if err != nil {
		return err
	}
	body := appendJSONString(append([]byte(nil), `{"request":`...), id)
	body = append(body, '}')
	status, err = c.raw("POST", ep.url, map[string]string{
		"Authorization": "DPoP " + string(c.access), "DPoP": string(proof), "Content-Type": "application/json",
	}, body)
	if err != nil || status != 200 {
		return fmt.Errorf("/authorize/session: %d %v %s", status, err, c.res.Body())
	}
	var cookie []byte // the first Set-Cookie's name=value
	c.res.Header.VisitAllCookie(func(_, v []byte) {
		if len(cookie) == 0 {
			cookie, _, _ = bytes.Cut(v, []byte(";"))
		}
	})
	if len(cookie) == 0 {
		return errors.New("/authorize/session set no provider session cookie")
	}
	c.cookie = string(cookie)
	return nil
}

// newGrant asks /authorize for a code with the provider session: a
// redirect to the client, no page.
func (c *client) newGrant(base string) (grant, error) {
	uri, verifier := authorizeQuery(base)
	status, err := c.raw("GET", uri, map[string]string{"Cookie": c.cookie}, nil)
	if err != nil || status != fasthttp.StatusSeeOther {
		return grant{}, fmt.Errorf("/authorize with a provider session: %d %v %s", status, err, c.res.Body())
	}
	loc, err := url.Parse(string(c.res.Header.Peek("Location")))
	if err != nil || loc.Query().Get("code") == "" {
		return grant{}, fmt.Errorf("/authorize redirected to %q, without a code", c.res.Header.Peek("Location"))
	}
	return grant{code: loc.Query().Get("code"), verifier: verifier}, nil
}

// exchange redeems the next of the client's codes at /token, as rp, with
// a DPoP proof. A client out of codes has nothing left to measure.
func (c *client) exchange() error {
	if len(c.grants) == 0 {
		return errOutOfCodes
	}
	g := c.grants[0]
	c.grants = c.grants[1:]
	proof, err := c.proof(&c.ep.token, nil)
	if err != nil {
		return err
	}
	// url.Values.Encode's form: keys sorted.
	b := append(c.body[:0], "code="...)
	b = appendQueryEscaped(b, []byte(g.code))
	b = append(b, "&code_verifier="...)
	b = appendQueryEscaped(b, []byte(g.verifier))
	b = append(b, "&grant_type=authorization_code&redirect_uri="...)
	c.body = appendQueryEscaped(b, []byte(rp.redirect))
	res, err := c.do(&c.ep.token, "application/x-www-form-urlencoded", c.body, rp.basic, proof)
	if err != nil {
		return err
	}
	if len(jsonField(res, "id_token")) == 0 {
		return errors.New("/token: the code exchange gave no ID token")
	}
	return nil
}

// errOutOfCodes stops a client that has used every code made for it.
var errOutOfCodes = errors.New("out of codes")

// codesPerClient is how many codes each client gets ready: enough for
// 3,000 exchanges a second over dur. Codes live a minute, so making many
// more would see the first expire; a scenario whose clients run out ends
// sooner, its rate and CPU measured over the time it ran.
func codesPerClient(workers int, dur time.Duration) int {
	return int(3000*dur.Seconds())/workers + 1
}

// makeGrants opens each client's provider session and makes n codes for
// it, the clients in parallel.
func makeGrants(base string, clients []*client, n int) error {
	errs := make(chan error, len(clients))
	for _, c := range clients {
		go func() {
			err := c.openProviderSession(base)
			for len(c.grants) < n && err == nil {
				var g grant
				if g, err = c.newGrant(base); err == nil {
					c.grants = append(c.grants, g)
				}
			}
			errs <- err
		}()
	}
	var first error
	for range clients {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
