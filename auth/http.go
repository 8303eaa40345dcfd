package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/store"
)

// errorHandler is the one place where errors become HTTP responses. Only an
// *Error carries its description to the client; anything else is logged in
// full and answered with a generic 500.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	e, ok := asError(err)
	if !ok {
		var fe *fiber.Error
		switch {
		case errors.As(err, &fe):
			e = fiberError(fe)
		case errors.Is(err, store.ErrWriteFailed):
			// The operator learns the cause; the client, that it may retry.
			s.log.Error("store cannot write", "method", strings.Clone(c.Method()), "path", strings.Clone(c.Path()), "err", err)
			e = errUnavailable()
		case errors.Is(err, store.ErrUnavailable):
			s.log.Error("store cannot be reached", "method", strings.Clone(c.Method()), "path", strings.Clone(c.Path()), "err", err)
			e = errUnavailable()
			e.Description = "the service's database cannot be reached right now; nothing was saved: try again shortly"
		default:
			// Copies: a log handler may keep its attributes past the request.
			s.log.Error("request failed", "method", strings.Clone(c.Method()), "path", strings.Clone(c.Path()), "err", err)
			e = Errorf(http.StatusInternalServerError, CodeServerError, "internal error")
		}
	}
	if e.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(e.RetryAfter))
	}
	body := make(map[string]any, 2+len(e.Extra))
	for k, v := range e.Extra {
		body[k] = v
	}
	body["error"] = e.Code
	body["error_description"] = e.Description
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(e.Status).JSON(body)
}

// fiberError translates the framework's own errors (unknown route, wrong
// method, body too large) into the contract's codes.
func fiberError(fe *fiber.Error) *Error {
	switch fe.Code {
	case http.StatusNotFound:
		return Errorf(http.StatusNotFound, CodeNotFound, "no such endpoint")
	case http.StatusMethodNotAllowed:
		return Errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method not allowed on this endpoint")
	case http.StatusRequestEntityTooLarge:
		return Errorf(http.StatusRequestEntityTooLarge, CodeInvalidRequest, "request body too large")
	case http.StatusRequestHeaderFieldsTooLarge:
		return Errorf(http.StatusRequestHeaderFieldsTooLarge, CodeInvalidRequest, "request headers too large")
	case http.StatusUnsupportedMediaType:
		return Errorf(http.StatusUnsupportedMediaType, CodeInvalidRequest, "unsupported content type")
	}
	if fe.Code >= 400 && fe.Code < 500 {
		return Errorf(fe.Code, CodeInvalidRequest, "bad request")
	}
	return Errorf(http.StatusInternalServerError, CodeServerError, "internal error")
}

// mediaType returns the request's media type without parameters, lower-cased.
func mediaType(c *fiber.Ctx) string {
	ct := c.Get(fiber.HeaderContentType)
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "invalid"
	}
	return mt
}

// decodeJSON strictly decodes a JSON request body into v: the content type
// must be application/json (an empty body may omit it), the bytes valid UTF-8,
// exactly one JSON value, and no unknown members.
func decodeJSON(c *fiber.Ctx, v any) error {
	// The raw body: c.Body() would inflate a Content-Encoding past BodyLimit.
	body := c.Request().Body()
	if len(bytes.TrimSpace(body)) == 0 {
		if mt := mediaType(c); mt != "" && mt != fiber.MIMEApplicationJSON {
			return Errorf(http.StatusUnsupportedMediaType, CodeInvalidRequest, "content type must be application/json")
		}
		body = []byte("{}")
	} else if mediaType(c) != fiber.MIMEApplicationJSON {
		return Errorf(http.StatusUnsupportedMediaType, CodeInvalidRequest, "content type must be application/json")
	}
	if !utf8.Valid(body) {
		return badRequest("body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("malformed JSON body: %s", jsonProblem(err))
	}
	if dec.More() {
		return badRequest("malformed JSON body: trailing data")
	}
	return nil
}

// jsonProblem describes a decoding error without echoing request data.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		if te.Field != "" {
			return "wrong type for " + strconv.Quote(te.Field)
		}
		return "wrong type"
	case errors.As(err, &se):
		return "syntax error at offset " + strconv.FormatInt(se.Offset, 10)
	case len(err.Error()) > 6 && err.Error()[:6] == "json: ":
		msg := err.Error()[6:]
		if len(msg) > 80 {
			msg = msg[:80]
		}
		return msg
	}
	return "invalid JSON"
}

// decodeForm parses an application/x-www-form-urlencoded body. Repeated
// parameters are rejected (RFC 6749 section 3.2) and empty ones are treated as
// absent.
func decodeForm(c *fiber.Ctx) (map[string]string, error) {
	if mediaType(c) != fiber.MIMEApplicationForm {
		return nil, Errorf(http.StatusUnsupportedMediaType, CodeInvalidRequest, "content type must be application/x-www-form-urlencoded")
	}
	// The raw body: c.Body() would inflate a Content-Encoding past BodyLimit.
	body := c.Request().Body()
	if !utf8.Valid(body) {
		return nil, badRequest("body is not valid UTF-8")
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badRequest("malformed form body")
	}
	out := make(map[string]string, len(vals))
	for k, vs := range vals {
		if len(vs) > 1 {
			return nil, badRequest("parameter %q is repeated", k)
		}
		if !utf8.ValidString(vs[0]) {
			return nil, badRequest("parameter %q is not valid UTF-8", k)
		}
		if vs[0] != "" {
			out[k] = vs[0]
		}
	}
	return out, nil
}

// noStore marks a response as carrying credentials (RFC 6749 section 5.1).
func noStore(c *fiber.Ctx) {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderPragma, "no-cache")
}

// checkLen rejects a string field longer than max bytes.
func checkLen(field, v string, max int) error {
	if len(v) > max {
		return badRequest("%s is too long", field)
	}
	return nil
}
