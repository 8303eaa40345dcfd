// Package fiberadapter protects Fiber routes with a resource.Guard. It is
// a package of its own so that APIs on net/http do not pull in Fiber.
package fiberadapter

import (
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/auth/resource"
)

// localsKey is where Handler leaves the principal in the Fiber context.
const localsKey = "latch.resource.principal"

// Handler returns a Fiber handler that admits a request only with a valid
// access token and, for a bound token, a valid DPoP proof, then calls the
// next handler; that handler finds the caller with Principal(c). Refusals
// are answered with Latch's error body and challenges. Mount CORS
// handling before it: preflights carry no credentials.
func Handler(g *resource.Guard) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if n := g.Nonce(); n != "" {
			c.Set("DPoP-Nonce", n)
		}
		p, err := g.Authenticate(c.UserContext(), resource.Request{
			// Fiber's strings point into buffers reused after the
			// handler; Authenticate keeps nothing of them, but copies
			// cost little next to a signature check and keep it so.
			Method:        strings.Clone(c.Method()),
			Path:          string(c.Request().URI().PathOriginal()),
			Authorization: values(c, fiber.HeaderAuthorization),
			DPoP:          values(c, "DPoP"),
		})
		if err != nil {
			e, ok := resource.AsError(err)
			if !ok {
				e = &resource.Error{Status: http.StatusInternalServerError, Code: "server_error", Description: "internal error"}
			}
			for k, vs := range e.Header() {
				c.Response().Header.Del(k)
				for _, v := range vs {
					c.Response().Header.Add(k, v)
				}
			}
			return c.Status(e.Status).Send(e.Body())
		}
		c.Locals(localsKey, p)
		c.SetUserContext(resource.WithPrincipal(c.UserContext(), p))
		return c.Next()
	}
}

// Principal returns the caller Handler verified for this request, or nil.
func Principal(c *fiber.Ctx) *resource.Principal {
	p, _ := c.Locals(localsKey).(*resource.Principal)
	return p
}

// MetadataHandler serves the Guard's RFC 9728 metadata on a Fiber route.
func MetadataHandler(g *resource.Guard) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
		c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(g.Metadata())
	}
}

func values(c *fiber.Ctx, name string) []string {
	raw := c.Request().Header.PeekAll(name)
	if len(raw) == 0 {
		return nil
	}
	out := make([]string, len(raw))
	for i, v := range raw {
		out[i] = string(v)
	}
	return out
}
