// Command latch runs the Latch passwordless identity service and its
// administration commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/latchid/latch/auth"
	"github.com/latchid/latch/store"
)

const usage = `latch — passwordless identity service

Usage:
  latch serve [flags]            run the service
  latch clients add ID           create an introspection client; prints its secret
  latch clients add ID --redirect-uri URI [--redirect-uri URI…] [--public] [--first-party]
        [--post-logout-redirect-uri URI…] [--web-origin ORIGIN…] [--jwks-uri URI | --jwks FILE]
        [--id-token-alg RS256] [--backchannel-logout-uri URI]
                                 register an OpenID Connect client; a confidential one's
                                 secret is printed (none for --public or client keys)
  latch clients list             list clients
  latch clients show ID          show a client's registration
  latch clients remove ID        remove an introspection client
  latch clients rotate-secret ID give a client a new secret; prints it
  latch keys list                list signing keys
  latch keys rotate [--alg A]    create a new signing key and retire the current one
  latch users list               list accounts
  latch users disable NAME       disable an account and end its sessions
  latch users enable NAME        re-enable an account
  latch users add NAME --passkey-out FILE
                                 create an account with a software passkey (for test suites)
  latch users delete NAME --yes  delete an account and everything kept under it
  latch users groups NAME add|remove GROUP
                                 put an account in a group, or take it out
  latch users groups NAME list   list an account's groups
  latch users recover NAME       print a single-use link (valid 15 minutes) that lets the
                                 account's owner register a new passkey and sign in
  latch backup FILE              write a consistent copy of the store
  latch restore FILE [--force]   install a backup as the store (the server stopped)
  latch migrate --from DIR --to postgres://…
                                 copy a data directory's store into an empty PostgreSQL
                                 database for several nodes, and check the copy
  latch audit list [--user NAME] [--since T]
                                 print the audit log (T: RFC 3339 time or a duration, e.g. 24h)
  latch audit verify             check the audit log's hash chain; fails at the first break

Every flag can also be set as LATCH_<FLAG> (e.g. LATCH_ISSUER, LATCH_DPOP_NONCE).
Run "latch serve -h" for the flags.
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "latch:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(rest, stderr)
	case "clients", "keys", "users", "audit":
		if len(rest) == 0 {
			return fmt.Errorf("%s needs a subcommand; see latch help", cmd)
		}
		return admin(cmd+" "+rest[0], rest[1:], stdout, stderr)
	case "backup":
		return admin("backup", rest, stdout, stderr)
	case "restore":
		return restore(rest, stdout, stderr)
	case "migrate":
		return migrate(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// configFlags registers the service's flags on fs, with defaults taken from
// LATCH_* environment variables, and returns a function that builds the
// Config once fs has been parsed.
func configFlags(fs *flag.FlagSet) func() (auth.Config, error) {
	envName := func(flag string) string { return "LATCH_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_")) }
	env := func(name, def string) string {
		if v, ok := os.LookupEnv(envName(name)); ok {
			return v
		}
		return def
	}
	str := func(name, def, help string) *string { return fs.String(name, env(name, def), help) }
	addr := str("addr", "127.0.0.1:8080", "listen address")
	data := str("data", "./latch-data", "data directory (latch.db, master.key)")
	issuer := str("issuer", "http://localhost:8080", "public base URL: token issuer, DPoP htu base, default WebAuthn origin")
	rpID := str("rp-id", "localhost", "WebAuthn relying party ID")
	rpName := str("rp-name", "Latch", "relying party name shown by authenticators")
	origins := str("origins", "", "comma-separated allowed WebAuthn origins (default: the issuer's origin)")
	audience := str("audience", "", "aud of access tokens (default: the issuer)")
	related := str("related-origins", "", "comma-separated other sites' origins allowed to use the RP ID's passkeys, served at /.well-known/webauthn")
	androidApps := str("android-app", "", "comma-separated PACKAGE:SHA256_FINGERPRINT of Android apps allowed to use the passkeys (serves /.well-known/assetlinks.json)")
	appleApps := str("apple-app", "", "comma-separated TEAMID.BUNDLEID of Apple apps allowed to use the passkeys (serves /.well-known/apple-app-site-association)")
	accessTTL := str("access-ttl", "10m", "access token lifetime, 1s to 24h (below 1m only for test suites)")
	refreshTTL := str("refresh-ttl", "720h", "refresh token (login session) lifetime")
	credTTL := str("credential-ttl", "24h", "SD-JWT credential lifetime")
	statusTTL := str("status-list-ttl", "5m", "ttl and cache lifetime of the served Token Status Lists, 10s to 1h: a revoked credential shows on its list within it")
	var envErrs []error
	boolean := func(name string, help string) *bool {
		def := false
		if v := env(name, ""); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s: %q is not true or false", envName(name), v))
			}
			def = b
		}
		return fs.Bool(name, def, help)
	}
	dpopNonce := boolean("dpop-nonce", "require DPoP server nonces")
	dpopMaxAge := str("dpop-max-age", "60s", "maximum age of a DPoP proof")
	requireDPoP := boolean("require-dpop", "issue only DPoP-bound tokens")
	requirePAR := boolean("require-par", "accept authorization requests only as pushed authorization requests (RFC 9126)")
	proxies := str("trusted-proxies", "", "comma-separated proxy IPs/CIDRs whose X-Forwarded-For is trusted")
	placeHeaders := str("place-headers", "", "comma-separated headers in which a trusted proxy tells the client's place (e.g. CF-IPCity,CF-IPCountry), shown with its sessions")
	keyAlg := str("key-alg", "ES256", "algorithm of new signing keys: ES256 or EdDSA")
	keyRotation := str("key-rotation", "0", "rotate the signing key automatically at this age (0 = never)")
	beginRate := str("begin-rate", "10", "ceremony begins per second per client address, burst 4 s worth (0 = lift every per-address limit)")
	// --web-origin repeats (or takes a comma-separated list); given at all,
	// it replaces LATCH_WEB_ORIGIN rather than adding to it.
	webOrigins := list(env("web-origin", ""))
	webFromFlags := false
	fs.Func("web-origin", "origin of a web app allowed to call Latch from its pages (CORS); repeat for more", func(v string) error {
		if !webFromFlags {
			webOrigins, webFromFlags = nil, true
		}
		webOrigins = append(webOrigins, list(v)...)
		return nil
	})
	brandName := str("brand-name", "", "the service's name on the pages, in place of Latch")
	brandLogo := str("brand-logo", "", "image file (PNG, JPEG, WebP or SVG, at most 512 KiB) shown at the top of the pages")
	brandColor := str("brand-color", "", "accent colour of the pages, #rgb or #rrggbb")
	postRate := str("post-rate", "20", "other unauthenticated POSTs (finishes, /token, /totp/verify, /credentials/verify, /revoke, failed /introspect) per second per client address and endpoint, burst 4 s worth (0 = no limit)")
	return func() (auth.Config, error) {
		errs := envErrs
		dur := func(name, v string) time.Duration {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("--%s: %q is not a duration (e.g. 10m, 720h)", name, v))
			}
			return d
		}
		perSecond := func(name, v string) float64 {
			rate, err := strconv.ParseFloat(v, 64)
			if err != nil || rate < 0 {
				errs = append(errs, fmt.Errorf("--%s: %q is not a non-negative number", name, v))
			}
			if rate == 0 {
				rate = -1 // off
			}
			return rate
		}
		var android []auth.AndroidApp
		for _, v := range list(*androidApps) {
			app, err := auth.ParseAndroidApp(v)
			if err != nil {
				errs = append(errs, err)
			}
			android = append(android, app)
		}
		brand := auth.Brand{Name: strings.TrimSpace(*brandName), Color: *brandColor}
		if *brandLogo != "" {
			logo, err := readBounded(*brandLogo, 512<<10)
			if err == nil {
				brand.LogoType, err = auth.BrandLogoType(logo)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("--brand-logo: %w", err))
			}
			brand.Logo = logo
		}
		cfg := auth.Config{
			Brand:          brand,
			RelatedOrigins: list(*related), AndroidApps: android, AppleApps: list(*appleApps),
			Addr: *addr, DataDir: *data, Issuer: *issuer, RPID: *rpID, RPName: *rpName,
			Origins: list(*origins), WebOrigins: webOrigins, Audience: *audience, TrustedProxies: list(*proxies), PlaceHeaders: list(*placeHeaders), KeyAlg: *keyAlg,
			AccessTTL: dur("access-ttl", *accessTTL), RefreshTTL: dur("refresh-ttl", *refreshTTL),
			CredentialTTL: dur("credential-ttl", *credTTL), DPoPMaxAge: dur("dpop-max-age", *dpopMaxAge),
			KeyRotation: dur("key-rotation", *keyRotation),
			DPoPNonce:   *dpopNonce, RequireDPoP: *requireDPoP, RequirePAR: *requirePAR,
			BeginRate: perSecond("begin-rate", *beginRate), PostRate: perSecond("post-rate", *postRate),
			StatusListTTL: dur("status-list-ttl", *statusTTL),
		}
		return cfg, errors.Join(errs...)
	}
}

// readBounded reads a file of at most limit bytes.
func readBounded(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d KiB", name, limit>>10)
	}
	return b, nil
}

// multiFlag is a flag that may be repeated; each use adds a value.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, " ") }

func (m *multiFlag) Set(v string) error {
	*m = append(*m, v)
	return nil
}

func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parseInterspersed parses flags wherever they stand among the positional
// arguments (`latch clients add ID --data DIR`) and returns the positionals.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func serve(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	build := configFlags(fs)
	storeFlags := addStoreFlags(fs)
	debugAddr := fs.String("debug-addr", os.Getenv("LATCH_DEBUG_ADDR"), "loopback address for Go's profiler (/debug/pprof/); empty = off")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	cfg, err := build()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	cfg.Logger = log
	if err := storeFlags.open(context.Background(), &cfg); err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		// The live heap is small (caches of tokens, proofs and users), so
		// trading some memory for less garbage-collection CPU is cheap; it
		// measurably lowers CPU per request under load.
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) == runtime.NumCPU() {
		// Two more schedulers than cores. The store's single writer spends
		// most of each commit blocked in fsync; when it returns, Go's
		// scheduler (which has no priorities) would queue it behind every
		// request handler, and all writes wait for it. With spare
		// schedulers it runs at once and the kernel, which favours threads
		// that were asleep, shares the cores. Measured: about 10% more
		// refreshes and sign-ins per second at the same CPU per request.
		// Not under a CPU quota (a container limit lowers the default),
		// where more threads than the quota would only get throttled.
		runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 2)
	}
	srv, err := auth.New(cfg)
	if err != nil {
		return err
	}
	if err := srv.Open(); err != nil {
		srv.Close()
		return err
	}
	log.Info("latch is serving", "addr", srv.Addr(), "issuer", cfg.Defaults().Issuer)
	if *debugAddr != "" {
		stopDebug, err := serveDebug(*debugAddr)
		if err != nil {
			srv.Close()
			return err
		}
		defer stopDebug()
		log.Info("profiler is serving", "addr", *debugAddr)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("shutting down")
	return srv.Close()
}

// operator is what the admin commands use: the running server through its
// admin socket (auth.AdminClient) or, with no server running, the store
// itself (auth.Admin).
type operator interface {
	Users(context.Context) ([]auth.UserSummary, error)
	AddUser(ctx context.Context, username, displayName string) (*auth.PasskeyFile, error)
	SetDisabled(ctx context.Context, username string, disabled bool) error
	DeleteUser(ctx context.Context, username string) error
	ChangeGroups(ctx context.Context, c auth.GroupChange) ([]string, error)
	IssueRecoveryLink(ctx context.Context, username string) (*auth.RecoveryLink, error)
	CreateClient(ctx context.Context, id string) (string, error)
	RegisterClient(ctx context.Context, o auth.ClientOptions) (string, error)
	ShowClient(ctx context.Context, id string) (auth.ClientInfo, error)
	Clients(context.Context) ([]auth.ClientSummary, error)
	DeleteClient(ctx context.Context, id string) error
	RotateClientSecret(ctx context.Context, id string) (string, error)
	Keys(context.Context) ([]auth.KeySummary, error)
	RotateKeys(ctx context.Context, alg string) (auth.KeySummary, error)
	Audit(ctx context.Context, f auth.AuditFilter, fn func(*auth.AuditEntry) error) error
	VerifyAudit(context.Context) (auth.AuditReport, error)
	Backup(path string) error
	Close() error
}

// adminOpenTimeout bounds an admin command's wait for a shared store's
// database.
var adminOpenTimeout = 30 * time.Second

// openOperator reaches the server running on cfg's data directory, or
// else opens its store.
func openOperator(cmd string, cfg auth.Config, sf *storeFlags) (operator, error) {
	c, dialErr := auth.DialAdmin(cfg.DataDir)
	if dialErr == nil {
		return c, nil
	}
	if sf.shared() {
		// A shared store takes the command beside the running nodes. A
		// node waits for its database as long as it takes; an operator's
		// command gives up.
		ctx, cancel := context.WithTimeout(context.Background(), adminOpenTimeout)
		defer cancel()
		if err := sf.open(ctx, &cfg); err != nil {
			return nil, err
		}
		return auth.OpenAdmin(cfg)
	}
	open := auth.OpenAdmin
	switch cmd {
	case "backup", "audit verify":
		open = auth.OpenAdminReadOnly // a copy, or a check, must not change the original
	case "clients add":
		open = auth.OpenAdminCreating // provisioning comes before the first start
	}
	a, err := open(cfg)
	if errors.Is(err, auth.ErrStoreInUse) {
		return nil, fmt.Errorf("%w (%v)", err, dialErr)
	}
	return a, err
}

func admin(cmd string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	build := configFlags(fs)
	storeFlags := addStoreFlags(fs)
	alg := fs.String("alg", "", "algorithm of the new key (keys rotate): ES256 or EdDSA")
	yes := fs.Bool("yes", false, "confirm a command that cannot be undone (users delete)")
	passkeyOut := fs.String("passkey-out", "", "write the new account's software passkey (private key included) to this file, mode 0600 (users add)")
	displayName := fs.String("display-name", "", "display name of the new account, default the username (users add)")
	user := fs.String("user", "", "only the events of this account, by username or id (audit list)")
	since := fs.String("since", "", "only events from this time on: RFC 3339, or a duration back from now such as 24h (audit list)")
	var redirects, postLogout multiFlag
	fs.Var(&redirects, "redirect-uri", "a redirect URI of an OpenID Connect client, exactly as it will be sent (clients add; repeatable)")
	fs.Var(&postLogout, "post-logout-redirect-uri", "where RP-initiated logout may return to (clients add; repeatable)")
	public := fs.Bool("public", false, "a public client: no secret, PKCE only (clients add: SPAs and native apps)")
	firstParty := fs.Bool("first-party", false, "skip the consent page and allow refresh tokens without offline_access (clients add)")
	idTokenAlg := fs.String("id-token-alg", "", "ID token algorithm of the client: RS256 (default: the signing key's, ES256) (clients add)")
	jwksURI := fs.String("jwks-uri", "", "URL of the client's JWK Set for private_key_jwt (clients add)")
	jwksFile := fs.String("jwks", "", "file holding the client's JWK Set for private_key_jwt (clients add)")
	backchannel := fs.String("backchannel-logout-uri", "", "where the client receives logout tokens when a person's session ends: https, or http to a loopback address (clients add)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	cfg, err := build()
	if err != nil {
		return err
	}
	// clients add takes the client's web origins from --web-origin, the
	// serve flag of the same name: only as given on the command line, never
	// from LATCH_WEB_ORIGIN, which is the server's own list.
	var webOrigins []string
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "web-origin" {
			webOrigins = cfg.WebOrigins
		}
	})
	var filter auth.AuditFilter
	if cmd == "audit list" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return err
		}
		filter = auth.AuditFilter{User: *user, Since: t}
	}
	argN := func(n int, what string) error {
		if len(pos) != n {
			return fmt.Errorf("%s: %s", cmd, what)
		}
		return nil
	}
	if cmd == "backup" && storeFlags.shared() {
		// Nothing to connect for: a shared store is backed up with its
		// database's tools.
		return store.ErrNoBackup
	}
	a, err := openOperator(cmd, cfg, storeFlags)
	if err != nil {
		return err
	}
	defer a.Close()
	ctx := context.Background()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	switch cmd {
	case "clients add":
		if err := argN(1, "usage: latch clients add ID"); err != nil {
			return err
		}
		o := auth.ClientOptions{
			ID: pos[0], RedirectURIs: redirects, Public: *public, FirstParty: *firstParty,
			PostLogoutRedirectURIs: postLogout, WebOrigins: webOrigins, IDTokenAlg: *idTokenAlg, JWKSURI: *jwksURI,
			BackchannelLogoutURI: *backchannel,
		}
		if *jwksFile != "" {
			b, err := os.ReadFile(*jwksFile)
			if err != nil {
				return fmt.Errorf("--jwks: %w", err)
			}
			o.JWKS = string(b)
		}
		secret, err := a.RegisterClient(ctx, o)
		if err != nil {
			return err
		}
		if secret != "" {
			fmt.Fprintln(stdout, secret)
		} else {
			fmt.Fprintf(stderr, "%s: registered; it has no secret (public, or authenticates with its keys)\n", pos[0])
		}
	case "clients show":
		if err := argN(1, "usage: latch clients show ID"); err != nil {
			return err
		}
		info, err := a.ShowClient(ctx, pos[0])
		if err != nil {
			return err
		}
		row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
		row("id", info.ID)
		row("kind", info.Kind)
		row("created", info.CreatedAt.UTC().Format(time.RFC3339))
		if info.Kind != "introspection" {
			row("authentication", info.AuthMethod)
			row("first party", strconv.FormatBool(info.FirstParty))
			for _, u := range info.RedirectURIs {
				row("redirect uri", u)
			}
			for _, u := range info.PostLogoutRedirectURIs {
				row("post-logout redirect uri", u)
			}
			for _, u := range info.WebOrigins {
				row("web origin", u)
			}
			if info.IDTokenAlg != "" {
				row("id token alg", info.IDTokenAlg)
			}
			if info.JWKSURI != "" {
				row("jwks uri", info.JWKSURI)
			}
			if info.BackchannelLogoutURI != "" {
				row("backchannel logout uri", info.BackchannelLogoutURI)
			}
		}
	case "clients list":
		clients, err := a.Clients(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(tw, "ID\tCREATED\tSECRET ROTATED\tKIND")
		for _, c := range clients {
			rotated := "never"
			if !c.RotatedAt.IsZero() {
				rotated = c.RotatedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.CreatedAt.UTC().Format(time.RFC3339), rotated, c.Kind)
		}
	case "clients remove":
		if err := argN(1, "usage: latch clients remove ID"); err != nil {
			return err
		}
		if err := a.DeleteClient(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: removed\n", pos[0])
	case "clients rotate-secret":
		if err := argN(1, "usage: latch clients rotate-secret ID"); err != nil {
			return err
		}
		secret, err := a.RotateClientSecret(ctx, pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, secret)
	case "keys list":
		keys, err := a.Keys(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(tw, "KID\tALG\tCREATED\tSTATUS")
		for _, k := range keys {
			status := "active"
			if k.Alg == "RS256" {
				status = "signs the ID tokens of RS256 clients"
			} else if !k.RetiredAt.IsZero() {
				status = "retired, published until " + k.PublishUntil.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Alg, k.CreatedAt.UTC().Format(time.RFC3339), status)
		}
	case "keys rotate":
		k, err := a.RotateKeys(ctx, *alg)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new signing key %s (%s)\n", k.ID, k.Alg)
	case "users list":
		users, err := a.Users(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(tw, "USERNAME\tDISPLAY NAME\tCREATED\tPASSKEYS\tTOTP\tSTATUS")
		for _, u := range users {
			status := "enabled"
			if u.Disabled {
				status = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%t\t%s\n", u.Username, u.DisplayName, u.CreatedAt.UTC().Format(time.RFC3339), u.Passkeys, u.TOTP, status)
		}
	case "users add":
		if err := argN(1, "usage: latch users add NAME --passkey-out FILE"); err != nil {
			return err
		}
		if *passkeyOut == "" {
			return errors.New("users add: --passkey-out FILE is required: the account's only way in is the software passkey written there")
		}
		// Refuse before the account exists rather than lose its key after.
		f, err := os.OpenFile(*passkeyOut, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("users add: %w", err)
		}
		f.Close()
		file, err := a.AddUser(ctx, pos[0], *displayName)
		if err == nil {
			err = auth.WritePasskeyFile(*passkeyOut, file)
		}
		if err != nil {
			os.Remove(*passkeyOut)
			return err
		}
		fmt.Fprintf(stdout, "%s: added, passkey written to %s\n", file.Username, *passkeyOut)
	case "users disable", "users enable":
		if err := argN(1, "usage: latch "+cmd+" NAME"); err != nil {
			return err
		}
		if err := a.SetDisabled(ctx, pos[0], cmd == "users disable"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s\n", pos[0], strings.TrimPrefix(cmd, "users ")+"d")
	case "users recover":
		if err := argN(1, "usage: latch users recover NAME"); err != nil {
			return err
		}
		link, err := a.IssueRecoveryLink(ctx, pos[0])
		if err != nil {
			return err
		}
		// The link alone on stdout, for a script to pass on; the rest is
		// for the operator.
		fmt.Fprintln(stdout, link.URL)
		fmt.Fprintf(stderr, "Give this link to %s only, by a channel you trust: it lets its holder register a new passkey for the account and sign in. It works once, until %s.\n",
			pos[0], link.ExpiresAt.UTC().Format(time.RFC3339))
	case "users delete":
		if err := argN(1, "usage: latch users delete NAME --yes"); err != nil {
			return err
		}
		if !*yes {
			return fmt.Errorf("deleting %s cannot be undone: add --yes to confirm", pos[0])
		}
		if err := a.DeleteUser(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: deleted\n", pos[0])
	case "users groups":
		usage := "usage: latch users groups NAME add|remove GROUP, or latch users groups NAME list"
		if len(pos) < 2 || (pos[1] == "list") != (len(pos) == 2) || len(pos) > 3 {
			return errors.New(usage)
		}
		c := auth.GroupChange{Username: pos[0], Action: pos[1]}
		if len(pos) == 3 {
			c.Group = pos[2]
		}
		groups, err := a.ChangeGroups(ctx, c)
		if err != nil {
			return err
		}
		for _, g := range groups {
			fmt.Fprintln(stdout, g)
		}
	case "backup":
		if err := argN(1, "usage: latch backup FILE"); err != nil {
			return err
		}
		if err := a.Backup(pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "backup written to %s\n", pos[0])
	case "audit list":
		if err := argN(0, "usage: latch audit list [--user NAME] [--since T]"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-6s %-20s  %-22s %-20s %s\n", "SEQ", "TIME", "EVENT", "USER", "DETAILS")
		return a.Audit(ctx, filter, func(e *auth.AuditEntry) error {
			_, err := fmt.Fprintf(stdout, "%-6d %-20s  %-22s %-20s %s\n",
				e.Seq, e.Time.UTC().Format(time.RFC3339), e.Type, auditUser(e), auditDetail(e.Detail))
			return err
		})
	case "audit verify":
		if err := argN(0, "usage: latch audit verify"); err != nil {
			return err
		}
		r, err := a.VerifyAudit(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d events\n", r.Events)
		if r.Unchained > 0 {
			fmt.Fprintf(stdout, "%d events written before the chain began are not covered\n", r.Unchained)
		}
		if r.Problem != "" {
			return fmt.Errorf("audit log broken at event %d: %s", r.BrokenAt, r.Problem)
		}
		if r.Head > 0 {
			fmt.Fprintf(stdout, "chain intact from event %d to %d; head MAC %s (keep it elsewhere to compare later)\n", r.Genesis, r.Head, r.HeadMAC)
		}
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
	return nil
}

// parseSince reads --since: an RFC 3339 time, or a duration before now.
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("--since: %q is neither an RFC 3339 time (2026-01-02T15:04:05Z) nor a duration (24h)", v)
	}
	return now.Add(-d), nil
}

// auditUser names an event's account: its username, or its id once the
// account is gone.
func auditUser(e *auth.AuditEntry) string {
	switch {
	case e.Username != "":
		return e.Username
	case e.UserID != "":
		return e.UserID
	}
	return "-"
}

// auditDetail prints an event's detail as key=value pairs in key order,
// quoting values that would not read as one word.
func auditDetail(d map[string]string) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := d[k]
		if v == "" || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == '"' || r == '=' || r > '~' }) {
			v = strconv.Quote(v)
		}
		parts[i] = k + "=" + v
	}
	return strings.Join(parts, " ")
}

// restore installs a backup as the store of --data, with no server
// running on it.
func restore(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	build := configFlags(fs)
	force := fs.Bool("force", false, "replace an existing store (it is kept beside the new one)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("restore: usage: latch restore FILE [--force]")
	}
	cfg, err := build()
	if err != nil {
		return err
	}
	kept, err := auth.Restore(context.Background(), cfg, pos[0], *force)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s restored into %s\n", pos[0], cfg.Defaults().DataDir)
	if kept != "" {
		fmt.Fprintf(stdout, "the replaced store is kept as %s\n", kept)
	}
	return nil
}

// serveDebug serves Go's profiler on a loopback address only: profiles
// reveal timing and memory contents, so they must not face the network.
func serveDebug(addr string) (stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--debug-addr: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("--debug-addr: %q is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--debug-addr: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("--debug-addr: %q is not a loopback address", addr)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	return func() { hs.Close() }, nil
}
