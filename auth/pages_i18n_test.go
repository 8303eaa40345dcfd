package auth

import (
	"encoding/json"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/latchid/latch/frontend"
)

// pageTexts collects every text the pages show: the static pages', the
// provider templates', the scripts' t() texts and the Go code's titles,
// buttons, messages and scope words.
func pageTexts(t *testing.T) []string {
	t.Helper()
	var all []string
	add := func(texts ...string) {
		for _, text := range texts {
			if !slices.Contains(all, text) {
				all = append(all, text)
			}
		}
	}
	assets := frontend.Assets()
	pages, _ := fs.Glob(assets, "*.html")
	for _, p := range pages {
		src, err := fs.ReadFile(assets, p)
		if err != nil {
			t.Fatal(err)
		}
		add(frontend.Texts(src)...)
	}
	add(frontend.Texts([]byte(frontend.ProviderTemplates()))...)
	add(frontend.ScriptTexts()...)
	for _, words := range scopeWords {
		add(words)
	}
	goFiles, _ := filepath.Glob("*.go")
	literal := regexp.MustCompile(`(?s)(?:messagePage\(c, [^,]+, |Title: |Button: |Message: |Hint: )"([^"]+)"(?:,\s*"([^"]+)")?`)
	for _, f := range goFiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, _ := os.ReadFile(f)
		for _, m := range literal.FindAllSubmatch(src, -1) {
			add(string(m[1]))
			if len(m[2]) > 0 && strings.Contains(string(m[0]), "messagePage") {
				add(string(m[2]))
			}
		}
	}
	sort.Strings(all)
	return all
}

var placeholder = regexp.MustCompile(`\{\{[^}]*\}\}|\{\w+\}`)

func placeholders(text string) []string {
	out := placeholder.FindAllString(text, -1)
	sort.Strings(out)
	return out
}

// TestCataloguesCoverEveryText keeps the catalogues complete: en.json
// lists exactly the texts the pages show (run with LATCH_WRITE_LOCALES=1
// to write it after changing them), and every other language translates
// each one, with the same placeholders.
func TestCataloguesCoverEveryText(t *testing.T) {
	texts := pageTexts(t)
	if len(texts) < 200 {
		t.Fatalf("only %d texts found: the collection is broken", len(texts))
	}
	if os.Getenv("LATCH_WRITE_LOCALES") != "" {
		en := map[string]string{}
		for _, text := range texts {
			en[text] = text
		}
		out, _ := json.MarshalIndent(en, "", "  ")
		if err := os.WriteFile("../frontend/locales/en.json", append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	langs := frontend.Languages()
	if !slices.Equal(langs, []string{"de", "en"}) && !slices.Contains(langs, "de") {
		t.Fatalf("languages %v", langs)
	}
	for _, lang := range langs {
		cat, err := frontend.Messages(lang)
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range texts {
			tr, ok := cat[text]
			if !ok || strings.TrimSpace(tr) == "" {
				t.Errorf("%s.json lacks %q", lang, text)
				continue
			}
			if lang == "en" && tr != text {
				t.Errorf("en.json translates %q as %q", text, tr)
			}
			if !slices.Equal(placeholders(tr), placeholders(text)) {
				t.Errorf("%s.json: %q has placeholders %v, not %v", lang, tr, placeholders(tr), placeholders(text))
			}
		}
		for key := range cat {
			if !slices.Contains(texts, key) {
				t.Errorf("%s.json has %q, which no page shows", lang, key)
			}
		}
	}
}

func TestPagesSpeakTheLanguageAsked(t *testing.T) {
	e := newEnv(t)
	app := e.newRP(ClientOptions{ID: "web", FirstParty: true})
	en := e.request("GET", "/", nil, nil)
	for _, tc := range []struct {
		name, header, lang, text string
	}{
		{"no header", "", "en", "Sign in with a passkey"},
		{"German", "de-DE,de;q=0.9,en;q=0.8", "de", "Mit Passkey anmelden"},
		{"German after a language with no pages", "fr-CH, fr;q=0.9, de;q=0.7", "de", "Mit Passkey anmelden"},
		{"English preferred", "en-GB,de;q=0.5", "en", "Sign in with a passkey"},
		{"only other languages", "fr, ja", "en", "Sign in with a passkey"},
		{"malformed", "de-;;;q=x", "en", "Sign in with a passkey"},
		{"oversized", strings.Repeat("de,", 200), "en", "Sign in with a passkey"},
	} {
		r := e.request("GET", "/", nil, map[string]string{"Accept-Language": tc.header})
		page := string(r.raw)
		if r.status != 200 || !strings.Contains(page, `<html lang="`+tc.lang+`">`) || !strings.Contains(page, tc.text) {
			t.Errorf("%s: %d, want lang %s with %q", tc.name, r.status, tc.lang, tc.text)
		}
		if r.header.Get("Content-Language") != tc.lang || !strings.Contains(r.header.Get("Vary"), "Accept-Language") {
			t.Errorf("%s: Content-Language %q, Vary %q", tc.name, r.header.Get("Content-Language"), r.header.Get("Vary"))
		}
		if (r.header.Get("ETag") == en.header.Get("ETag")) != (tc.lang == "en") {
			t.Errorf("%s: ETag %s against English %s", tc.name, r.header.Get("ETag"), en.header.Get("ETag"))
		}
	}
	de := e.request("GET", "/account", nil, map[string]string{"Accept-Language": "de"})
	page := string(de.raw)
	if !strings.Contains(page, `id="latch-messages"`) || !strings.Contains(page, "Apps mit Zugriff") || strings.Contains(page, ">Apps with access<") {
		t.Errorf("German account page: %s", page)
	}
	if strings.Contains(string(en.raw), "latch-messages") {
		t.Error("the English page carries a message block")
	}
	// A German ETag is not the English one's: If-None-Match of one is no 304 for the other.
	if r := e.request("GET", "/", nil, map[string]string{"Accept-Language": "de", "If-None-Match": en.header.Get("ETag")}); r.status != 200 {
		t.Errorf("German page with the English ETag: %d", r.status)
	}

	// The provider's sign-in page: ui_locales first, then Accept-Language.
	for _, tc := range []struct {
		uiLocales, header, lang string
	}{
		{"de", "", "de"},
		{"fr de-AT", "en", "de"},
		{"en", "de", "en"},
		{"", "de", "de"},
		{"xx-invalid-!!", "de", "de"},
	} {
		extra := url.Values{}
		if tc.uiLocales != "" {
			extra.Set("ui_locales", tc.uiLocales)
		}
		f := app.newFlow(extra)
		r := e.request("GET", "/authorize?"+f.params.Encode(), nil, map[string]string{"Accept-Language": tc.header})
		want := map[string]string{"de": "Mit Passkey anmelden", "en": "Sign in with a passkey"}[tc.lang]
		if r.status != 200 || !strings.Contains(string(r.raw), `<html lang="`+tc.lang+`">`) || !strings.Contains(string(r.raw), want) {
			t.Errorf("ui_locales %q, Accept-Language %q: %d, want %s", tc.uiLocales, tc.header, r.status, tc.lang)
		}
	}
	f := app.newFlow(url.Values{"ui_locales": {strings.Repeat("de ", 100)}})
	if r := e.authorize(nil, f); r.status != 303 || !strings.Contains(r.header.Get("Location"), "error=invalid_request") {
		t.Errorf("oversized ui_locales: %d %s", r.status, r.header.Get("Location"))
	}
}

func TestBrandNamesColoursAndShowsTheService(t *testing.T) {
	logo := []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>`)
	e := newEnv(t, func(c *Config) { c.Brand = Brand{Name: "Acme ID", Color: "#ffcc00", Logo: logo} })
	for _, lang := range []string{"en", "de"} {
		page := string(e.request("GET", "/", nil, map[string]string{"Accept-Language": lang}).raw)
		for _, want := range []string{"<title>Acme ID – ", "<h1>Acme ID</h1>", `<link rel="stylesheet" href="/brand.css">`, `<img class="brand-logo" src="/brand-logo" alt=""`, `"brand":"Acme ID"`} {
			if !strings.Contains(page, want) {
				t.Errorf("%s page lacks %q", lang, want)
			}
		}
		if strings.Contains(page, ">Latch<") {
			t.Errorf("%s page still says Latch", lang)
		}
	}
	css := e.request("GET", "/brand.css", nil, nil)
	// Yellow does not read on white: the light scheme gets it darker, the dark one as it is.
	light, dark, _ := strings.Cut(string(css.raw), "@media (prefers-color-scheme: dark)")
	if css.status != 200 || strings.Contains(light, "#ffcc00") || !strings.Contains(dark, "--accent: #ffcc00; --on-accent: #000000;") || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") {
		t.Errorf("brand.css: %d %s", css.status, css.raw)
	}
	for _, c := range []string{"#ffcc00", "#0b6e4f", "#000", "#fff", "#2854c5"} {
		for _, bg := range []string{"#ffffff", "#f6f7f9"} {
			if got := readableOn(parseHex(c), [3]float64{}, parseHex(bg)); contrast(got, parseHex(bg)) < 4.5 {
				t.Errorf("%s on %s: %s is not readable", c, bg, hexOf(got))
			}
		}
		if got := readableOn(parseHex(c), [3]float64{255, 255, 255}, parseHex("#16181c")); contrast(got, parseHex("#16181c")) < 4.5 {
			t.Errorf("%s on dark: %s is not readable", c, hexOf(got))
		}
	}
	r := e.request("GET", "/brand-logo", nil, nil)
	if r.status != 200 || r.header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(r.header.Get("Content-Security-Policy"), "sandbox") || string(r.raw) != string(logo) {
		t.Errorf("brand-logo: %d %q %q", r.status, r.header.Get("Content-Type"), r.header.Get("Content-Security-Policy"))
	}
	if r := e.request("GET", "/brand-logo", nil, map[string]string{"If-None-Match": r.header.Get("ETag")}); r.status != 304 {
		t.Errorf("brand-logo revalidation: %d", r.status)
	}
	if onColor("#2854c5") != "#ffffff" || onColor("#fc0") != "#000000" {
		t.Error("onColor picks the less readable text colour")
	}

	plain := newEnv(t)
	expectError(t, plain.request("GET", "/brand-logo", nil, nil), 404, "not_found")
	if r := plain.request("GET", "/brand.css", nil, nil); r.status != 200 || strings.Contains(string(r.raw), "--accent") {
		t.Errorf("brand.css without a colour: %d %s", r.status, r.raw)
	}
	if strings.Contains(string(plain.request("GET", "/", nil, nil).raw), "brand") {
		t.Error("a page without a brand names one")
	}

	for name, b := range map[string]Brand{
		"a colour name":      {Color: "red"},
		"a long colour":      {Color: "#1234567"},
		"a control in name":  {Name: "Acme\nID"},
		"a long name":        {Name: strings.Repeat("a", 65)},
		"a logo that is not": {Logo: []byte("GIF89a not allowed here")},
		"a huge logo":        {Logo: append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, maxBrandLogo)...)},
	} {
		cfg := Config{Issuer: testIssuer, RPID: "localhost", Brand: b}.Defaults()
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if typ, err := BrandLogoType(append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...)); err != nil || typ != "image/png" {
		t.Errorf("PNG logo: %q %v", typ, err)
	}
}
