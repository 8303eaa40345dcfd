// Command latch-aaguids refreshes the embedded copy of the community list
// of passkey provider AAGUIDs (webauthn/aaguids) from its upstream:
//
//	go run ./cmd/latch-aaguids            # or: make aaguids
//
// It downloads the list, checks it with the same parser the service uses
// (refusing an empty list, which is how upstream retires it), and only then
// replaces aaguid.json and its date. Review the diff before committing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/latchid/latch/webauthn/aaguids"
)

const upstream = "https://raw.githubusercontent.com/passkeydeveloper/passkey-authenticator-aaguids/main/aaguid.json"

func main() {
	url := flag.String("url", upstream, "where to download aaguid.json from")
	dir := flag.String("dir", "webauthn/aaguids", "directory holding aaguid.json and aaguid.date")
	flag.Parse()
	n, err := refresh(context.Background(), http.DefaultClient, *url, *dir, time.Now())
	if err != nil {
		fmt.Fprintln(os.Stderr, "latch-aaguids:", err)
		os.Exit(1)
	}
	fmt.Printf("%d providers written to %s\n", n, filepath.Join(*dir, "aaguid.json"))
}

// refresh downloads the list, validates it and writes it with today's date.
// Nothing is written unless the whole download parses.
func refresh(ctx context.Context, client *http.Client, url, dir string, now time.Time) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", url, res.Status)
	}
	doc, err := io.ReadAll(io.LimitReader(res.Body, 8<<20+1))
	if err != nil {
		return 0, err
	}
	list, err := aaguids.Parse(doc)
	if err != nil {
		return 0, err
	}
	if err := writeAtomic(filepath.Join(dir, "aaguid.json"), doc); err != nil {
		return 0, err
	}
	if err := writeAtomic(filepath.Join(dir, "aaguid.date"), []byte(now.UTC().Format(time.DateOnly)+"\n")); err != nil {
		return 0, errors.Join(err, errors.New("aaguid.json was replaced but its date was not"))
	}
	return len(list), nil
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
