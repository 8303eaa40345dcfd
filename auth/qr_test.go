package auth

import (
	"bytes"
	"encoding/base64"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/boombuler/barcode/qr"
)

func TestQRCodesOfPresentations(t *testing.T) {
	e := newEnv(t)
	u := e.newUser("qr-user", true)
	u.signUp()
	text := strings.Repeat("eyJhbGciOiJFUzI1NiJ9~", 80) // the size of a presentation
	r := u.call("POST", "/qr", map[string]any{"text": text})
	data, ok := strings.CutPrefix(r.str("png"), "data:image/png;base64,")
	if r.status != 200 || !ok || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("qr: %d %.200s", r.status, r.raw)
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	// Every module, sampled at its centre, is what the encoder made, inside
	// a white quiet zone of four modules.
	want, _ := qr.Encode(text, qr.L, qr.Auto)
	n := want.Bounds().Dx()
	if b := img.Bounds(); b.Dx() != (n+8)*qrModulePixels || b.Dy() != b.Dx() {
		t.Fatalf("image %v for %d modules", b, n)
	}
	dark := func(x, y int) bool { return color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y < 128 }
	for y := -4; y < n+4; y++ {
		for x := -4; x < n+4; x++ {
			px, py := (x+4)*qrModulePixels+qrModulePixels/2, (y+4)*qrModulePixels+qrModulePixels/2
			expect := x >= 0 && y >= 0 && x < n && y < n && color.GrayModel.Convert(want.At(x, y)).(color.Gray).Y < 128
			if dark(px, py) != expect {
				t.Fatalf("module (%d,%d) dark=%v, want %v", x, y, dark(px, py), expect)
			}
		}
	}

	expectError(t, u.call("POST", "/qr", map[string]any{"text": strings.Repeat("x", maxQRText+1)}), 400, "invalid_request")
	expectError(t, u.call("POST", "/qr", map[string]any{"text": ""}), 400, "invalid_request")
	expectError(t, e.request("POST", "/qr", map[string]any{"text": "hello"}, nil), 401, "invalid_token")
}
