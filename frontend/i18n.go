package frontend

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// The pages' languages. Each is one JSON file in locales/, named by its
// language tag ("de.json"), mapping each English text of the pages (the
// text of an element, an alt, aria-label, title or placeholder attribute,
// or a message the pages' scripts show, as written in the code) to its
// translation. English is the pages' own text, so en.json lists every
// text with itself: it is the list a translator copies to start a new
// language. Texts with {name} keep the placeholder where the language puts
// it. A text a catalogue lacks stays English (the tests require every one).

//go:embed locales/*.json
var locales embed.FS

// Catalogue is one language's translations, keyed by the English text.
type Catalogue map[string]string

// Languages returns the language tags there are catalogues for, English
// first, then in the order of their tags.
func Languages() []string {
	entries, err := fs.ReadDir(locales, "locales")
	if err != nil {
		panic("frontend: " + err.Error()) // the embed directive proved the directory exists
	}
	langs := []string{"en"}
	for _, e := range entries {
		if tag := strings.TrimSuffix(e.Name(), ".json"); tag != "en" && path.Ext(e.Name()) == ".json" {
			langs = append(langs, tag)
		}
	}
	slices.Sort(langs[1:])
	return langs
}

// Messages returns the catalogue of lang, or an error for a language with
// none or a malformed file (a build mistake the package's tests catch).
func Messages(lang string) (Catalogue, error) {
	raw, err := fs.ReadFile(locales, "locales/"+lang+".json")
	if err != nil {
		return nil, fmt.Errorf("frontend: no catalogue for %q", lang)
	}
	var c Catalogue
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("frontend: locales/%s.json: %w", lang, err)
	}
	return c, nil
}

// T returns the translation of text, or text itself when c has none.
func (c Catalogue) T(text string) string {
	if t, ok := c[text]; ok && t != "" {
		return t
	}
	return text
}

// translatableAttr matches the attributes whose values people read.
var translatableAttr = regexp.MustCompile(`\s(alt|aria-label|title|placeholder)="([^"]*)"`)

// Texts returns the translatable texts of an HTML page or template, in
// order, each once: what a catalogue must cover.
func Texts(src []byte) []string {
	var out []string
	walkHTML(src, func(text string) string {
		if !slices.Contains(out, text) {
			out = append(out, text)
		}
		return text
	})
	return out
}

// TranslateHTML returns src (an HTML page, or the source of an
// html/template) with each translatable text replaced by its translation
// in c, and the word "Latch" in texts replaced by brand when that is not
// empty. The pages are Latch's own and well-formed; this is not a
// parser for HTML from anywhere else. Template actions ({{...}}) stay as
// they are, so a translation may move them.
func TranslateHTML(src []byte, c Catalogue, brand string) []byte {
	return walkHTML(src, func(text string) string {
		out := c.T(text)
		if brand != "" && brand != "Latch" {
			out = latchWord.ReplaceAllLiteralString(out, brand)
		}
		return out
	})
}

var latchWord = regexp.MustCompile(`\bLatch\b`)

// walkHTML rebuilds src, passing every translatable text (an element's
// text, unescaped and trimmed, or a translatable attribute's value) through
// fn and writing back its answer escaped, with the text's surrounding
// whitespace kept. Scripts, styles and code are left alone.
func walkHTML(src []byte, fn func(string) string) []byte {
	var b bytes.Buffer
	skip := "" // the element whose content is not text for people
	for len(src) > 0 {
		lt := bytes.IndexByte(src, '<')
		if lt < 0 {
			lt = len(src)
		}
		text := src[:lt]
		if skip == "" {
			b.Write(translateText(text, fn))
		} else {
			b.Write(text)
		}
		src = src[lt:]
		if len(src) == 0 {
			break
		}
		gt := bytes.IndexByte(src, '>')
		if gt < 0 {
			b.Write(src)
			break
		}
		tag := src[:gt+1]
		src = src[gt+1:]
		name := tagName(tag)
		switch {
		case skip != "" && name == "/"+skip:
			skip = ""
		case skip == "" && (name == "script" || name == "style" || name == "code"):
			skip = name
		}
		if skip != "" || bytes.HasPrefix(tag, []byte("<!")) {
			b.Write(tag)
			continue
		}
		b.Write(translatableAttr.ReplaceAllFunc(tag, func(m []byte) []byte {
			parts := translatableAttr.FindSubmatch(m)
			value := html.UnescapeString(string(parts[2]))
			if !readable(value) {
				return m
			}
			return []byte(fmt.Sprintf(` %s="%s"`, parts[1], html.EscapeString(fn(value))))
		}))
	}
	return b.Bytes()
}

func tagName(tag []byte) string {
	name := bytes.TrimPrefix(tag, []byte("<"))
	end := bytes.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || r == '>' || r == '{' })
	if end >= 0 {
		name = name[:end]
	}
	return strings.ToLower(strings.TrimSuffix(string(name), "/"))
}

func translateText(raw []byte, fn func(string) string) []byte {
	text := string(raw)
	trimmed := strings.TrimSpace(text)
	if !readable(trimmed) {
		return raw
	}
	lead := text[:strings.Index(text, trimmed)]
	trail := text[len(lead)+len(trimmed):]
	out := fn(html.UnescapeString(trimmed))
	if out != "" && strings.ContainsAny(out[:1], ",.;:") {
		lead = "" // a translation that goes on from the element before ("…</a>, um …")
	}
	return []byte(lead + html.EscapeString(out) + trail)
}

// templateAction matches an html/template action.
var templateAction = regexp.MustCompile(`\{\{.*?\}\}`)

// readable reports whether text has letters outside template actions.
func readable(text string) bool {
	return strings.IndexFunc(templateAction.ReplaceAllString(text, ""), unicode.IsLetter) >= 0
}

//go:embed templates/provider.html
var providerTemplates string

// ProviderTemplates returns the source of the provider's pages (sign-in,
// consent, form_post, messages) as html/template definitions, in English.
func ProviderTemplates() string { return providerTemplates }

// ScriptTexts returns the texts the pages' scripts pass to t() in
// frontend/assets/*.js: what a catalogue must cover besides the pages.
func ScriptTexts() []string {
	var out []string
	_ = fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".js" {
			return err
		}
		src, err := fs.ReadFile(assets, p)
		if err != nil {
			return err
		}
		for _, m := range scriptText.FindAllSubmatch(src, -1) {
			var text string
			if json.Unmarshal(m[1], &text) == nil && !slices.Contains(out, text) {
				out = append(out, text)
			}
		}
		return nil
	})
	return out
}

// scriptText matches t("...") with a plain double-quoted literal.
var scriptText = regexp.MustCompile(`\bt\(("(?:[^"\\\n]|\\.)*")`)
