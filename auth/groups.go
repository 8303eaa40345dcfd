package auth

import (
	"context"
	"net/http"
	"slices"
	"time"
	"unicode"

	"github.com/latchid/latch/store"
)

// Groups are names an operator gives accounts (`latch users groups NAME add
// GROUP`) for apps to authorise with: they go into access tokens, userinfo
// and SD-JWT credentials as "groups". Latch attaches no meaning to them.

const (
	// scopeGroups is the scope under which a client receives groups.
	scopeGroups = "groups"
	// maxGroups bounds an account's groups, and so the size of its tokens.
	maxGroups = 50
	// maxGroupLen bounds one group name, in bytes.
	maxGroupLen = 64
)

// checkGroupName accepts 1 to 64 bytes of printable, non-space characters:
// a group name goes into tokens and must read the same everywhere.
func checkGroupName(name string) error {
	if name == "" || len(name) > maxGroupLen {
		return badRequest("a group name must be 1 to %d bytes", maxGroupLen)
	}
	for _, r := range name {
		if r == unicode.ReplacementChar || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return badRequest("group name %q may not contain spaces or control characters", truncate(name, maxGroupLen))
		}
	}
	return nil
}

// grantsGroups reports whether a token of this client and scope carries the
// account's groups: when the scope includes "groups", and always for the
// service's own first-party client (whose sessions predate the scope).
func grantsGroups(clientID, scope string) bool {
	return clientID == defaultClientID || scopeHas(scope, scopeGroups)
}

// GroupChange is one operator command on an account's groups.
type GroupChange struct {
	Username string `json:"username"`
	// Action is "add", "remove" or "list".
	Action string `json:"action"`
	Group  string `json:"group,omitempty"`
}

// changeGroups applies c and returns the account's id and groups after it.
// Adding a group the account has, or removing one it lacks, changes nothing
// and is not an error (scripts may repeat themselves).
func changeGroups(ctx context.Context, db store.Store, c GroupChange, now time.Time) (userID string, groups []string, err error) {
	if c.Action != "list" {
		if c.Action != "add" && c.Action != "remove" {
			return "", nil, badRequest("action %q is not add, remove or list", truncate(c.Action, 16))
		}
		if err := checkGroupName(c.Group); err != nil {
			return "", nil, err
		}
	}
	update := db.Update
	if c.Action == "list" {
		update = db.View
	}
	err = update(ctx, func(tx store.Tx) error {
		u, err := userNamed(tx, c.Username)
		if err != nil {
			return err
		}
		userID, groups = u.ID, slices.Clone(u.Groups)
		has := slices.Contains(groups, c.Group)
		switch {
		case c.Action == "list", c.Action == "add" && has, c.Action == "remove" && !has:
			return nil
		case c.Action == "add":
			if len(groups) >= maxGroups {
				return Errorf(http.StatusConflict, CodeInvalidRequest, "an account may be in at most %d groups", maxGroups)
			}
			groups = append(groups, c.Group)
			slices.Sort(groups)
		default:
			groups = slices.DeleteFunc(groups, func(g string) bool { return g == c.Group })
		}
		u.Groups = groups
		if err := tx.PutUser(u); err != nil {
			return err
		}
		typ := "group_added"
		if c.Action == "remove" {
			typ = "group_removed"
		}
		return tx.AppendAudit(&store.AuditEvent{Time: now, Type: typ, UserID: u.ID, Detail: map[string]string{"group": c.Group}})
	})
	if groups == nil {
		groups = []string{}
	}
	return userID, groups, err
}

// ChangeGroups changes or lists an account's groups with the server
// stopped.
func (a *Admin) ChangeGroups(ctx context.Context, c GroupChange) ([]string, error) {
	_, groups, err := changeGroups(ctx, a.db, c, time.Now())
	return groups, err
}

// ChangeGroups changes or lists an account's groups on the running server;
// the next token issued carries the change.
func (s *Server) ChangeGroups(ctx context.Context, c GroupChange) ([]string, error) {
	userID, groups, err := changeGroups(ctx, s.db, c, s.now())
	if err == nil && c.Action != "list" {
		s.users.forget(userID)
	}
	return groups, err
}

// ChangeGroups changes or lists an account's groups through the running
// server.
func (a *AdminClient) ChangeGroups(ctx context.Context, c GroupChange) ([]string, error) {
	var out []string
	return out, a.call(ctx, "POST", "/v1/users/groups", c, &out)
}
