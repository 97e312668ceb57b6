package lnpaystore

// #include "lnpaystore.h"
import "C"

import (
	"fmt"
	"runtime"
	"strings"
)

// Status is a status code of the C API. Its numbers are stable; the names are
// those of the header without their LPS_STATUS_ prefix. The constants, their
// names and one Err sentinel per code are in status.go, generated from the
// header (docs/c-api.md lists them all).
type Status int32

// String gives the header's name of the code ("LPS_STATUS_ALREADY_PAID"), or
// "LPS_STATUS_UNKNOWN(n)" for a number the C API does not define.
func (s Status) String() string {
	if name, ok := statusNames[s]; ok {
		return name
	}
	return fmt.Sprintf("LPS_STATUS_UNKNOWN(%d)", int32(s))
}

// Error is a failure reported by the library: its status code, the C function that
// failed and its message.
//
// Compare errors with errors.Is and the Err sentinels (status.go), which match any *Error
// with the same Code whatever its message.
type Error struct {
	Code Status
	// Op is the C function that failed ("lps_store_open"); empty for failures the
	// binding finds before calling the library.
	Op string
	// Message says what failed (the path, the field).
	Message string
}

// Error is "lnpaystore: " and the message, or the status name when there is no
// message.
func (e *Error) Error() string {
	if e.Message == "" {
		return "lnpaystore: " + e.Code.String()
	}
	return "lnpaystore: " + e.Message
}

// newError splits the library's "lps_function: message" into Op and Message.
func newError(code Status, raw string) *Error {
	op, msg, found := strings.Cut(raw, ": ")
	if !found || !strings.HasPrefix(op, "lps_") || strings.ContainsAny(op, " /") {
		return &Error{Code: code, Message: raw}
	}
	return &Error{Code: code, Op: op, Message: msg}
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, ErrAlreadyPaid) holds for every ALREADY_PAID failure.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// errClosed is the error of a call on a closed Store or Subscription; the C
// handle is gone, so it never reaches C.
func errClosed(what string) error {
	return &Error{Code: StatusClosed, Message: what + " is closed"}
}

// errInvalid is an INVALID_ARGUMENT found on the Go side, before calling C.
func errInvalid(format string, args ...any) error {
	return &Error{Code: StatusInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

// call runs one C function and turns its status into an error. The library keeps
// the message of a failure per OS thread, so the goroutine stays on one thread from
// the call until the message has been read.
func call(f func() C.LpsStatus) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if status := f(); status != C.LPS_STATUS_OK {
		return newError(Status(status), C.GoString(C.lps_last_error()))
	}
	return nil
}

// cName is the library's own name for the code (tests compare it with String).
func (s Status) cName() string {
	return C.GoString(C.lps_status_name(C.LpsStatus(s)))
}
