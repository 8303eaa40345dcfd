package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/text/language"

	"github.com/latchid/latch/frontend"
)

// The pages speak each language frontend/locales has a catalogue for
// (English and German), chosen per request: the OpenID Connect ui_locales
// parameter first (on the provider's pages), then Accept-Language, then
// English. Every variant is made once, at start: the static pages
// translated (with their own ETag), the provider's templates translated
// before they are parsed, and the scripts' messages put in each page as
// a JSON block for ui.js.

// Brand is how the pages name and show the service.
type Brand struct {
	// Name replaces "Latch" in the pages' texts; empty keeps it.
	Name string
	// Logo is an image shown at the top of every page (PNG, JPEG, WebP or
	// SVG, at most maxBrandLogo bytes), served at /brand-logo; LogoType is
	// its media type.
	Logo     []byte
	LogoType string
	// Color is the pages' accent colour (#rgb or #rrggbb), served in
	// /brand.css with a text colour for buttons that reads on it.
	Color string
}

const maxBrandLogo = 512 << 10

var brandColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// BrandLogoType returns the media type of a logo file's bytes, or an
// error for anything but PNG, JPEG, WebP and SVG (or a file too large).
func BrandLogoType(logo []byte) (string, error) {
	if len(logo) == 0 || len(logo) > maxBrandLogo {
		return "", fmt.Errorf("config: --brand-logo must be an image of 1 byte to %d KiB", maxBrandLogo>>10)
	}
	switch sniffed := http.DetectContentType(logo); sniffed {
	case "image/png", "image/jpeg", "image/webp":
		return sniffed, nil
	}
	head := bytes.TrimSpace(logo[:min(len(logo), 1024)])
	if bytes.HasPrefix(head, []byte("<svg")) || bytes.HasPrefix(head, []byte("<?xml")) && bytes.Contains(logo, []byte("<svg")) {
		return "image/svg+xml", nil
	}
	return "", fmt.Errorf("config: --brand-logo must be a PNG, JPEG, WebP or SVG image")
}

func (b Brand) validate() error {
	if utf8.RuneCountInString(b.Name) > 64 || !utf8.ValidString(b.Name) || strings.IndexFunc(b.Name, unicode.IsControl) >= 0 || b.Name != strings.TrimSpace(b.Name) {
		return fmt.Errorf("config: --brand-name must be at most 64 printable characters")
	}
	if b.Color != "" && !brandColor.MatchString(b.Color) {
		return fmt.Errorf("config: --brand-color %q must be #rgb or #rrggbb", b.Color)
	}
	if len(b.Logo) > 0 {
		typ, err := BrandLogoType(b.Logo)
		if err != nil {
			return err
		}
		if b.LogoType != "" && b.LogoType != typ {
			return fmt.Errorf("config: --brand-logo is %s, not %s", typ, b.LogoType)
		}
	}
	return nil
}

// css is /brand.css: the accent colour for each colour scheme, made
// lighter (dark scheme) or darker (light scheme) where it would not read
// as text on the pages' backgrounds (4.5:1, WCAG 1.4.3), and, for buttons
// filled with it, black or white text, whichever contrasts more.
func (b Brand) css() []byte {
	if b.Color == "" {
		return []byte("/* no brand colour configured */\n")
	}
	c := parseHex(b.Color)
	// The pages' backgrounds and cards (style.css), light and dark.
	light := readableOn(c, [3]float64{0, 0, 0}, parseHex("#f6f7f9"), parseHex("#ffffff"))
	dark := readableOn(c, [3]float64{255, 255, 255}, parseHex("#16181c"), parseHex("#202328"))
	rule := func(c [3]float64) string {
		return fmt.Sprintf(":root { --accent: %s; --on-accent: %s; }", hexOf(c), onColor(hexOf(c)))
	}
	return []byte(rule(light) + "\n@media (prefers-color-scheme: dark) { " + rule(dark) + " }\n")
}

// readableOn mixes c towards toward until it has a contrast of 4.5:1 with
// every background.
func readableOn(c, toward [3]float64, backgrounds ...[3]float64) [3]float64 {
	for step := 0; step <= 20; step++ {
		f := float64(step) / 20
		var m [3]float64
		for i := range m {
			m[i] = math.Round(c[i] + (toward[i]-c[i])*f)
		}
		ok := true
		for _, bg := range backgrounds {
			if contrast(m, bg) < 4.5 {
				ok = false
			}
		}
		if ok {
			return m
		}
	}
	return toward
}

func parseHex(hex string) [3]float64 {
	h := strings.TrimPrefix(hex, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	var rgb [3]float64
	for i := range rgb {
		var v int
		fmt.Sscanf(h[2*i:2*i+2], "%02x", &v)
		rgb[i] = float64(v)
	}
	return rgb
}

func hexOf(c [3]float64) string { return fmt.Sprintf("#%02x%02x%02x", int(c[0]), int(c[1]), int(c[2])) }

// luminance is WCAG's relative luminance.
func luminance(c [3]float64) float64 {
	var l [3]float64
	for i, v := range c {
		v /= 255
		if v <= 0.04045 {
			l[i] = v / 12.92
		} else {
			l[i] = math.Pow((v+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

func contrast(a, b [3]float64) float64 {
	la, lb := luminance(a), luminance(b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

// onColor picks the text colour for a background: black or white,
// whichever contrasts more.
func onColor(hex string) string {
	c := parseHex(hex)
	if contrast(c, [3]float64{255, 255, 255}) >= contrast(c, [3]float64{0, 0, 0}) {
		return "#ffffff"
	}
	return "#000000"
}

// pageLanguages holds every page in every language.
type pageLanguages struct {
	langs    []string
	matcher  language.Matcher
	static   map[string]map[string]pageVariant // asset name -> language -> page
	provider map[string]*template.Template     // language -> provider templates
	cats     map[string]frontend.Catalogue
	brand    Brand
}

type pageVariant struct {
	body []byte
	etag string
}

// newPageLanguages translates the pages; it fails only on a malformed
// catalogue or template, which the package's tests catch.
func newPageLanguages(brand Brand) (*pageLanguages, error) {
	pl := &pageLanguages{
		langs: frontend.Languages(), static: map[string]map[string]pageVariant{},
		provider: map[string]*template.Template{}, cats: map[string]frontend.Catalogue{}, brand: brand,
	}
	var tags []language.Tag
	for _, lang := range pl.langs {
		cat, err := frontend.Messages(lang)
		if err != nil {
			return nil, err
		}
		tag, err := language.Parse(lang)
		if err != nil {
			return nil, fmt.Errorf("auth: locales/%s.json is not named by a language tag: %w", lang, err)
		}
		pl.cats[lang] = cat
		tags = append(tags, tag)
		src := pl.localise([]byte(frontend.ProviderTemplates()), lang, true)
		t, err := template.New("page").Parse(string(src))
		if err != nil {
			return nil, fmt.Errorf("auth: provider templates in %s: %w", lang, err)
		}
		pl.provider[lang] = t
	}
	pl.matcher = language.NewMatcher(tags)
	return pl, nil
}

// page returns the variant of a static page for lang, made on first use.
func (pl *pageLanguages) page(name string, src []byte) map[string]pageVariant {
	if v, ok := pl.static[name]; ok {
		return v
	}
	variants := map[string]pageVariant{}
	for _, lang := range pl.langs {
		body := pl.localise(src, lang, false)
		sum := sha256.Sum256(body)
		variants[lang] = pageVariant{body: body, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`}
	}
	pl.static[name] = variants
	return variants
}

// localise translates a page (or the provider's template source) into lang
// and adds what the brand and the scripts need: the page's language, the
// scripts' messages, the brand's style sheet and logo.
func (pl *pageLanguages) localise(src []byte, lang string, isTemplate bool) []byte {
	cat := pl.cats[lang]
	out := frontend.TranslateHTML(src, cat, pl.brand.Name)
	out = bytes.Replace(out, []byte(`<html lang="en">`), []byte(`<html lang="`+lang+`">`), 1)
	var head bytes.Buffer
	if pl.brand.Color != "" {
		head.WriteString(`  <link rel="stylesheet" href="/brand.css">` + "\n")
	}
	if lang != "en" || pl.brand.Name != "" {
		messages := map[string]string{}
		for k, v := range cat {
			// Texts with template actions belong to the provider's
			// templates, not the scripts (and must not reach a template
			// as actions of their own).
			if lang != "en" && !strings.Contains(k, "{{") && !strings.Contains(v, "{{") {
				messages[k] = v
			}
		}
		block, _ := json.Marshal(map[string]any{"messages": messages, "brand": pl.brand.Name})
		if isTemplate {
			block = bytes.ReplaceAll(block, []byte("{{"), []byte(`{\u007b`))
		}
		head.WriteString(`  <script type="application/json" id="latch-messages">`)
		head.Write(block) // json.Marshal escapes <, > and &: no </script> inside
		head.WriteString("</script>\n")
	}
	out = bytes.Replace(out, []byte("</head>"), append(head.Bytes(), "</head>"...), 1)
	if len(pl.brand.Logo) > 0 {
		out = bytes.Replace(out, []byte("<header>"), []byte(`<header>`+"\n    "+`<img class="brand-logo" src="/brand-logo" alt="" height="40">`), 1)
	}
	return out
}

// T translates one text of the Go code (a page title, a message) into lang.
func (pl *pageLanguages) T(lang, text string) string {
	out := pl.cats[lang].T(text)
	if pl.brand.Name != "" {
		out = latchName.ReplaceAllLiteralString(out, pl.brand.Name)
	}
	return out
}

var latchName = regexp.MustCompile(`\bLatch\b`)

// maxLanguageHeader bounds the Accept-Language and ui_locales values
// negotiated; a longer one is ignored (English).
const maxLanguageHeader = 256

// choose returns the language for a request: the first of uiLocales (an
// OpenID Connect ui_locales value, space-separated BCP 47 tags) that the
// pages speak, else the best match of Accept-Language, else English.
func (pl *pageLanguages) choose(c *fiber.Ctx, uiLocales string) string {
	if len(uiLocales) <= maxLanguageHeader {
		for i, tag := range strings.Fields(uiLocales) {
			if i == 8 {
				break
			}
			if t, err := language.Parse(tag); err == nil {
				if lang, ok := pl.match(t); ok {
					return lang
				}
			}
		}
	}
	header := c.Get(fiber.HeaderAcceptLanguage)
	if header == "" || len(header) > maxLanguageHeader {
		return "en"
	}
	tags, _, err := language.ParseAcceptLanguage(header)
	if err != nil || len(tags) == 0 {
		return "en"
	}
	_, i, conf := pl.matcher.Match(tags...)
	if conf == language.No {
		return "en"
	}
	return pl.langs[i]
}

func (pl *pageLanguages) match(t language.Tag) (string, bool) {
	_, i, conf := pl.matcher.Match(t)
	if conf == language.No || conf == language.Low {
		return "", false
	}
	return pl.langs[i], true
}

// pageHeaders marks an answer that depends on the request's language.
func pageHeaders(c *fiber.Ctx, lang string) {
	c.Set(fiber.HeaderContentLanguage, lang)
	c.Vary(fiber.HeaderAcceptLanguage)
}
