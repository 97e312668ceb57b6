package lnpaystore

// #include "lnpaystore.h"
import "C"

import (
	"fmt"
	"runtime"
	"strings"
)

// Status is a status code of the C API. Its numbers are stable (API.md); the
// names are those of the header without their LPS_STATUS_ prefix.
type Status int32

// Status codes, with the numbers of the C API.
const (
	StatusOK                         Status = 0
	StatusNullArgument               Status = 1
	StatusInvalidArgument            Status = 2
	StatusIO                         Status = 3
	StatusCorrupt                    Status = 4
	StatusLocked                     Status = 5
	StatusVersion                    Status = 6
	StatusClosed                     Status = 7
	StatusTimeout                    Status = 8
	StatusEndOfStream                Status = 9
	StatusInternal                   Status = 10
	StatusPaymentExists              Status = 100
	StatusPaymentInFlight            Status = 101
	StatusAlreadyPaid                Status = 102
	StatusPaymentNotInitiated        Status = 103
	StatusPaymentAlreadySucceeded    Status = 104
	StatusPaymentAlreadyFailed       Status = 105
	StatusPaymentPendingSettled      Status = 106
	StatusPaymentPendingFailed       Status = 107
	StatusAttemptNotFound            Status = 108
	StatusAttemptExists              Status = 109
	StatusAttemptAlreadySettled      Status = 110
	StatusAttemptAlreadyFailed       Status = 111
	StatusValueMismatch              Status = 112
	StatusValueExceedsAmt            Status = 113
	StatusNonMPPayment               Status = 114
	StatusMPPayment                  Status = 115
	StatusMPPPaymentAddrMismatch     Status = 116
	StatusMPPTotalAmountMismatch     Status = 117
	StatusMPPRecordInBlindedPayment  Status = 118
	StatusBlindedTotalAmountMismatch Status = 119
	StatusMixedBlindedAndNonBlinded  Status = 120
	StatusBlindedMissingTotalAmount  Status = 121
	StatusSentExceedsTotal           Status = 122
	StatusPreimageMismatch           Status = 123
)

// statusNames are the header's names; a test checks them against lps_status_name.
var statusNames = map[Status]string{
	StatusOK:                         "LPS_STATUS_OK",
	StatusNullArgument:               "LPS_STATUS_NULL_ARGUMENT",
	StatusInvalidArgument:            "LPS_STATUS_INVALID_ARGUMENT",
	StatusIO:                         "LPS_STATUS_IO",
	StatusCorrupt:                    "LPS_STATUS_CORRUPT",
	StatusLocked:                     "LPS_STATUS_LOCKED",
	StatusVersion:                    "LPS_STATUS_VERSION",
	StatusClosed:                     "LPS_STATUS_CLOSED",
	StatusTimeout:                    "LPS_STATUS_TIMEOUT",
	StatusEndOfStream:                "LPS_STATUS_END_OF_STREAM",
	StatusInternal:                   "LPS_STATUS_INTERNAL",
	StatusPaymentExists:              "LPS_STATUS_PAYMENT_EXISTS",
	StatusPaymentInFlight:            "LPS_STATUS_PAYMENT_IN_FLIGHT",
	StatusAlreadyPaid:                "LPS_STATUS_ALREADY_PAID",
	StatusPaymentNotInitiated:        "LPS_STATUS_PAYMENT_NOT_INITIATED",
	StatusPaymentAlreadySucceeded:    "LPS_STATUS_PAYMENT_ALREADY_SUCCEEDED",
	StatusPaymentAlreadyFailed:       "LPS_STATUS_PAYMENT_ALREADY_FAILED",
	StatusPaymentPendingSettled:      "LPS_STATUS_PAYMENT_PENDING_SETTLED",
	StatusPaymentPendingFailed:       "LPS_STATUS_PAYMENT_PENDING_FAILED",
	StatusAttemptNotFound:            "LPS_STATUS_ATTEMPT_NOT_FOUND",
	StatusAttemptExists:              "LPS_STATUS_ATTEMPT_EXISTS",
	StatusAttemptAlreadySettled:      "LPS_STATUS_ATTEMPT_ALREADY_SETTLED",
	StatusAttemptAlreadyFailed:       "LPS_STATUS_ATTEMPT_ALREADY_FAILED",
	StatusValueMismatch:              "LPS_STATUS_VALUE_MISMATCH",
	StatusValueExceedsAmt:            "LPS_STATUS_VALUE_EXCEEDS_AMT",
	StatusNonMPPayment:               "LPS_STATUS_NON_MP_PAYMENT",
	StatusMPPayment:                  "LPS_STATUS_MP_PAYMENT",
	StatusMPPPaymentAddrMismatch:     "LPS_STATUS_MPP_PAYMENT_ADDR_MISMATCH",
	StatusMPPTotalAmountMismatch:     "LPS_STATUS_MPP_TOTAL_AMOUNT_MISMATCH",
	StatusMPPRecordInBlindedPayment:  "LPS_STATUS_MPP_RECORD_IN_BLINDED_PAYMENT",
	StatusBlindedTotalAmountMismatch: "LPS_STATUS_BLINDED_TOTAL_AMOUNT_MISMATCH",
	StatusMixedBlindedAndNonBlinded:  "LPS_STATUS_MIXED_BLINDED_AND_NON_BLINDED",
	StatusBlindedMissingTotalAmount:  "LPS_STATUS_BLINDED_MISSING_TOTAL_AMOUNT",
	StatusSentExceedsTotal:           "LPS_STATUS_SENT_EXCEEDS_TOTAL",
	StatusPreimageMismatch:           "LPS_STATUS_PREIMAGE_MISMATCH",
}

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
// Compare errors with errors.Is and the sentinels below, which match any *Error
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

// One sentinel per status code of the C API, for errors.Is.
var (
	ErrNullArgument               = &Error{Code: StatusNullArgument}
	ErrInvalidArgument            = &Error{Code: StatusInvalidArgument}
	ErrIO                         = &Error{Code: StatusIO}
	ErrCorrupt                    = &Error{Code: StatusCorrupt}
	ErrLocked                     = &Error{Code: StatusLocked}
	ErrVersion                    = &Error{Code: StatusVersion}
	ErrClosed                     = &Error{Code: StatusClosed}
	ErrTimeout                    = &Error{Code: StatusTimeout}
	ErrEndOfStream                = &Error{Code: StatusEndOfStream}
	ErrInternal                   = &Error{Code: StatusInternal}
	ErrPaymentExists              = &Error{Code: StatusPaymentExists}
	ErrPaymentInFlight            = &Error{Code: StatusPaymentInFlight}
	ErrAlreadyPaid                = &Error{Code: StatusAlreadyPaid}
	ErrPaymentNotInitiated        = &Error{Code: StatusPaymentNotInitiated}
	ErrPaymentAlreadySucceeded    = &Error{Code: StatusPaymentAlreadySucceeded}
	ErrPaymentAlreadyFailed       = &Error{Code: StatusPaymentAlreadyFailed}
	ErrPaymentPendingSettled      = &Error{Code: StatusPaymentPendingSettled}
	ErrPaymentPendingFailed       = &Error{Code: StatusPaymentPendingFailed}
	ErrAttemptNotFound            = &Error{Code: StatusAttemptNotFound}
	ErrAttemptExists              = &Error{Code: StatusAttemptExists}
	ErrAttemptAlreadySettled      = &Error{Code: StatusAttemptAlreadySettled}
	ErrAttemptAlreadyFailed       = &Error{Code: StatusAttemptAlreadyFailed}
	ErrValueMismatch              = &Error{Code: StatusValueMismatch}
	ErrValueExceedsAmt            = &Error{Code: StatusValueExceedsAmt}
	ErrNonMPPayment               = &Error{Code: StatusNonMPPayment}
	ErrMPPayment                  = &Error{Code: StatusMPPayment}
	ErrMPPPaymentAddrMismatch     = &Error{Code: StatusMPPPaymentAddrMismatch}
	ErrMPPTotalAmountMismatch     = &Error{Code: StatusMPPTotalAmountMismatch}
	ErrMPPRecordInBlindedPayment  = &Error{Code: StatusMPPRecordInBlindedPayment}
	ErrBlindedTotalAmountMismatch = &Error{Code: StatusBlindedTotalAmountMismatch}
	ErrMixedBlindedAndNonBlinded  = &Error{Code: StatusMixedBlindedAndNonBlinded}
	ErrBlindedMissingTotalAmount  = &Error{Code: StatusBlindedMissingTotalAmount}
	ErrSentExceedsTotal           = &Error{Code: StatusSentExceedsTotal}
	ErrPreimageMismatch           = &Error{Code: StatusPreimageMismatch}
)

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
