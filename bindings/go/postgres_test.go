package lnpaystore

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// databaseURL gives a URL whose tables live in a new schema of the test cluster
// (ci/with-postgres.sh sets LNPAYSTORE_TEST_PG_URL; make gotest runs inside one), or
// skips the test without it.
func databaseURL(t *testing.T) string {
	t.Helper()
	server := os.Getenv("LNPAYSTORE_TEST_PG_URL")
	if server == "" {
		t.Skip("LNPAYSTORE_TEST_PG_URL is not set (run under ci/with-postgres.sh)")
	}
	schema := fmt.Sprintf("go_%s_%d", strings.ToLower(t.Name()), os.Getpid())
	out, err := exec.Command("psql", server, "-qc",
		fmt.Sprintf("DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema, schema)).CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v: %s", err, out)
	}
	sep := "?"
	if strings.Contains(server, "?") {
		sep = "&"
	}
	return server + sep + "options=-csearch_path%3D" + schema
}

// A store opened from a postgres:// URL behaves as a file does; a second writer is
// ErrLocked while the first holds the database's writer lease.
func TestOpenDatabaseURL(t *testing.T) {
	url := databaseURL(t)
	s, err := Open(url, nil)
	check(t, err)
	pre, hash := newPreimage()
	check(t, s.InitPayment(hash, creation(10_000)))
	okp(t)(s.RegisterAttempt(hash, attempt(1, route(10_000))))
	wantStatus(t, okp(t)(s.SettleAttempt(hash, 1, settle(pre))), PaymentStatusSucceeded)

	_, err = Open(url, nil)
	wantErr(t, err, ErrLocked)
	if !strings.Contains(err.Error(), "lease") {
		t.Fatalf("LOCKED should say who holds the lease: %v", err)
	}
	check(t, s.Close())

	again, err := Open(strings.Replace(url, "postgres://", "postgresql://", 1), nil)
	check(t, err)
	defer again.Close()
	wantStatus(t, okp(t)(again.FetchPayment(hash)), PaymentStatusSucceeded)
	wantErr(t, again.InitPayment(hash, creation(10_000)), ErrAlreadyPaid)
}

func TestOpenBadDatabaseURL(t *testing.T) {
	// verify-full without trusted roots (sslrootcert) is refused before connecting.
	_, err := Open("postgres://u:s3cret@127.0.0.1:1/d?sslmode=verify-full", nil)
	wantErr(t, err, ErrInvalidArgument)
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("the password leaked into the error: %v", err)
	}
	_, err = Open("postgres://u:s3cret@127.0.0.1:1/d?connect_timeout=2", nil)
	if !errors.Is(err, ErrIO) || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("a refused connection: %v", err)
	}
}

// A read-only open of a URL takes no lease: it opens beside the live writer, sees its
// commits, and every change is ErrReadOnly.
func TestOpenDatabaseURLReadOnly(t *testing.T) {
	url := databaseURL(t)
	w, err := Open(url, nil)
	check(t, err)
	defer w.Close()
	_, hash := newPreimage()
	check(t, w.InitPayment(hash, creation(10_000)))
	r, err := Open(url, &Options{ReadOnly: true})
	check(t, err)
	defer r.Close()
	wantStatus(t, okp(t)(r.FetchPayment(hash)), PaymentStatusInitiated)
	_, other := newPreimage()
	wantErr(t, r.InitPayment(other, creation(10_000)), ErrReadOnly)
	check(t, w.InitPayment(other, creation(10_000)))
	wantStatus(t, okp(t)(r.FetchPayment(other)), PaymentStatusInitiated)
}
