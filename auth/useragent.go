package auth

import "strings"

// describeDevice turns a User-Agent into what a person recognises in a
// list of their sessions: "Chrome on macOS", "Safari on iPhone", "Firefox
// on Android". It knows the browsers and systems people sign in from and
// returns "" for anything else (curl, an app's own HTTP client), where the
// page shows the raw User-Agent instead. The order of the checks matters:
// every Chromium browser says "Chrome" and "Safari" too, and iPadOS claims
// to be a Mac.
func describeDevice(ua string) string {
	browser, system := deviceParts(ua)
	if system == "" {
		return ""
	}
	return browser + " on " + system
}

// deviceParts are the browser and the system describeDevice names, for a
// page to put together in its own language: both "" when it names none,
// and browser "App" for an iOS web view, which names no browser.
func deviceParts(ua string) (browser, system string) {
	if ua == "" || len(ua) > 1024 {
		return "", ""
	}
	browser = firstMatch(ua, []match{
		{"EdgA/", "Edge"}, {"EdgiOS/", "Edge"}, {"Edg/", "Edge"},
		{"OPR/", "Opera"}, {"OPiOS/", "Opera"},
		{"SamsungBrowser/", "Samsung Internet"},
		{"Vivaldi/", "Vivaldi"},
		{"YaBrowser/", "Yandex Browser"},
		{"FxiOS/", "Firefox"}, {"Firefox/", "Firefox"},
		{"CriOS/", "Chrome"}, {"HeadlessChrome/", "Chrome"}, {"Chromium/", "Chromium"}, {"Chrome/", "Chrome"},
		{"Safari/", "Safari"},
	})
	system = firstMatch(ua, []match{
		{"iPhone", "iPhone"}, {"iPad", "iPad"}, {"iPod", "iPod"},
		{"Android", "Android"},
		{"CrOS", "ChromeOS"},
		{"Windows", "Windows"},
		{"Macintosh", "macOS"}, {"Mac OS X", "macOS"},
		{"Linux", "Linux"},
	})
	switch {
	case browser != "" && system != "":
		return browser, system
	case system != "" && strings.Contains(ua, "Mobile/"):
		return "App", system // an iOS web view: no browser token
	}
	return "", ""
}

type match struct{ token, name string }

func firstMatch(ua string, list []match) string {
	for _, m := range list {
		if strings.Contains(ua, m.token) {
			return m.name
		}
	}
	return ""
}
