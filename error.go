package extdir

import (
	"errors"
	"fmt"
)

// Code classifies an error; the HTTP layer maps each code to one status and
// one Graph error code through a single table.
type Code string

const (
	// EInvalid: the request's body or arguments break a rule (400 Request_BadRequest).
	EInvalid Code = "invalid"
	// EConflict: a uniqueness rule would be broken (400 Request_BadRequest, as Graph does).
	EConflict Code = "conflict"
	// EUnsupportedQuery: a query option names something that cannot be queried
	// that way (400 Request_UnsupportedQuery).
	EUnsupportedQuery Code = "unsupported_query"
	// EBadRequest: refused by the OData layer before the directory sees it, such as
	// a malformed query option or an unknown segment (400 BadRequest).
	EBadRequest Code = "bad_request"
	// ENotFound: no such object for this caller (404 Request_ResourceNotFound).
	ENotFound Code = "not_found"
	// EPrecondition: If-Match did not match (412).
	EPrecondition Code = "precondition_failed"
	// EUnauthenticated: no valid bearer token (401 InvalidAuthenticationToken).
	EUnauthenticated Code = "unauthenticated"
	// EForbidden: valid token, missing permission (403 Authorization_RequestDenied).
	EForbidden Code = "forbidden"
	// EMethodNotAllowed: the resource does not support the method (405).
	EMethodNotAllowed Code = "method_not_allowed"
	// ETooLarge: the request body is over the limit (413).
	ETooLarge Code = "too_large"
	// EUnsupportedMediaType: the body is not JSON (415).
	EUnsupportedMediaType Code = "unsupported_media_type"
	// ETooManyRequests: throttled (429).
	ETooManyRequests Code = "too_many_requests"
	// EUnavailable: the store cannot answer now (503).
	EUnavailable Code = "unavailable"
	// EInternal: a bug or an unexpected failure; its message is never shown.
	EInternal Code = "internal"
)

// Error is an error a client may see: a code and a message meant for it.
type Error struct {
	Code    Code
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("extdir error: code=%s message=%s", e.Code, e.Message)
}

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, or EInternal when err is not an *Error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EInternal
}

// ErrorMessage returns the client-facing message of err; internal errors get
// a generic message so that nothing of the implementation leaks.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EInternal {
		return e.Message
	}
	return "An internal server error occurred."
}

// NotFound is Graph's 404 for an object id.
func NotFound(id string) *Error {
	return Errorf(ENotFound, "Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)
}

// ErrPhoneTaken is the uniqueness clash on phoneNumber, as a store reports it.
var ErrPhoneTaken = &Error{Code: EConflict, Message: "Another object with the same value for property phoneNumber already exists."}

// ErrPreconditionFailed is the answer to an If-Match that does not match.
var ErrPreconditionFailed = &Error{Code: EPrecondition, Message: "The operation failed because the object was modified by another request (If-Match does not match the current ETag)."}

// ErrForbidden is the answer to a caller without the permission a call needs.
var ErrForbidden = &Error{Code: EForbidden, Message: "Insufficient privileges to complete the operation."}
