// Package latchtest signs in to a Latch service over its HTTP API with a
// passkey file (`latch users add NAME --passkey-out FILE`), for test
// suites of apps and APIs that use Latch and have no browser:
//
//	s, err := latchtest.SignIn(ctx, latchtest.Config{Issuer: "http://localhost:8080", PasskeyFile: "alice.passkey.json"})
//	req, _ := http.NewRequest("GET", "http://localhost:4000/orders", nil)
//	res, err := s.Do(req) // Authorization: DPoP <token>, DPoP: <proof for GET http://localhost:4000/orders>
//
// The tokens are bound to a DPoP key made for the session, exactly as a
// browser running latch.js gets them; nothing here goes around the API.
package latchtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/latchid/latch/webauthn/webauthntest"

	"github.com/latchid/latch/tokens/dpop"
)

// Config says which service to sign in to and with which passkey.
type Config struct {
	// Issuer is the service's public base URL (its --issuer).
	Issuer string
	// PasskeyFile is the path of a passkey file; Passkey, if set, is used
	// instead.
	PasskeyFile string
	Passkey     *webauthntest.PasskeyFile
	// HTTPClient defaults to a client with a 10 s timeout.
	HTTPClient *http.Client
}

// Session is a signed-in session: DPoP-bound tokens and their key. Its
// methods are safe for concurrent use.
type Session struct {
	issuer string
	hc     *http.Client
	key    *ecdsa.PrivateKey

	mu      sync.Mutex
	access  string
	refresh string
	nonces  map[string]string // DPoP-Nonce by origin
}

// Error is an error answer of the service: its `error` code and description.
type Error struct {
	Status      int
	Code        string
	Description string
}

func (e *Error) Error() string {
	return fmt.Sprintf("latch: %d %s: %s", e.Status, e.Code, e.Description)
}

// SignIn runs a usernameless passkey sign-in with the file's passkey and
// returns the session. An account with TOTP on answers mfa_required (an
// *Error), which this helper does not complete.
func SignIn(ctx context.Context, cfg Config) (*Session, error) {
	file := cfg.Passkey
	if file == nil {
		var err error
		if file, err = webauthntest.ReadPasskeyFile(cfg.PasskeyFile); err != nil {
			return nil, err
		}
	}
	authn, err := webauthntest.FromPasskeyFile(file)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	s := &Session{issuer: strings.TrimRight(cfg.Issuer, "/"), hc: cfg.HTTPClient, key: key, nonces: map[string]string{}}
	if s.hc == nil {
		s.hc = &http.Client{Timeout: 10 * time.Second}
	}
	var begin struct {
		Ceremony  string          `json:"ceremony"`
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if err := s.post(ctx, "/webauthn/login/begin", "application/json", []byte(`{}`), false, &begin); err != nil {
		return nil, err
	}
	assertion, err := authn.Get(begin.PublicKey, webauthntest.Options{})
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(map[string]any{"ceremony": begin.Ceremony, "credential": json.RawMessage(assertion)})
	if err != nil {
		return nil, err
	}
	if err := s.tokenRequest(ctx, "/webauthn/login/finish", "application/json", body); err != nil {
		return nil, err
	}
	return s, nil
}

// AccessToken returns the current access token (DPoP-bound).
func (s *Session) AccessToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.access
}

// Key returns the session's DPoP private key, for code that makes its own
// proofs with dpop.NewProof.
func (s *Session) Key() *ecdsa.PrivateKey { return s.key }

// Thumbprint returns the DPoP key's thumbprint: the cnf.jkt of the tokens.
func (s *Session) Thumbprint() string {
	jkt, _ := dpop.ProofKeyThumbprint(&s.key.PublicKey)
	return jkt
}

// Proof returns a DPoP proof for one request to url with the current
// access token's ath and the last nonce url's origin sent.
func (s *Session) Proof(method, rawURL string) (string, error) {
	s.mu.Lock()
	access, nonce := s.access, s.nonces[originOf(rawURL)]
	s.mu.Unlock()
	return dpop.NewProof(s.key, dpop.ProofRequest{Method: method, URL: rawURL, AccessToken: access, Nonce: nonce})
}

// Do sends req with `Authorization: DPoP <access token>` and a proof made
// for its method and URL, retrying once with the server's nonce on
// use_dpop_nonce (a request with a body needs GetBody for that, as
// http.NewRequest sets for in-memory bodies). The response is the caller's
// to close.
func (s *Session) Do(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		proof, err := s.Proof(req.Method, req.URL.String())
		if err != nil {
			return nil, err
		}
		r := req.Clone(req.Context())
		if attempt > 0 && req.Body != nil {
			if req.GetBody == nil {
				return nil, errors.New("latchtest: the request cannot be retried with a nonce: no GetBody")
			}
			if r.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		r.Header.Set("Authorization", "DPoP "+s.AccessToken())
		r.Header.Set("DPoP", proof)
		res, err := s.hc.Do(r)
		if err != nil {
			return nil, err
		}
		fresh := s.noteNonce(req.URL.String(), res)
		if attempt == 0 && fresh && res.StatusCode == http.StatusUnauthorized &&
			strings.Contains(res.Header.Get("WWW-Authenticate"), `error="use_dpop_nonce"`) {
			res.Body.Close()
			continue
		}
		return res, nil
	}
}

// Refresh rotates the tokens with the refresh token.
func (s *Session) Refresh(ctx context.Context) error {
	s.mu.Lock()
	refresh := s.refresh
	s.mu.Unlock()
	body := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}.Encode()
	return s.tokenRequest(ctx, "/token", "application/x-www-form-urlencoded", []byte(body))
}

// SignOut ends the session at the service (POST /logout).
func (s *Session) SignOut(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, "POST", s.issuer+"/logout", nil)
	if err != nil {
		return err
	}
	res, err := s.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		return errorOf(res)
	}
	return nil
}

// tokenRequest posts to a token-issuing endpoint with a proof (so the
// tokens come back bound), retrying once on use_dpop_nonce, which spends
// nothing at the service.
func (s *Session) tokenRequest(ctx context.Context, path, ctype string, body []byte) error {
	var out struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		RefreshToken string `json:"refresh_token"`
	}
	err := s.post(ctx, path, ctype, body, true, &out)
	var e *Error
	if errors.As(err, &e) && e.Code == "use_dpop_nonce" {
		err = s.post(ctx, path, ctype, body, true, &out)
	}
	if err != nil {
		return err
	}
	if !strings.EqualFold(out.TokenType, "DPoP") || out.AccessToken == "" {
		return errors.New("latchtest: the service returned no DPoP-bound access token")
	}
	s.mu.Lock()
	s.access, s.refresh = out.AccessToken, out.RefreshToken
	s.mu.Unlock()
	return nil
}

func (s *Session) post(ctx context.Context, path, ctype string, body []byte, withProof bool, out any) error {
	target := s.issuer + path
	req, err := http.NewRequestWithContext(ctx, "POST", target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ctype)
	if withProof {
		s.mu.Lock()
		nonce := s.nonces[originOf(target)]
		s.mu.Unlock()
		proof, err := dpop.NewProof(s.key, dpop.ProofRequest{Method: "POST", URL: target, Nonce: nonce})
		if err != nil {
			return err
		}
		req.Header.Set("DPoP", proof)
	}
	res, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	s.noteNonce(target, res)
	if res.StatusCode != http.StatusOK {
		return errorOf(res)
	}
	return json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(out)
}

// noteNonce keeps the DPoP-Nonce a response carries; it reports whether
// the nonce is new.
func (s *Session) noteNonce(rawURL string, res *http.Response) bool {
	nonce := res.Header.Get("DPoP-Nonce")
	if nonce == "" {
		return false
	}
	origin := originOf(rawURL)
	s.mu.Lock()
	defer s.mu.Unlock()
	fresh := s.nonces[origin] != nonce
	s.nonces[origin] = nonce
	return fresh
}

func originOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func errorOf(res *http.Response) error {
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.NewDecoder(io.LimitReader(res.Body, 1<<16)).Decode(&body)
	if body.Error == "" {
		body.Error = fmt.Sprintf("http_%d", res.StatusCode)
	}
	return &Error{Status: res.StatusCode, Code: body.Error, Description: body.Description}
}
