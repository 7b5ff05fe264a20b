package graph

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/extdir/extdir"
)

// errorStatus maps each domain code to its HTTP status and Graph error code:
// the one table that decides what a failure looks like on the wire.
var errorStatus = map[extdir.Code]struct {
	status int
	code   string
}{
	extdir.EInvalid:              {http.StatusBadRequest, "Request_BadRequest"},
	extdir.EConflict:             {http.StatusBadRequest, "Request_BadRequest"},
	extdir.EUnsupportedQuery:     {http.StatusBadRequest, "Request_UnsupportedQuery"},
	extdir.EBadRequest:           {http.StatusBadRequest, "BadRequest"},
	extdir.EUnauthenticated:      {http.StatusUnauthorized, "InvalidAuthenticationToken"},
	extdir.EForbidden:            {http.StatusForbidden, "Authorization_RequestDenied"},
	extdir.ENotFound:             {http.StatusNotFound, "Request_ResourceNotFound"},
	extdir.EMethodNotAllowed:     {http.StatusMethodNotAllowed, "Request_BadRequest"},
	extdir.EPrecondition:         {http.StatusPreconditionFailed, "Request_PreconditionFailed"},
	extdir.ETooLarge:             {http.StatusRequestEntityTooLarge, "RequestEntityTooLarge"},
	extdir.EUnsupportedMediaType: {http.StatusUnsupportedMediaType, "UnsupportedMediaType"},
	extdir.ETooManyRequests:      {http.StatusTooManyRequests, "TooManyRequests"},
	extdir.EUnavailable:          {http.StatusServiceUnavailable, "ServiceUnavailable"},
	extdir.EInternal:             {http.StatusInternalServerError, "InternalServerError"},
	// A batched request whose dependency failed (batch.go).
	eFailedDependency: {http.StatusFailedDependency, "FailedDependency"},
	// Injected failures (faults.go) have codes of their own so that they are
	// not logged as the service's own failures.
	eInjectedInternal:    {http.StatusInternalServerError, "InternalServerError"},
	eInjectedBadGateway:  {http.StatusBadGateway, "BadGateway"},
	eInjectedUnavailable: {http.StatusServiceUnavailable, "ServiceUnavailable"},
	eInjectedTimeout:     {http.StatusGatewayTimeout, "GatewayTimeout"},
	// Overload (overload.go): a shed request and one past its deadline.
	eOverloaded:     {http.StatusServiceUnavailable, "ServiceUnavailable"},
	eRequestTimeout: {http.StatusGatewayTimeout, "GatewayTimeout"},
}

// Statuses and messages of failures that are not the directory's own.
var (
	errForbidden        = extdir.ErrForbidden
	errMethodNotAllowed = &extdir.Error{Code: extdir.EMethodNotAllowed, Message: "Specified HTTP method is not allowed for the request target."}
	errTooLarge         = &extdir.Error{Code: extdir.ETooLarge, Message: "The request body is larger than the limit of 1 MiB."}
	errMediaType        = &extdir.Error{Code: extdir.EUnsupportedMediaType, Message: "The request body must be JSON: send Content-Type: application/json."}
)

// writeError writes err as Graph's error envelope. Internal errors are
// logged with their detail and shown to the client as a generic message.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	err = timedOut(r, err)
	code := extdir.ErrorCode(err)
	entry, ok := errorStatus[code]
	if !ok {
		entry = errorStatus[extdir.EInternal]
	}
	if code == extdir.EInternal || code == extdir.EUnavailable {
		logger(r).Error("request failed", slog.Any("error", err))
	}
	ids := requestIDs(r)
	if entry.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="", error="invalid_token"`)
	}
	b := make([]byte, 0, 256)
	b = append(b, `{"error":{"code":`...)
	b = appendString(b, entry.code)
	b = append(b, `,"message":`...)
	b = appendString(b, extdir.ErrorMessage(err))
	b = append(b, `,"innerError":{"date":`...)
	b = appendString(b, ids.date().UTC().Format("2006-01-02T15:04:05"))
	b = append(b, `,"request-id":`...)
	b = appendString(b, ids.request)
	b = append(b, `,"client-request-id":`...)
	b = appendString(b, ids.client)
	b = append(b, "}}}"...)
	writeJSON(w, entry.status, b)
}

// isCode reports whether err carries the domain code.
func isCode(err error, code extdir.Code) bool {
	var e *extdir.Error
	return errors.As(err, &e) && e.Code == code
}
