package webauthntest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/descope/virtualwebauthn"
	"github.com/fxamacker/cbor/v2"
)

// coseES256 is the COSE algorithm identifier of ECDSA P-256 with SHA-256,
// the only algorithm this authenticator creates keys for.
const coseES256 = -7

// Transports and attachment reported for every credential: those of a
// platform passkey that can also be used from another device.
var (
	transports = []string{"hybrid", "internal"}
	attachment = "platform"
)

// Options are per-call overrides used to build failing cases. The zero value
// is an honest authenticator.
type Options struct {
	// Origin replaces the origin written into clientDataJSON.
	Origin string
	// RPID replaces the RP ID whose hash goes into the authenticator data,
	// and skips the check that the options were meant for this RP.
	RPID string
	// NoUserVerified clears the UV flag.
	NoUserVerified bool
	// NoUserPresent clears the UP flag.
	NoUserPresent bool
	// TamperClientData alters clientDataJSON after it was signed (the
	// challenge, origin and type stay intact, so only the signature breaks).
	TamperClientData bool
	// Counter sets the signature counter for this call (and what the
	// credential remembers). Without it Create starts at 0 and each Get
	// increments the counter by one.
	Counter *uint32
	// BackupEligible and BackupState set the BE and BS flags. At Create they
	// become properties of the credential; at Get they are added to them.
	BackupEligible, BackupState bool
	// CredentialID makes Get use this credential even if the options do not
	// allow it. It must be one the authenticator holds.
	CredentialID []byte
	// UserHandle replaces the user handle Get returns; an empty, non-nil
	// slice leaves userHandle out of the response.
	UserHandle []byte
	// NoneAttestation makes Create answer with a "none" attestation (no
	// statement), as platform passkeys do when the RP asks for none,
	// instead of a packed self-attestation.
	NoneAttestation bool
	// AAGUID sets the authenticator model id Create reports (16 bytes);
	// without it, the authenticator's own random one.
	AAGUID []byte
}

// Authenticator is a software authenticator bound to one RP ID and origin.
// It is safe for concurrent use, but calls are serialised because the
// underlying signing keys are not safe to share; a load generator wanting
// parallel signing should give each goroutine its own Authenticator.
type Authenticator struct {
	mu     sync.Mutex
	rpID   string
	origin string
	device virtualwebauthn.Authenticator
	creds  []*credential
}

// credential is one passkey the authenticator holds.
type credential struct {
	vc         virtualwebauthn.Credential
	rpID       string
	userHandle []byte
	be, bs     bool
	// fixedCounter keeps the signature counter at its value (0 for a
	// passkey from a file; see PasskeyFile).
	fixedCounter bool
}

// New returns an authenticator for the given RP ID and the origin its
// "browser" runs on, for example ("localhost", "http://localhost:8080").
func New(rpID, origin string) *Authenticator {
	return &Authenticator{rpID: rpID, origin: origin, device: virtualwebauthn.NewAuthenticator()}
}

// CredentialIDs returns the IDs of the credentials held, oldest first.
func (a *Authenticator) CredentialIDs() [][]byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := make([][]byte, len(a.creds))
	for i, c := range a.creds {
		ids[i] = bytes.Clone(c.vc.ID)
	}
	return ids
}

// creationOptions is the part of PublicKeyCredentialCreationOptionsJSON the
// authenticator acts on.
type creationOptions struct {
	RP struct {
		ID string `json:"id"`
	} `json:"rp"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	Challenge          string      `json:"challenge"`
	PubKeyCredParams   []credParam `json:"pubKeyCredParams"`
	ExcludeCredentials []struct {
		ID string `json:"id"`
	} `json:"excludeCredentials"`
}

// Create answers navigator.credentials.create for the given
// PublicKeyCredentialCreationOptionsJSON (the "publicKey" object) and returns
// the RegistrationResponseJSON. The new ES256 credential is kept with its user
// handle whatever overrides were used, as a real authenticator cannot know
// the relying party will reject it.
func (a *Authenticator) Create(publicKeyOptions []byte, o Options) ([]byte, error) {
	var opts creationOptions
	if err := json.Unmarshal(publicKeyOptions, &opts); err != nil {
		return nil, fmt.Errorf("webauthntest: creation options: %w", err)
	}
	challenge, err := b64(opts.Challenge)
	if err != nil || len(challenge) == 0 {
		return nil, errors.New("webauthntest: creation options: missing or bad challenge")
	}
	userHandle, err := b64(opts.User.ID)
	if err != nil || len(userHandle) == 0 {
		return nil, errors.New("webauthntest: creation options: missing or bad user.id")
	}
	if !slices.ContainsFunc(opts.PubKeyCredParams, func(p credParam) bool {
		return p.Type == "public-key" && p.Alg == coseES256
	}) {
		return nil, errors.New("webauthntest: creation options do not allow ES256")
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	rpID, err := a.rpFor(opts.RP.ID, o)
	if err != nil {
		return nil, err
	}
	for _, ex := range opts.ExcludeCredentials {
		id, err := b64(ex.ID)
		if err == nil && a.find(id) != nil {
			return nil, errors.New("webauthntest: an excluded credential is already registered (InvalidStateError)")
		}
	}

	vc, pub, err := newCredential()
	if err != nil {
		return nil, err
	}
	if o.Counter != nil {
		vc.Counter = *o.Counter
	}
	device := a.device
	device.Options = virtualwebauthn.AuthenticatorOptions{
		UserHandle:      userHandle,
		UserNotPresent:  o.NoUserPresent,
		UserNotVerified: o.NoUserVerified,
		BackupEligible:  o.BackupEligible,
		BackupState:     o.BackupState,
	}
	if len(o.AAGUID) == len(device.Aaguid) {
		copy(device.Aaguid[:], o.AAGUID)
	}
	rp := virtualwebauthn.RelyingParty{ID: rpID, Origin: a.originFor(o)}
	raw := virtualwebauthn.CreateAttestationResponse(rp, device, vc, virtualwebauthn.AttestationOptions{Challenge: challenge})

	var att struct {
		ID       string `json:"id"`
		Response struct {
			AttestationObject string `json:"attestationObject"`
			ClientDataJSON    string `json:"clientDataJSON"`
		} `json:"response"`
	}
	if err := json.Unmarshal([]byte(raw), &att); err != nil {
		return nil, fmt.Errorf("webauthntest: attestation: %w", err)
	}
	object, err := b64(att.Response.AttestationObject)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: attestation object: %w", err)
	}
	var decoded struct {
		AuthData []byte `cbor:"authData"`
	}
	if err := cbor.Unmarshal(object, &decoded); err != nil {
		return nil, fmt.Errorf("webauthntest: attestation object: %w", err)
	}
	clientData, err := a.clientData(att.Response.ClientDataJSON, o)
	if err != nil {
		return nil, err
	}
	attestationObject := att.Response.AttestationObject
	if o.NoneAttestation {
		none, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": decoded.AuthData})
		if err != nil {
			return nil, fmt.Errorf("webauthntest: attestation object: %w", err)
		}
		attestationObject = enc(none)
	}

	a.creds = append(a.creds, &credential{
		vc: vc, rpID: rpID, userHandle: userHandle,
		be: o.BackupEligible, bs: o.BackupState,
	})
	return json.Marshal(registrationResponseJSON{
		ID:    att.ID,
		RawID: att.ID,
		Type:  "public-key",
		Response: attestationResponseJSON{
			ClientDataJSON:     clientData,
			AuthenticatorData:  enc(decoded.AuthData),
			Transports:         transports,
			PublicKey:          enc(pub),
			PublicKeyAlgorithm: coseES256,
			AttestationObject:  attestationObject,
		},
		AuthenticatorAttachment: attachment,
		ClientExtensionResults:  struct{}{},
	})
}

// credParam is one entry of pubKeyCredParams.
type credParam struct {
	Type string `json:"type"`
	Alg  int    `json:"alg"`
}

// requestOptions is the part of PublicKeyCredentialRequestOptionsJSON the
// authenticator acts on.
type requestOptions struct {
	Challenge        string `json:"challenge"`
	RPID             string `json:"rpId"`
	AllowCredentials []struct {
		ID string `json:"id"`
	} `json:"allowCredentials"`
}

// Get answers navigator.credentials.get for the given
// PublicKeyCredentialRequestOptionsJSON and returns the
// AuthenticationResponseJSON, user handle included. It uses the newest
// credential for the RP that the options allow, or the newest for the RP when
// the allow list is empty (discoverable login).
func (a *Authenticator) Get(publicKeyOptions []byte, o Options) ([]byte, error) {
	var opts requestOptions
	if err := json.Unmarshal(publicKeyOptions, &opts); err != nil {
		return nil, fmt.Errorf("webauthntest: request options: %w", err)
	}
	challenge, err := b64(opts.Challenge)
	if err != nil || len(challenge) == 0 {
		return nil, errors.New("webauthntest: request options: missing or bad challenge")
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	rpID, err := a.rpFor(opts.RPID, o)
	if err != nil {
		return nil, err
	}
	cred, err := a.pick(opts, rpID, o)
	if err != nil {
		return nil, err
	}
	if o.Counter != nil {
		cred.vc.Counter = *o.Counter
	} else if !cred.fixedCounter {
		cred.vc.Counter++
	}
	userHandle := cred.userHandle
	if o.UserHandle != nil {
		userHandle = o.UserHandle
	}
	device := a.device
	device.Options = virtualwebauthn.AuthenticatorOptions{
		UserHandle:      userHandle,
		UserNotPresent:  o.NoUserPresent,
		UserNotVerified: o.NoUserVerified,
		BackupEligible:  cred.be || o.BackupEligible,
		BackupState:     cred.bs || o.BackupState,
	}
	rp := virtualwebauthn.RelyingParty{ID: rpID, Origin: a.originFor(o)}
	raw := virtualwebauthn.CreateAssertionResponse(rp, device, cred.vc, virtualwebauthn.AssertionOptions{Challenge: challenge})

	var asr struct {
		ID       string `json:"id"`
		Response struct {
			AuthenticatorData string `json:"authenticatorData"`
			ClientDataJSON    string `json:"clientDataJSON"`
			Signature         string `json:"signature"`
			UserHandle        string `json:"userHandle"`
		} `json:"response"`
	}
	if err := json.Unmarshal([]byte(raw), &asr); err != nil {
		return nil, fmt.Errorf("webauthntest: assertion: %w", err)
	}
	clientData, err := a.clientData(asr.Response.ClientDataJSON, o)
	if err != nil {
		return nil, err
	}
	return json.Marshal(authenticationResponseJSON{
		ID:    asr.ID,
		RawID: asr.ID,
		Type:  "public-key",
		Response: assertionResponseJSON{
			ClientDataJSON:    clientData,
			AuthenticatorData: asr.Response.AuthenticatorData,
			Signature:         asr.Response.Signature,
			UserHandle:        asr.Response.UserHandle,
		},
		AuthenticatorAttachment: attachment,
		ClientExtensionResults:  struct{}{},
	})
}

// rpFor checks that the options were meant for this authenticator's RP, as a
// browser would, unless the call overrides the RP ID on purpose.
func (a *Authenticator) rpFor(optionsRPID string, o Options) (string, error) {
	if o.RPID != "" {
		return o.RPID, nil
	}
	if optionsRPID != "" && optionsRPID != a.rpID {
		return "", fmt.Errorf("webauthntest: options are for RP %q, authenticator is for %q (SecurityError)", optionsRPID, a.rpID)
	}
	return a.rpID, nil
}

// originFor returns the origin to write into clientDataJSON.
func (a *Authenticator) originFor(o Options) string {
	if o.Origin != "" {
		return o.Origin
	}
	return a.origin
}

// pick chooses the credential that answers a get() call.
func (a *Authenticator) pick(opts requestOptions, rpID string, o Options) (*credential, error) {
	if o.CredentialID != nil {
		if c := a.find(o.CredentialID); c != nil {
			return c, nil
		}
		return nil, errors.New("webauthntest: the requested credential is not held")
	}
	for i := len(a.creds) - 1; i >= 0; i-- {
		c := a.creds[i]
		if c.rpID != rpID {
			continue
		}
		if len(opts.AllowCredentials) == 0 {
			return c, nil
		}
		for _, allowed := range opts.AllowCredentials {
			if id, err := b64(allowed.ID); err == nil && bytes.Equal(id, c.vc.ID) {
				return c, nil
			}
		}
	}
	return nil, errors.New("webauthntest: no credential available for these options (NotAllowedError)")
}

// find returns the held credential with this ID, or nil.
func (a *Authenticator) find(id []byte) *credential {
	for _, c := range a.creds {
		if bytes.Equal(c.vc.ID, id) {
			return c
		}
	}
	return nil
}

// clientData re-encodes clientDataJSON, altering it after signing when the
// call asks for tampering.
func (a *Authenticator) clientData(encoded string, o Options) (string, error) {
	if !o.TamperClientData {
		return encoded, nil
	}
	cd, err := b64(encoded)
	if err != nil || len(cd) < 2 || cd[len(cd)-1] != '}' {
		return "", errors.New("webauthntest: unexpected clientDataJSON")
	}
	// An extra member keeps type, challenge and origin valid, so the only
	// thing that can catch it is the signature over the client data hash.
	tampered := append(bytes.Clone(cd[:len(cd)-1]), []byte(`,"crossOrigin":false}`)...)
	return enc(tampered), nil
}
