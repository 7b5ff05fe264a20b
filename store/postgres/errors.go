package postgres

import (
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/extdir/extdir"
)

// errUnavailable is what a client is told when the database cannot answer
// now: a 503, which load balancers and SDKs retry, rather than a 500.
var errUnavailable = &extdir.Error{Code: extdir.EUnavailable, Message: "The directory cannot answer right now. Try again later."}

// unavailableError is a database failure that says nothing about the
// request: the database is down, restarting, out of connections, too slow,
// or too contended. It is errUnavailable to the client and the full
// failure to the log.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return e.err.Error() }

func (e *unavailableError) Unwrap() []error { return []error{errUnavailable, e.err} }

// dbError marks err as unavailableError when its cause is one, and returns
// anything else unchanged.
func dbError(err error) error {
	if err == nil || !isUnavailable(err) {
		return err
	}
	return &unavailableError{err: err}
}

// isUnavailable reports whether err comes from the database or the path to
// it being unable to serve, rather than from the request.
func isUnavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"): // connection exception
			return true
		case pe.Code == "53300", // too_many_connections
			pe.Code == "57P01", // admin_shutdown
			pe.Code == "57P02", // crash_shutdown
			pe.Code == "57P03", // cannot_connect_now
			pe.Code == "57014", // query_canceled: the statement timeout
			pe.Code == "40001", // serialization_failure, after every retry
			pe.Code == "40P01": // deadlock_detected, after every retry
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
