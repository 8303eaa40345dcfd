package auth

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/draw"
	"image/png"
	"net/http"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
	"github.com/gofiber/fiber/v2"
)

// maxQRText is the most a QR code holds in byte mode at the lowest error
// correction (version 40-L).
const maxQRText = 2953

// qrModulePixels is the size of one QR module in the image: small enough
// for a version 40 code to fit a phone screen, large enough to scan.
const qrModulePixels = 4

type qrRequest struct {
	Text string `json:"text"`
}

// handleQR renders text as a QR code PNG for the signed-in person's own
// pages (the share page shows a presentation this way). The text never
// leaves the request and is not logged.
func (s *Server) handleQR(c *fiber.Ctx) error {
	var req qrRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Text == "" || len(req.Text) > maxQRText {
		return badRequest("text must be 1 to %d bytes", maxQRText)
	}
	code, err := qr.Encode(req.Text, qr.L, qr.Auto)
	if err != nil {
		return Errorf(http.StatusBadRequest, CodeInvalidRequest, "the text does not fit in a QR code")
	}
	side := code.Bounds().Dx() * qrModulePixels
	scaled, err := barcode.Scale(code, side, side)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	// A quiet zone of four modules on each side, as scanners expect.
	if err := png.Encode(&buf, withQuietZone(scaled, 4*qrModulePixels)); err != nil {
		return err
	}
	noStore(c)
	return c.JSON(fiber.Map{"png": "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())})
}

// withQuietZone puts img on a white canvas with margin pixels on each side.
func withQuietZone(img image.Image, margin int) image.Image {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx()+2*margin, b.Dy()+2*margin))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(out, image.Rect(margin, margin, margin+b.Dx(), margin+b.Dy()), img, b.Min, draw.Src)
	return out
}
