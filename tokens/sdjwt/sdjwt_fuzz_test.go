package sdjwt

import (
	"strings"
	"testing"
	"time"
)

// FuzzSDPresentation feeds arbitrary text to the splitter, to SDVerify with a
// real issuer key, and (reading the first component as a raw JSON payload)
// to disclosure processing, which a fuzzer could not otherwise reach behind
// the issuer signature. Nothing may panic, every failure must be an
// *SDError, and a success must describe the input it came from.
func FuzzSDPresentation(f *testing.F) {
	fx := sdNewFixture(f)
	cred := fx.issue(f, fx.claims())
	valid := fx.present(f, cred.IssuerJWT, sdPick(f, cred, "username", "amr"), sdKBOptions{})
	f.Add(valid)
	f.Add(cred.Compact)
	f.Add(sdSpecPresentation)
	r := sdRecursive
	f.Add(`{"iss":"x","_sd":["HvrKX6fPV0v9K_yCVFBiLFHsMaxcD_114Em6VT8x1lg"]}~` +
		strings.Join([]string{r.address, r.street, r.region}, "~") + "~")
	f.Add(`{"nationalities":[{"...":"pFndjkZ_VCzmyTa6UjlZo3dh-ko8aIKQc9DlGzhaVYo"},"x"]}~WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIlVTIl0~`)
	f.Add("~~~")

	keys := fx.keys()
	f.Fuzz(func(t *testing.T, in string) {
		if parts, err := sdSplit(in); err == nil {
			if len(in) > sdMaxPresentation || len(parts.disclosures) > sdMaxDisclosures {
				t.Fatal("splitter accepted input beyond its bounds")
			}
			sdFuzzProcess(t, parts)
		} else if _, ok := err.(*SDError); !ok {
			t.Fatalf("splitter error %T", err)
		}

		pres, err := SDVerify(SDVerifyRequest{
			Presentation: in, Audience: sdTestAudience, Nonce: sdTestNonce, Issuer: sdTestIssuer,
			Now: sdTestNow, MaxKBAge: time.Minute, Keys: keys,
		})
		if err != nil {
			if _, ok := err.(*SDError); !ok {
				t.Fatalf("SDVerify error %T: %v", err, err)
			}
			return
		}
		if pres.Claims == nil || pres.CNF == nil || !strings.HasPrefix(in, pres.IssuerJWT+"~") {
			t.Fatalf("accepted presentation described inconsistently: %+v", pres)
		}
	})
}

// sdFuzzProcess runs disclosure processing on a split input whose first
// component is taken as the payload JSON itself.
func sdFuzzProcess(t *testing.T, parts sdParts) {
	payload, err := sdDecodeObject([]byte(parts.jwt))
	if err != nil {
		return
	}
	ds, err := sdParseDisclosures(parts.disclosures)
	if err != nil {
		if _, ok := err.(*SDError); !ok {
			t.Fatalf("disclosure error %T", err)
		}
		return
	}
	out, err := sdProcess(payload, ds, sdProtectedClaims)
	if err != nil {
		if _, ok := err.(*SDError); !ok {
			t.Fatalf("processing error %T", err)
		}
		return
	}
	if sdHasDigestCarrier(out) {
		t.Fatal("processed payload still carries digests")
	}
	if _, ok := out[sdKeyAlg]; ok {
		t.Fatal("processed payload still has _sd_alg")
	}
}
