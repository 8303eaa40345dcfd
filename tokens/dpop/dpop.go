package dpop

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

// DPoPConfig configures DPoP proof verification (RFC 9449).
type DPoPConfig struct {
	// MaxAge is how old a proof's iat may be; zero means 60 s.
	MaxAge time.Duration
	// FutureSkew is how far in the future iat may be; zero means 5 s.
	FutureSkew time.Duration
	// Algs is the allow-list of proof algorithms; empty means
	// ["ES256", "EdDSA"]. Supported: ES256, EdDSA, Ed25519, RS256, PS256.
	// Unsupported names are dropped.
	Algs []string
	// ReplayCacheSize caps the jtis remembered; zero means 1<<20.
	ReplayCacheSize int
	// ReplayPerKey caps the jtis remembered for one proof key at a time
	// once the cache is half full, so that no single key can fill it; a
	// key at its bound then has its proofs refused until its oldest
	// expire. Zero means ReplayCacheSize/8 (131,072 by default: about
	// 2,000 proofs a second, sustained, under pressure).
	ReplayPerKey int
	// Nonces makes a server nonce mandatory in every proof.
	Nonces bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NonceKey keys the server nonces, so that nodes serving one issuer
	// accept each other's nonces; nil means a random key of this process.
	NonceKey []byte
	// Spend, when set, records each proof this node's replay cache took in
	// a replay record shared by every node serving the issuer
	// (store.Shared.SpendOnce), and refuses the proof as replayed when it
	// reports that another use came first. key names the proof (its key's
	// thumbprint, htu and jti) alike on every node; until is when the proof
	// stops being acceptable anyway. An error Spend returns is returned as
	// it is.
	Spend func(key string, until time.Time) (fresh bool, err error)
}

const (
	defaultDPoPMaxAge     = 60 * time.Second
	defaultDPoPFutureSkew = 5 * time.Second
	// maxJTI caps the jti a client may send (RFC 9449 section 11.1 asks to
	// reject unnecessarily large values).
	maxJTI = 256
	// typDPoP is the required JOSE typ (RFC 9449 section 4.2).
	typDPoP = "dpop+jwt"
)

// DPoP verifies DPoP proofs and keeps the jti replay cache and server
// nonce. It is safe for concurrent use.
type DPoP struct {
	cfg    DPoPConfig
	algs   []string
	replay *replayCache
	nonces *nonceSource
	keys   *boundedCache[*proofKey]
	// htus caches the normalised form of the server's own request URLs.
	htus *boundedCache[string]
}

// maxCachedHTU bounds the normalised URLs kept. Clients choose request
// paths (ids, letter case), so when the cache fills it starts over and
// refills with what is being used, rather than freezing with junk.
const maxCachedHTU = 4096

// expectedHTU normalises the URL a request was made to, from a cache for
// the common case of the same few endpoints.
func (d *DPoP) expectedHTU(url string) (string, error) {
	if htu, ok := d.htus.get(url); ok {
		return htu, nil
	}
	htu, err := NormalizeHTU(url)
	if err != nil {
		return "", err
	}
	d.htus.put(strings.Clone(url), htu)
	return htu, nil
}

// NewDPoP returns a verifier with cfg's defaults filled in.
func NewDPoP(cfg DPoPConfig) *DPoP {
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = defaultDPoPMaxAge
	}
	if cfg.FutureSkew <= 0 {
		cfg.FutureSkew = defaultDPoPFutureSkew
	}
	if cfg.ReplayCacheSize <= 0 {
		cfg.ReplayCacheSize = defaultReplayCacheN
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var algs []string
	for _, a := range cfg.Algs {
		if isProofAlg(a) && !slices.Contains(algs, a) {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		algs = []string{jose.AlgES256, jose.AlgEdDSA}
	}
	return &DPoP{
		cfg:    cfg,
		algs:   algs,
		replay: newReplayCache(cfg.MaxAge+cfg.FutureSkew, cfg.ReplayCacheSize, cfg.ReplayPerKey),
		nonces: newNonceSource(cfg.NonceKey),
		keys:   newBoundedCache[*proofKey](maxCachedHeaders, maxCachedHeader),
		htus:   newBoundedCache[string](maxCachedHTU, maxHTU),
	}
}

func isProofAlg(a string) bool {
	switch a {
	case jose.AlgES256, jose.AlgEdDSA, jose.AlgEd25519, jose.AlgRS256, jose.AlgPS256:
		return true
	}
	return false
}

// Algs returns the accepted proof algorithms, for the "algs" challenge
// parameter and dpop_signing_alg_values_supported metadata.
func (d *DPoP) Algs() []string { return slices.Clone(d.algs) }

// Nonce returns the current server nonce for the DPoP-Nonce header.
func (d *DPoP) Nonce() string { return d.nonces.current(d.cfg.Now()) }

// ProofCheck is the request context a proof is checked against.
type ProofCheck struct {
	// Headers holds every value of the DPoP request header, so a
	// duplicate can be detected.
	Headers []string
	// Method is the request method, compared case-sensitively with htm.
	Method string
	// URL is the expected htu: the configured public base URL plus the
	// request path. Both sides are normalised before comparison.
	URL string
	// AccessToken is the access token presented with the proof at a
	// protected endpoint; when set, the proof must carry its ath.
	AccessToken string
}

// Proof is a verified DPoP proof.
type Proof struct {
	// JKT is the RFC 7638 thumbprint of the proof key, to compare with the
	// access token's cnf.jkt or to bind new
	JKT string
	// JTI is the proof's unique identifier.
	JTI string
	// IssuedAt is the proof's iat.
	IssuedAt time.Time
	// JWK is the proof's public key as canonical RFC 7638 JSON, suitable
	// for an SD-JWT cnf.jwk.
	JWK []byte

	// replayKey, holder, url and htu record what CheckOnly saw, so Commit
	// records the same key for the same URL.
	replayKey [32]byte
	holder    holderID
	url, htu  string
	checked   bool
	// recorded is set once the jti is in the replay cache, so recording
	// the same Proof again (a store transaction run twice) is a no-op.
	recorded bool
}

var (
	errProofMissing    = invalidProof("A DPoP proof is required.")
	errProofMultiple   = invalidProof("Exactly one DPoP header is allowed.")
	errProofMalformed  = invalidProof("The DPoP proof is not a well-formed compact JWT.")
	errProofType       = invalidProof("The DPoP proof typ must be dpop+jwt.")
	errProofAlg        = invalidProof("The DPoP proof algorithm is not accepted.")
	errProofJWK        = invalidProof("The DPoP proof jwk is missing or invalid.")
	errProofPrivateJWK = invalidProof("The DPoP proof jwk must be a public key.")
	errProofKeyAlg     = invalidProof("The DPoP proof jwk does not match its algorithm.")
	errProofSignature  = invalidProof("The DPoP proof signature is invalid.")
	errProofJTI        = invalidProof("The DPoP proof jti is missing or too long.")
	errProofHTM        = invalidProof("The DPoP proof htm does not match the request method.")
	errProofHTU        = invalidProof("The DPoP proof htu does not match the request URL.")
	errProofIAT        = invalidProof("The DPoP proof iat is missing or outside the accepted window.")
	errProofATH        = invalidProof("The DPoP proof ath does not match the access token.")
	errProofReplay     = invalidProof("The DPoP proof has already been used.")
	errProofBusy       = invalidProof("The DPoP proof cannot be accepted right now; retry with a new proof.")
	errProofKeyBusy    = invalidProof("Too many DPoP proofs from this key in the last minute; retry later.")
	errProofNonce      = &jose.TokenError{Code: jose.CodeUseDPoPNonce, Description: "A DPoP nonce is required; use the one in the DPoP-Nonce header."}
)

// proofHeader is the JOSE header of a proof; crit is captured so a proof
// demanding an unknown extension is rejected (RFC 7515 section 4.1.11).
type proofHeader struct {
	Typ  string          `json:"typ"`
	Alg  string          `json:"alg"`
	JWK  json.RawMessage `json:"jwk"`
	Crit json.RawMessage `json:"crit"`
}

// proofClaims are the proof claims of RFC 9449 section 4.2. iat is kept raw
// so it can be required to be a JSON number, not a numeric string.
type proofClaims struct {
	JTI   string          `json:"jti"`
	HTM   string          `json:"htm"`
	HTU   string          `json:"htu"`
	IAT   json.RawMessage `json:"iat"`
	ATH   string          `json:"ath"`
	Nonce string          `json:"nonce"`
}

// Verify runs every check of RFC 9449 sections 4.3 and 7 and records the
// jti, so the proof cannot be used again. It is CheckOnly followed by
// Commit. Errors are *jose.TokenError with code "invalid_dpop_proof" or, when a
// server nonce is missing or stale, "use_dpop_nonce".
func (d *DPoP) Verify(pc ProofCheck) (*Proof, error) {
	return d.check(pc, true)
}

// CheckOnly runs every check of Verify, including rejecting a jti already
// seen, but does not record the jti. The caller can then decide, for
// example, to answer use_dpop_nonce or reject the request for another
// reason without spending the proof, and call Record (or Commit) once it
// accepts. Recording only accepted requests is what keeps failing
// requests from filling the replay cache.
func (d *DPoP) CheckOnly(pc ProofCheck) (*Proof, error) {
	return d.check(pc, false)
}

// Commit records the jti of a proof returned by CheckOnly for url. It
// returns an invalid_dpop_proof error if the same jti was recorded in the
// meantime (a concurrent replay), if the proof's key has reached its bound
// or if the replay cache is full.
func (d *DPoP) Commit(p *Proof, url string) error {
	if p == nil || !p.checked {
		return errProofMalformed
	}
	if url == p.url {
		return d.Record(p)
	}
	htu, err := d.expectedHTU(url)
	if err != nil {
		return errProofHTU
	}
	key := d.replay.key(p.holder, htu, p.JTI)
	if err := d.record(p.holder, &key, p.IssuedAt, d.cfg.Now()); err != nil {
		return err
	}
	return d.spendShared(p, htu)
}

// Record records the jti of a proof returned by CheckOnly for the URL it
// was checked against, with the errors of Commit. Recording the same Proof
// again does nothing and succeeds, so Record may be called from a store
// transaction function that can run more than once: call it there once the
// request is otherwise known to succeed, and a failure aborts the commit.
func (d *DPoP) Record(p *Proof) error {
	if p == nil || !p.checked {
		return errProofMalformed
	}
	if p.recorded {
		return nil
	}
	if err := d.record(p.holder, &p.replayKey, p.IssuedAt, d.cfg.Now()); err != nil {
		return err
	}
	if err := d.spendShared(p, p.htu); err != nil {
		return err
	}
	p.recorded = true
	return nil
}

// spendShared records p's use for htu in the shared replay record, when
// there is one (DPoPConfig.Spend). The key is a hash of the proof's key
// thumbprint, htu and jti with lengths, so no two proofs share one.
func (d *DPoP) spendShared(p *Proof, htu string) error {
	if d.cfg.Spend == nil {
		return nil
	}
	h := sha256.New()
	for _, part := range []string{"latch dpop proof", p.JKT, htu, p.JTI} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write([]byte(part))
	}
	fresh, err := d.cfg.Spend(hex.EncodeToString(h.Sum(nil)), p.IssuedAt.Add(d.cfg.MaxAge+d.cfg.FutureSkew))
	switch {
	case err != nil:
		return err
	case !fresh:
		return errProofReplay
	}
	return nil
}

func (d *DPoP) record(h holderID, key *[32]byte, iat, now time.Time) error {
	switch d.replay.record(h, key, iat.Add(d.cfg.MaxAge), now) {
	case replayed:
		return errProofReplay
	case keyAtBound:
		return errProofKeyBusy
	case shardIsFull:
		return errProofBusy
	}
	return nil
}

func (d *DPoP) check(pc ProofCheck, commit bool) (*Proof, error) {
	switch {
	case len(pc.Headers) == 0 || len(pc.Headers) == 1 && pc.Headers[0] == "":
		return nil, errProofMissing
	case len(pc.Headers) > 1:
		return nil, errProofMultiple
	}
	raw := pc.Headers[0]
	if strings.IndexByte(raw, ',') >= 0 {
		return nil, errProofMultiple
	}
	j, err := jose.SplitCompact(raw)
	if err != nil {
		return nil, errProofMalformed
	}
	key, cached := d.keys.get(j.Header)
	if !cached {
		if key, err = d.checkHeader(j.Header); err != nil {
			return nil, err
		}
	}

	pb, err := decodeSegment(j.Payload)
	if err != nil {
		return nil, errProofMalformed
	}
	var c proofClaims
	if !jose.StrictJSON(pb) || json.Unmarshal(pb, &c) != nil {
		return nil, errProofMalformed
	}
	if c.JTI == "" || len(c.JTI) > maxJTI {
		return nil, errProofJTI
	}
	if c.HTM == "" || c.HTM != pc.Method {
		return nil, errProofHTM
	}
	wantHTU, err := d.expectedHTU(pc.URL)
	if err != nil {
		return nil, errProofHTU
	}
	// Clients normally send the very string the server expects; only a
	// different spelling needs normalising to compare.
	if c.HTU != pc.URL {
		gotHTU, err := NormalizeHTU(c.HTU)
		if err != nil || gotHTU != wantHTU {
			return nil, errProofHTU
		}
	}
	now := d.cfg.Now()
	iat, ok := parseNumericDate(c.IAT)
	if !ok || iat.Before(now.Add(-d.cfg.MaxAge)) || iat.After(now.Add(d.cfg.FutureSkew)) {
		return nil, errProofIAT
	}
	if pc.AccessToken != "" {
		// Compared as digests: strict base64url gives each digest one
		// spelling, and nothing is encoded or copied per request.
		want := jose.SHA256String(pc.AccessToken)
		var got [32]byte
		if !decodeExact(got[:], c.ATH) || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return nil, errProofATH
		}
	}

	sig, err := decodeSegment(j.Signature)
	if err != nil || !jose.VerifySignature(key.alg, key.pub, j.SigningInput, sig) {
		return nil, errProofSignature
	}
	if !cached {
		// Only a header that signed a valid proof is remembered, and as a
		// copy: j.Header points into the whole proof string.
		d.keys.put(strings.Clone(j.Header), key)
	}

	// The nonce is checked only once the proof is otherwise sound, so
	// use_dpop_nonce means "retry with the nonce" and nothing else.
	if d.cfg.Nonces && (c.Nonce == "" || !d.nonces.valid(c.Nonce, now)) {
		return nil, errProofNonce
	}

	rk := d.replay.key(key.holder, wantHTU, c.JTI)
	p := &Proof{
		JKT:       key.jkt,
		JTI:       c.JTI,
		IssuedAt:  iat,
		JWK:       key.canonical,
		replayKey: rk,
		holder:    key.holder,
		url:       pc.URL,
		htu:       wantHTU,
		checked:   true,
	}
	if commit {
		if err := d.Record(p); err != nil {
			return nil, err
		}
	} else if d.replay.seen(&rk, now) {
		return nil, errProofReplay
	}
	return p, nil
}

// checkHeader runs the checks of a proof's JOSE header (typ, alg, jwk) and
// returns the key it names.
func (d *DPoP) checkHeader(encoded string) (*proofKey, error) {
	hb, err := decodeSegment(encoded)
	if err != nil {
		return nil, errProofMalformed
	}
	var h proofHeader
	if !jose.StrictJSON(hb) || json.Unmarshal(hb, &h) != nil {
		return nil, errProofMalformed
	}
	if !strings.EqualFold(h.Typ, typDPoP) {
		return nil, errProofType
	}
	if h.Crit != nil {
		return nil, errProofMalformed
	}
	if !slices.Contains(d.algs, h.Alg) {
		return nil, errProofAlg
	}
	if len(h.JWK) == 0 || h.JWK[0] != '{' {
		return nil, errProofJWK
	}
	pub, canonical, err := jose.PublicKeyFromJWK(h.JWK, h.Alg)
	switch err {
	case nil:
	case jose.ErrJWKPrivate:
		return nil, errProofPrivateJWK
	case jose.ErrJWKMismatch:
		return nil, errProofKeyAlg
	default:
		return nil, errProofJWK
	}
	jkt := jose.ThumbprintOf(canonical)
	return &proofKey{alg: h.Alg, pub: pub, canonical: canonical, jkt: jkt, holder: d.replay.holder(jkt)}, nil
}

// maxNumericDate keeps iat within the range time.Unix handles exactly
// (year 5138); anything later is nonsense for a proof.
const maxNumericDate = 1e11

// parseNumericDate reads an RFC 7519 NumericDate: a non-negative JSON
// number of seconds, possibly fractional. A quoted number, null or any
// other JSON type is rejected.
func parseNumericDate(raw json.RawMessage) (time.Time, bool) {
	if len(raw) == 0 || raw[0] < '0' || raw[0] > '9' {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// invalidProof takes only fixed, client-safe descriptions: never pass it
// library error text, which can echo untrusted input.
func invalidProof(desc string) *jose.TokenError {
	return &jose.TokenError{Code: jose.CodeInvalidDPoPProof, Description: desc}
}

// decodeExact decodes s into dst and requires it to fill dst exactly.
func decodeExact(dst []byte, s string) bool {
	if len(s) != b64.EncodedLen(len(dst)) {
		return false
	}
	n, err := b64.Decode(dst, []byte(s))
	return err == nil && n == len(dst)
}
