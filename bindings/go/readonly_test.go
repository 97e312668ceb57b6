package lnpaystore

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
)

// fileSums is the SHA-256 of every file in dir, by name.
func fileSums(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	check(t, err)
	sums := map[string][32]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		check(t, err)
		sums[e.Name()] = sha256.Sum256(b)
	}
	return sums
}

func TestReadOnlyOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "payments.db")
	s, err := Open(path, nil)
	check(t, err)
	pre, hash := newPreimage()
	check(t, s.InitPayment(hash, creation(10_000)))
	okp(t)(s.RegisterAttempt(hash, attempt(1, route(10_000))))
	okp(t)(s.SettleAttempt(hash, 1, settle(pre)))
	_, err = Open(path, &Options{ReadOnly: true})
	wantErr(t, err, ErrLocked)
	check(t, s.Close())
	before := fileSums(t, dir)

	ro, err := Open(path, &Options{ReadOnly: true})
	check(t, err)
	other, err := Open(path, &Options{ReadOnly: true})
	check(t, err)
	check(t, other.Close())

	wantStatus(t, okp(t)(ro.FetchPayment(hash)), PaymentStatusSucceeded)
	wantCounts(t, ro, PaymentCounts{Total: 1, Succeeded: 1})
	_, other2 := newPreimage()
	wantErr(t, ro.InitPayment(other2, creation(1)), ErrReadOnly)
	wantErr(t, ro.DeletePayment(hash, false), ErrReadOnly)
	_, err = ro.DeletePayments(DeleteOptions{AllPayments: true})
	wantErr(t, err, ErrReadOnly)
	wantErr(t, ro.Compact(), ErrReadOnly)
	check(t, ro.Close())

	if after := fileSums(t, dir); len(after) != len(before) {
		t.Fatalf("files changed: %v, was %v", after, before)
	} else {
		for name, sum := range before {
			if after[name] != sum {
				t.Fatalf("%s changed under a read-only open", name)
			}
		}
	}

	// A writer is refused while a read-only open has the file (after the sums: the
	// refused open is not this test's subject).
	ro, err = Open(path, &Options{ReadOnly: true})
	check(t, err)
	_, err = Open(path, nil)
	wantErr(t, err, ErrLocked)
	check(t, ro.Close())

	missing := filepath.Join(dir, "missing.db")
	_, err = Open(missing, &Options{ReadOnly: true})
	wantErr(t, err, ErrIO)
	if _, statErr := os.Stat(missing); !os.IsNotExist(statErr) {
		t.Fatalf("a read-only open created %s", missing)
	}
}

func TestBackup(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "payments.db"), &Options{NoSync: true})
	check(t, err)
	defer func() { check(t, s.Close()) }()
	var hashes []Hash
	for i := 0; i < 5; i++ {
		pre, hash := newPreimage()
		check(t, s.InitPayment(hash, creation(10_000)))
		okp(t)(s.RegisterAttempt(hash, attempt(1, route(10_000))))
		okp(t)(s.SettleAttempt(hash, 1, settle(pre)))
		hashes = append(hashes, hash)
	}
	dest := filepath.Join(dir, "copy.db")
	check(t, s.Backup(dest))
	wantErr(t, s.Backup(dest), ErrInvalidArgument)
	wantErr(t, s.Backup(filepath.Join(dir, "missing", "copy.db")), ErrIO)
	if _, err := os.Stat(dest + ".partial"); !os.IsNotExist(err) {
		t.Fatalf("a partial copy was left: %v", err)
	}

	copied, err := Open(dest, &Options{ReadOnly: true})
	check(t, err)
	defer func() { check(t, copied.Close()) }()
	wantCounts(t, copied, PaymentCounts{Total: 5, Succeeded: 5})
	for _, h := range hashes {
		wantStatus(t, okp(t)(copied.FetchPayment(h)), PaymentStatusSucceeded)
	}
}
