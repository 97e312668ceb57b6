// Package lnpaystore is the Go binding of lnpaystore, a durable, crash-safe store for
// a Lightning node's outgoing payments (lnd's payment control tower and payments
// database, behind a C ABI).
//
// The binding finds the C library through pkg-config (package lnpaystore): install it
// with `make install` at the repository root, or point PKG_CONFIG_PATH at the directory
// of its lnpaystore.pc. See README.md for static linking and for development in the
// repository.
//
// # Ownership
//
// [Store], [Subscription] and [MissionControl] own a C handle each. Close them when
// done: Close is idempotent, a finalizer closes a forgotten Store or MissionControl as
// a safety net only, and any use after Close returns an error matching [ErrClosed]. Every other value of this package
// ([Payment], [QueryResponse], ...) is an ordinary Go value copied out of the library;
// it holds no C memory.
//
// # Errors
//
// Every failure of the library is an [*Error] carrying the stable status code of the
// C API and its message. Match them with errors.Is and the sentinels:
//
//	if errors.Is(err, lnpaystore.ErrAlreadyPaid) { ... }
//
// # Concurrency
//
// A Store may be used from many goroutines at once; the library coalesces concurrent
// writes into few durable commits (group commit), so throughput grows with the number
// of goroutines driving payments.
package lnpaystore

// The cgo directives of the package live here and only here; every other file
// includes the header for its declarations.

/*
#cgo pkg-config: lnpaystore
#include "lnpaystore.h"
*/
import "C"
