package auth

import (
	"context"
	"crypto"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/latchid/latch/auth/resource"

	"github.com/latchid/latch/tokens/sdjwt"
)

// serverTransport sends a client's requests through the real app.
type serverTransport struct{ e *env }

func (t serverTransport) RoundTrip(r *http.Request) (*http.Response, error) { return t.e.srv.Test(r) }

// A relying party checks a credential with resource.StatusListVerifier,
// keys from the JWKS Latch serves (read by jwx), and sees its revocation
// once the ttl of the list it cached has passed.
func TestRelyingPartySeesRevocationWithinTTL(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	cred, idx, uri := issueCredential(t, alice)

	client := &http.Client{Transport: serverTransport{e}}
	keys := func(ctx context.Context, kid string) (crypto.PublicKey, string, error) {
		res, err := client.Get(testIssuer + "/.well-known/jwks.json")
		if err != nil {
			return nil, "", err
		}
		defer res.Body.Close()
		set, err := jwk.ParseReader(res.Body)
		if err != nil {
			return nil, "", err
		}
		k, ok := set.LookupKeyID(kid)
		if !ok {
			return nil, "", errors.New("unknown kid")
		}
		var raw any
		if err := jwk.Export(k, &raw); err != nil {
			return nil, "", err
		}
		alg, _ := k.Algorithm()
		return raw, alg.String(), nil
	}
	v, err := resource.NewStatusListVerifier(resource.StatusListConfig{Keys: keys, Issuer: testIssuer, Client: client, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ref := sdjwt.StatusRef{Index: idx, URI: uri}
	ctx := context.Background()
	if err := v.Check(ctx, ref); err != nil {
		t.Fatalf("a valid credential: %v", err)
	}
	if r := e.request("POST", "/revoke", url.Values{"token": {cred}}, alice.revokeProof()); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	e.clock.Advance(e.cfg.Defaults().StatusListTTL)
	if err := v.Check(ctx, ref); !errors.Is(err, resource.ErrStatusListRevoked) {
		t.Fatalf("one ttl after the revocation: %v", err)
	}
}
