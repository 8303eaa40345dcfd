package webauthn

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
)

// credentialParameters are the algorithms offered at registration, in order
// of preference: ES256 is what nearly every passkey provider uses, EdDSA and
// RS256 cover the rest (Windows Hello still signs with RS256).
var credentialParameters = []protocol.CredentialParameter{
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgEdDSA},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgRS256},
}

// BeginRegistration starts a registration ceremony for user. exclude lists
// the user's existing credentials so the authenticator does not create a
// second passkey for the same account. It returns the
// PublicKeyCredentialCreationOptionsJSON to send to the client (the value of
// "publicKey") and the session bytes to store server-side until
// FinishRegistration.
func (rp *RP) BeginRegistration(user User, exclude []Credential) (options json.RawMessage, session []byte, err error) {
	return rp.beginRegistration(user, exclude, protocol.MediationDefault)
}

// BeginConditionalRegistration is BeginRegistration for a passkey the
// browser creates without a prompt of its own (conditional create, the
// "passkey upgrade" of a signed-in person). The browser makes such a
// passkey without a gesture, so its authenticator data may lack the UP
// flag, which FinishRegistration then accepts, as WebAuthn Level 3 section
// 7.1 has it for conditional mediation; user verification stays as
// configured.
func (rp *RP) BeginConditionalRegistration(user User, exclude []Credential) (options json.RawMessage, session []byte, err error) {
	return rp.beginRegistration(user, exclude, protocol.MediationConditional)
}

func (rp *RP) beginRegistration(user User, exclude []Credential, mediation protocol.CredentialMediationRequirement) (options json.RawMessage, session []byte, err error) {
	if len(user.Handle) == 0 || len(user.Handle) > maxUserHandle {
		return nil, nil, fmt.Errorf("webauthn: user handle must be 1 to %d bytes", maxUserHandle)
	}
	if user.Name == "" {
		return nil, nil, errors.New("webauthn: user name is required")
	}
	excl, err := descriptors(exclude)
	if err != nil {
		return nil, nil, err
	}
	selection := protocol.AuthenticatorSelection{
		ResidentKey:        protocol.ResidentKeyRequirementRequired,
		RequireResidentKey: protocol.ResidentKeyRequired(),
		UserVerification:   rp.uv,
	}
	creation, data, err := rp.lib.BeginMediatedRegistration(&libUser{user: user}, mediation,
		gowebauthn.WithCredentialParameters(credentialParameters),
		gowebauthn.WithAuthenticatorSelection(selection),
		gowebauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		gowebauthn.WithExclusions(excl),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: begin registration: %w", err)
	}
	if options, err = json.Marshal(creation.Response); err != nil {
		return nil, nil, fmt.Errorf("webauthn: encode creation options: %w", err)
	}
	if session, err = encodeSession(kindRegistration, data); err != nil {
		return nil, nil, err
	}
	return options, session, nil
}

// FinishRegistration verifies a RegistrationResponseJSON (what
// credential.toJSON() returns after navigator.credentials.create) against the
// session from BeginRegistration and returns the credential to persist. The
// caller must reject a credential ID already registered to any user.
func (rp *RP) FinishRegistration(user User, session []byte, response []byte) (*Credential, error) {
	if len(response) > maxResponseSize {
		return nil, invalid("response too large", "")
	}
	data, err := decodeSession(kindRegistration, session, time.Now())
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, invalid("malformed response", describe(err))
	}
	cred, err := rp.lib.CreateCredential(&libUser{user: user}, data, parsed)
	if err != nil {
		if !time.Now().Before(data.Expires) {
			return nil, ErrExpired
		}
		return nil, fromLibrary(err)
	}
	// The library checks UP (but for a conditional ceremony) and UV when
	// the session asked for it; checking the flags against our own
	// configuration as well means a session that was altered or built by
	// hand cannot switch UV off.
	flags := parsed.Response.AttestationObject.AuthData.Flags
	if err := rp.checkFlags(flags, data.Mediation == protocol.MediationConditional); err != nil {
		return nil, err
	}
	if len(cred.ID) == 0 || len(cred.ID) > maxCredentialID {
		return nil, invalid("malformed response", "credential ID length out of range")
	}
	cred.Transport = nil
	for _, t := range cleanTransports(parsed.Response.Transports) {
		cred.Transport = append(cred.Transport, protocol.AuthenticatorTransport(t))
	}
	return rp.records.encode(cred)
}

// checkFlags enforces user presence (unless conditional: a passkey the
// browser created without a prompt) and, when configured, user
// verification on authenticator data flags.
func (rp *RP) checkFlags(flags protocol.AuthenticatorFlags, conditional bool) error {
	if !flags.HasUserPresent() && !conditional {
		return invalid("user presence required", "UP flag not set")
	}
	if rp.uv == protocol.VerificationRequired && !flags.HasUserVerified() {
		return invalid("user verification required", "UV flag not set")
	}
	return nil
}
