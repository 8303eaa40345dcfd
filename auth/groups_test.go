package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchid/latch/store"
)

func tokenGroups(t *testing.T, access string) []string {
	t.Helper()
	raw, _ := json.Marshal(jwtPart(t, access, 1)["groups"])
	var groups []string
	_ = json.Unmarshal(raw, &groups)
	return groups
}

func TestGroupsReachTokensUserinfoAndCredentials(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	if g := tokenGroups(t, alice.access); g != nil {
		t.Fatalf("an account in no groups got %v", g)
	}
	if r := alice.call("GET", "/userinfo", nil); r.status != 200 || !strings.Contains(string(r.raw), `"groups":[]`) {
		t.Fatalf("userinfo without groups: %s", r.raw)
	}

	// Offline, as an operator would before a start.
	e.whileStopped(func(a *Admin) error {
		for _, g := range []string{"staff", "admins", "staff"} {
			if _, err := a.ChangeGroups(context.Background(), GroupChange{Username: "alice", Action: "add", Group: g}); err != nil {
				return err
			}
		}
		return nil
	})
	// The next token issued, a refresh, carries them.
	if r := alice.refreshTokens(); r.status != 200 {
		t.Fatalf("refresh: %d %s", r.status, r.raw)
	}
	if g := tokenGroups(t, alice.access); !slices.Equal(g, []string{"admins", "staff"}) {
		t.Fatalf("token groups after adding: %v", g)
	}
	if r := alice.call("GET", "/userinfo", nil); !strings.Contains(string(r.raw), `"groups":["admins","staff"]`) {
		t.Fatalf("userinfo: %s", r.raw)
	}

	// Through the running server: userinfo sees it at once (the cached
	// profile is dropped), the next token too.
	groups, err := e.srv.ChangeGroups(context.Background(), GroupChange{Username: "ALICE", Action: "remove", Group: "admins"})
	if err != nil || !slices.Equal(groups, []string{"staff"}) {
		t.Fatalf("remove: %v %v", groups, err)
	}
	if r := alice.call("GET", "/userinfo", nil); !strings.Contains(string(r.raw), `"groups":["staff"]`) {
		t.Fatalf("userinfo after remove: %s", r.raw)
	}
	alice.refreshTokens()
	if g := tokenGroups(t, alice.access); !slices.Equal(g, []string{"staff"}) {
		t.Fatalf("token groups after removing: %v", g)
	}

	// The SD-JWT credential offers groups as a disclosure of its own.
	r := alice.call("POST", "/credentials/sd-jwt", map[string]any{})
	cred := r.str("credential")
	if r.status != 200 || strings.Count(cred, "~") != 7 {
		t.Fatalf("issue: %d %s", r.status, r.raw)
	}
	if _, ok := jwtPart(t, strings.SplitN(cred, "~", 2)[0], 1)["groups"]; ok {
		t.Fatal("groups are in the clear")
	}
	pres := present(t, alice.key, cred, []string{"groups"}, "https://rp.example", "n-1", e.clock.Now())
	v := e.request("POST", "/credentials/verify", map[string]any{"presentation": pres, "aud": "https://rp.example", "nonce": "n-1"}, nil)
	claims, _ := v.body["claims"].(map[string]any)
	if v.status != 200 || claims["username"] != nil {
		t.Fatalf("verify: %d %s", v.status, v.raw)
	}
	if got, _ := json.Marshal(claims["groups"]); string(got) != `["staff"]` {
		t.Fatalf("disclosed groups: %s", got)
	}

	// Each change is audited; listing and repeating change nothing.
	var types []string
	_ = e.srv.db.View(context.Background(), func(tx store.Tx) error {
		return tx.ScanAudit(func(ev *store.AuditEvent) error {
			if strings.HasPrefix(ev.Type, "group_") {
				types = append(types, ev.Type+":"+ev.Detail["group"])
			}
			return nil
		})
	})
	if strings.Join(types, " ") != "group_added:staff group_added:admins group_removed:admins" {
		t.Fatalf("audit: %v", types)
	}
}

func TestGroupChangesAreValidated(t *testing.T) {
	e := newEnv(t)
	e.newUser("bob", false).signUp()
	ctx := context.Background()
	for _, c := range []GroupChange{
		{Username: "bob", Action: "add", Group: ""},
		{Username: "bob", Action: "add", Group: "two words"},
		{Username: "bob", Action: "add", Group: "tab\there"},
		{Username: "bob", Action: "add", Group: strings.Repeat("g", 65)},
		{Username: "bob", Action: "rename", Group: "x"},
	} {
		if _, err := e.srv.ChangeGroups(ctx, c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := e.srv.ChangeGroups(ctx, GroupChange{Username: "nobody", Action: "add", Group: "x"}); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Errorf("unknown user: %v", err)
	}
	for i := range maxGroups {
		if _, err := e.srv.ChangeGroups(ctx, GroupChange{Username: "bob", Action: "add", Group: "g" + strings.Repeat("x", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.srv.ChangeGroups(ctx, GroupChange{Username: "bob", Action: "add", Group: "one-too-many"}); err == nil {
		t.Error("more than maxGroups accepted")
	}
	if g, err := e.srv.ChangeGroups(ctx, GroupChange{Username: "bob", Action: "list"}); err != nil || len(g) != maxGroups {
		t.Errorf("list: %d %v", len(g), err)
	}
}

func TestGroupsReachApplicationsOnlyWithTheGroupsScope(t *testing.T) {
	e := newEnv(t)
	app := e.newRP(ClientOptions{ID: "web", FirstParty: true})
	dave := e.newUser("dave", true)
	dave.signUp()
	if _, err := e.srv.ChangeGroups(context.Background(), GroupChange{Username: "dave", Action: "add", Group: "editors"}); err != nil {
		t.Fatal(err)
	}
	for _, scope := range []string{"openid profile", "openid groups"} {
		b := &browser{}
		f := app.newFlow(url.Values{"scope": {scope}})
		tok := app.exchange(e.codeFor(app, dave, b, f), f, nil, nil)
		if tok.status != 200 {
			t.Fatalf("%s: %d %s", scope, tok.status, tok.raw)
		}
		granted := strings.Contains(scope, "groups")
		idGroups, _ := json.Marshal(jwtPart(t, tok.str("id_token"), 1)["groups"])
		ui := (&user{e: e, access: tok.str("access_token")}).call("GET", "/userinfo", nil)
		want, wantAccess := "null", "[]"
		if granted {
			want, wantAccess = `["editors"]`, "[editors]"
		}
		if string(idGroups) != want || fmt.Sprint(tokenGroups(t, tok.str("access_token"))) != wantAccess {
			t.Errorf("%s: ID token groups %s, access token groups %v", scope, idGroups, tokenGroups(t, tok.str("access_token")))
		}
		if got := strings.Contains(string(ui.raw), `"groups":["editors"]`); got != granted {
			t.Errorf("%s: userinfo %s", scope, ui.raw)
		}
	}
	// The discovery document offers the scope and the claim.
	md := e.request("GET", "/.well-known/openid-configuration", nil, nil)
	if !strings.Contains(string(md.raw), `"groups"`) {
		t.Errorf("discovery: %s", md.raw)
	}
}
