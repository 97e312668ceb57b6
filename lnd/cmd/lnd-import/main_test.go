package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	lps "github.com/lnpaystore/lnpaystore/bindings/go"
	"github.com/lnpaystore/lnpaystore/lnd/importer"
	"github.com/lnpaystore/lnpaystore/lnd/internal/fixture"
)

// The test binary doubles as an importer that a test kills with SIGKILL: it imports
// one payment per durable batch and prints a line after each, pausing so that the
// kill lands midway.
func TestMain(m *testing.M) {
	if db := os.Getenv("LND_IMPORT_CHILD_DB"); db != "" {
		os.Exit(child(db, os.Getenv("LND_IMPORT_CHILD_STORE")))
	}
	os.Exit(m.Run())
}

func child(db, storePath string) int {
	src, err := importer.OpenChannelDB(db)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	store, err := lps.Open(storePath, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_, err = importer.Run(context.Background(), src, store, importer.Options{
		Batch: 1,
		Progress: func(p importer.Progress) {
			fmt.Printf("imported %d\n", p.Done)
			time.Sleep(100 * time.Millisecond)
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

func channelDB(t *testing.T) (string, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "channel.db")
	db, err := fixture.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := db.Build()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.MissionControl([]string{"default", "probing"}, 5); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path, len(s.Hashes)
}

func runJSON(t *testing.T, args ...string) (int, output) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append(args, "--json", "--progress=false"), &stdout, &stderr)
	var out output
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("exit %d, no JSON report: %v\n%s\n%s", code, err, stdout.String(), stderr.String())
	}
	return code, out
}

func TestKilledMidwayThenRerunGivesTheResultOfOneRun(t *testing.T) {
	db, n := channelDB(t)
	killed := filepath.Join(t.TempDir(), "killed.db")

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LND_IMPORT_CHILD_DB="+db, "LND_IMPORT_CHILD_STORE="+killed)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	for i := 0; i < 3 && lines.Scan(); i++ {
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	// The kill left some payments in the store, not all.
	store, err := lps.Open(killed, nil)
	if err != nil {
		t.Fatal(err)
	}
	counts, err := store.PaymentCounts()
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	if counts.Total == 0 || counts.Total >= uint64(n) {
		t.Fatalf("killed after %d of %d payments: not midway", counts.Total, n)
	}

	code, resumed := runJSON(t, "--channel-db", db, "--store", killed, "--verify")
	if code != 0 {
		t.Fatalf("rerun exit %d: %+v", code, resumed.Import.Refused)
	}
	once := filepath.Join(t.TempDir(), "once.db")
	code, single := runJSON(t, "--channel-db", db, "--store", once, "--verify")
	if code != 0 {
		t.Fatalf("single run exit %d", code)
	}
	r, s := resumed.Import.Payments, single.Import.Payments
	if r.AlreadyPresent != counts.Total || r.Imported+r.AlreadyPresent != s.Imported ||
		fmt.Sprint(r.ByStatus) != fmt.Sprint(s.ByStatus) || r.ValueMsat != s.ValueMsat || r.FeesMsat != s.FeesMsat {
		t.Fatalf("resumed %+v differs from one run %+v", r, s)
	}
	for _, v := range []*importer.Verification{resumed.Verify, single.Verify} {
		if !v.OK() || v.Identical != uint64(n) {
			t.Fatalf("verify: %+v", v)
		}
	}
	for ns, c := range single.Verify.MissionControl {
		if rc := resumed.Verify.MissionControl[ns]; rc == nil || rc.Store != c.Store || c.Store != c.Lnd {
			t.Fatalf("mission control %s: resumed %+v, once %+v", ns, rc, c)
		}
	}
}

func TestBadArgumentsAndMissingFiles(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run([]string{"--store", "x.db"}, &out, &errs); code != 2 {
		t.Fatalf("missing --channel-db: exit %d", code)
	}
	missing := filepath.Join(t.TempDir(), "nope", "channel.db")
	errs.Reset()
	if code := run([]string{"--channel-db", missing, "--store", filepath.Join(t.TempDir(), "s.db")}, &out, &errs); code != 2 ||
		!bytes.Contains(errs.Bytes(), []byte("channel.db")) {
		t.Fatalf("missing channel.db: exit %d, %s", code, errs.String())
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("a missing channel.db was created: %v", err)
	}
}
