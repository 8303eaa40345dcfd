package aaguids

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestEmbeddedListNamesKnownProviders(t *testing.T) {
	list, err := Parse(embedded)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) < 40 {
		t.Fatalf("only %d providers in the embedded list", len(list))
	}
	// Google Password Manager's AAGUID, as authenticators send it.
	gpm := []byte{0xea, 0x9b, 0x8d, 0x66, 0x4d, 0x01, 0x1d, 0x21, 0x3c, 0xe4, 0xb6, 0xb4, 0x8c, 0xb5, 0x75, 0xd4}
	p, ok := Lookup(gpm)
	if !ok || p.Name != "Google Password Manager" {
		t.Fatalf("Lookup(GPM) = %q, %v", p.Name, ok)
	}
	if !bytes.Contains(p.IconLight, []byte("<svg")) || !bytes.Contains(p.IconDark, []byte("<svg")) {
		t.Error("GPM icons were not decoded")
	}
	if q, ok := LookupString(Format(gpm)); !ok || q.Name != p.Name {
		t.Errorf("LookupString(%s) = %q, %v", Format(gpm), q.Name, ok)
	}
	if _, ok := Lookup(make([]byte, 16)); ok {
		t.Error("the all-zero AAGUID names a provider")
	}
	if _, ok := Lookup(gpm[:15]); ok {
		t.Error("a 15-byte AAGUID names a provider")
	}
}

func TestParseRefusesWhatARefreshMustNotShip(t *testing.T) {
	svg := "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`))
	for name, doc := range map[string]string{
		"empty (retired)":    `{}`,
		"not an object":      `[]`,
		"upper-case AAGUID":  `{"EA9B8D66-4D01-1D21-3CE4-B6B48CB575D4": {"name": "X"}}`,
		"short AAGUID":       `{"ea9b8d66-4d01-1d21-3ce4": {"name": "X"}}`,
		"blank name":         `{"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": {"name": "  "}}`,
		"control in name":    `{"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": {"name": "a\u0007b"}}`,
		"name over 64":       `{"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": {"name": "` + strings.Repeat("n", 65) + `"}}`,
		"truncated document": `{"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": {"name": "X", "icon_light": "` + svg,
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	png := "data:image/png;base64," + base64.StdEncoding.EncodeToString([]byte("\x89PNG"))
	list, err := Parse([]byte(`{"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": {"name": " Vault ", "icon_light": "` + png + `", "icon_dark": "` + svg + `"}}`))
	if err != nil {
		t.Fatal(err)
	}
	p := list["ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"]
	if p.Name != "Vault" || p.IconLight != nil || !bytes.HasPrefix(p.IconDark, []byte("<svg")) {
		t.Errorf("got %q light=%q dark=%q", p.Name, p.IconLight, p.IconDark)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(embedded[:2000])
	f.Add([]byte(`{"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": {"name": "X", "icon_dark": "data:image/svg+xml;base64,PHN2Zz4="}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		list, err := Parse(doc)
		if err != nil {
			return
		}
		for id, p := range list {
			if !aaguidForm.MatchString(id) || p.Name == "" || len(p.IconLight) > maxIcon || len(p.IconDark) > maxIcon {
				t.Fatalf("accepted %q %+v", id, p)
			}
		}
	})
}
