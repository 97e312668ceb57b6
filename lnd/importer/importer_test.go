package importer_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lntypes"
	lps "github.com/lnpaystore/lnpaystore/bindings/go"
	"github.com/lnpaystore/lnpaystore/lnd/importer"
	"github.com/lnpaystore/lnpaystore/lnd/internal/fixture"
)

// namespaces are the mission-control namespaces the fixture fills.
var namespaces = []string{"default", "probing"}

// channelDB builds an lnd channel.db with lnd's own code and closes it.
func channelDB(t *testing.T) (string, *fixture.Scenario, map[string]int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "channel.db")
	db, err := fixture.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	scenario, err := db.Build()
	if err != nil {
		t.Fatal(err)
	}
	mc, err := db.MissionControl(namespaces, 12)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path, scenario, mc
}

func open(t *testing.T, channelDB string) (*importer.Source, *lps.Store) {
	t.Helper()
	src, err := importer.OpenChannelDB(channelDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	store, err := lps.Open(filepath.Join(filepath.Dir(channelDB), "lnpaystore.db"), &lps.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return src, store
}

func verify(t *testing.T, src *importer.Source, store *lps.Store, payments int) {
	t.Helper()
	v, err := importer.Verify(context.Background(), src, store, 4, false)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK() || v.Compared != uint64(payments) || v.Identical != uint64(payments) {
		t.Fatalf("verify: %+v", v)
	}
	for _, ns := range namespaces {
		if c := v.MissionControl[ns]; c == nil || c.Store != c.Lnd || c.Missing != 0 || c.Unmatched != 0 {
			t.Fatalf("mission control %s: %+v", ns, c)
		}
	}
}

func TestEveryPaymentAndResultArrivesIdentical(t *testing.T) {
	path, scenario, mc := channelDB(t)
	src, store := open(t, path)
	r, err := importer.Run(context.Background(), src, store, importer.Options{Batch: 5})
	if err != nil {
		t.Fatal(err)
	}
	n := len(scenario.Hashes)
	p := r.Payments
	if p.Read != uint64(n+scenario.Duplicates) || p.Imported != uint64(n) || p.Refused != 0 ||
		p.Duplicates != uint64(scenario.Duplicates) || len(r.Duplicates) != scenario.Duplicates {
		t.Fatalf("payments: %+v, refused %+v", p, r.Refused)
	}
	want := map[string]uint64{"INITIATED": 1, "IN_FLIGHT": 2, "SUCCEEDED": 6, "FAILED": 3}
	for status, count := range want {
		if p.ByStatus[status] != count {
			t.Fatalf("by status %v, want %v", p.ByStatus, want)
		}
	}
	for _, d := range r.Duplicates {
		if d.PaymentHash != scenario.Hashes["succeeded"].String() || len(d.Attempts) != 1 {
			t.Fatalf("legacy duplicate %+v", d)
		}
	}
	// Every mission-control result was taken byte for byte (the store refuses any
	// that it would store differently).
	for _, ns := range namespaces {
		f := r.MissionControl[ns]
		if f == nil || f.Results != uint64(mc[ns]) || f.Queued != f.Results || len(f.Refused) != 0 {
			t.Fatalf("mission control %s: %+v", ns, f)
		}
	}
	verify(t, src, store, n)

	// Spot checks of the fields most easily lost.
	amp, err := store.FetchPayment(lps.Hash(scenario.Hashes["amp"]))
	if err != nil {
		t.Fatal(err)
	}
	_, shard0 := fixture.Secret(1000)
	if h := amp.HTLCs[0].Hash; h == nil || lntypes.Hash(*h) != shard0 || amp.HTLCs[0].Route.Hops[2].AMP == nil {
		t.Fatalf("AMP shard lost its hash or record: %+v", amp.HTLCs[0])
	}
	blinded, err := store.FetchPayment(lps.Hash(scenario.Hashes["blinded"]))
	if err != nil {
		t.Fatal(err)
	}
	if hop := blinded.HTLCs[0].Route.Hops[1]; hop.BlindingPoint == nil || len(hop.EncryptedData) == 0 {
		t.Fatalf("blinded hop lost its data: %+v", hop)
	}
	failed, err := store.FetchPayment(lps.Hash(scenario.Hashes["failed_with_message"]))
	if err != nil {
		t.Fatal(err)
	}
	if f := failed.HTLCs[0].Failure; f == nil || len(f.Message) == 0 || f.FailureSourceIndex != 2 {
		t.Fatalf("failure lost its message: %+v", failed.HTLCs[0].Failure)
	}
	deleted, err := store.FetchPayment(lps.Hash(scenario.Hashes["failed_attempts_deleted"]))
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted.HTLCs) != 1 || deleted.HTLCs[0].AttemptID%100 != 2 {
		t.Fatalf("deleted failed attempts came back: %+v", deleted.HTLCs)
	}
	// lnd's next payments number above every imported one.
	_, fresh := fixture.Secret(99)
	if err := store.InitPayment(lps.Hash(fresh), &lps.CreationInfo{Value: 1}); err != nil {
		t.Fatal(err)
	}
	got, err := store.FetchPayment(lps.Hash(fresh))
	if err != nil {
		t.Fatal(err)
	}
	// lnd numbered the fixture's payments 1..n (the legacy duplicates, listed rather
	// than imported, keep their numbers in the report only).
	if got.SequenceNum != uint64(n)+1 {
		t.Fatalf("next sequence number %d, want %d", got.SequenceNum, n+1)
	}
}

func TestARerunAfterAnInterruptionDuplicatesNothing(t *testing.T) {
	path, scenario, _ := channelDB(t)
	src, store := open(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := importer.Run(ctx, src, store, importer.Options{
		Batch: 3, SkipMissionControl: true,
		Progress: func(p importer.Progress) {
			if p.Done >= 3 {
				cancel()
			}
		},
	})
	if err == nil {
		t.Fatal("the interrupted import reported no error")
	}
	counts, err := store.PaymentCounts()
	if err != nil {
		t.Fatal(err)
	}
	n := uint64(len(scenario.Hashes))
	if counts.Total == 0 || counts.Total >= n {
		t.Fatalf("interrupted after %d of %d payments: not midway", counts.Total, n)
	}
	r, err := importer.Run(context.Background(), src, store, importer.Options{Batch: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.Payments.Imported+r.Payments.AlreadyPresent != n || r.Payments.AlreadyPresent != counts.Total ||
		r.Payments.Refused != 0 {
		t.Fatalf("rerun: %+v, refused %+v", r.Payments, r.Refused)
	}
	verify(t, src, store, int(n))
}

func TestPaymentsAlreadyInTheStoreAreReportedAndKept(t *testing.T) {
	path, scenario, _ := channelDB(t)
	src, store := open(t, path)
	// The store already pays one of lnd's hashes, differently; and lnd's first
	// sequence number belongs to a payment of its own.
	taken := lps.Hash(scenario.Hashes["succeeded"])
	if err := store.InitPayment(taken, &lps.CreationInfo{Value: 777}); err != nil {
		t.Fatal(err)
	}
	before, err := store.FetchPayment(taken)
	if err != nil {
		t.Fatal(err)
	}
	r, err := importer.Run(context.Background(), src, store, importer.Options{SkipMissionControl: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Payments.Refused != 2 || len(r.Refused) != 2 {
		t.Fatalf("refused: %+v", r.Refused)
	}
	reasons := map[string]string{}
	for _, x := range r.Refused {
		reasons[x.PaymentHash] = x.Reason
	}
	if reason := reasons[scenario.Hashes["succeeded"].String()]; reason == "" {
		t.Fatalf("the taken hash is not reported: %+v", r.Refused)
	}
	after, err := store.FetchPayment(taken)
	if err != nil {
		t.Fatal(err)
	}
	if after.Info.Value != before.Info.Value || len(after.HTLCs) != 0 || after.SequenceNum != before.SequenceNum {
		t.Fatalf("the store's payment was overwritten: %+v", after)
	}
	v, err := importer.Verify(context.Background(), src, store, 100, true)
	if err != nil {
		t.Fatal(err)
	}
	if v.OK() || v.Different+v.Missing != 2 {
		t.Fatalf("verify should name the two: %+v", v)
	}
}

// The store may be a PostgreSQL database: the same import, the same field-by-field
// verification, mission control included.
func TestImportIntoAPostgreSQLStore(t *testing.T) {
	path, scenario, mc := channelDB(t)
	src, err := importer.OpenChannelDB(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	store, err := lps.Open(emptyPostgresDatabase(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r, err := importer.Run(context.Background(), src, store, importer.Options{Batch: 5})
	if err != nil {
		t.Fatal(err)
	}
	n := len(scenario.Hashes)
	if r.Payments.Imported != uint64(n) || r.Payments.Refused != 0 {
		t.Fatalf("payments: %+v, refused %+v", r.Payments, r.Refused)
	}
	for _, ns := range namespaces {
		if f := r.MissionControl[ns]; f == nil || f.Queued != uint64(mc[ns]) || len(f.Refused) != 0 {
			t.Fatalf("mission control %s: %+v", ns, f)
		}
	}
	verify(t, src, store, n)
}

// lnd's native SQL payments store, on each of the engines lnd runs it on.
func TestPaymentsFromLndsNativeSQLStore(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		sqlite := filepath.Join(t.TempDir(), "lnd.sqlite")
		importFromSQL(t, "sqlite",
			func(db *fixture.DB) error { return db.UseSQLite(sqlite) },
			func(src *importer.Source) error { return src.UseSQLite(sqlite) })
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := emptyPostgresDatabase(t)
		importFromSQL(t, "postgres",
			func(db *fixture.DB) error { return db.UsePostgres(dsn) },
			func(src *importer.Source) error { return src.UsePostgres(dsn) })
	})
}

// importFromSQL writes the fixture's payments with lnd's SQL store (use), imports them
// from it (read) and compares every payment field by field.
func importFromSQL(t *testing.T, kind string, use func(*fixture.DB) error,
	read func(*importer.Source) error) {

	t.Helper()
	path := filepath.Join(t.TempDir(), "channel.db")
	db, err := fixture.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := use(db); err != nil {
		t.Fatal(err)
	}
	scenario, err := db.Build()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	src, store := open(t, path)
	if err := read(src); err != nil {
		t.Fatal(err)
	}
	r, err := importer.Run(context.Background(), src, store, importer.Options{Batch: 4, SkipMissionControl: true})
	if err != nil {
		t.Fatal(err)
	}
	n := uint64(len(scenario.Hashes))
	if r.Source != kind || r.Payments.Imported != n || r.Payments.Refused != 0 {
		t.Fatalf("report %+v, refused %+v", r.Payments, r.Refused)
	}
	v, err := importer.Verify(context.Background(), src, store, 5, true)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK() || v.Identical != n {
		t.Fatalf("verify: %+v", v)
	}
}

// emptyPostgresDatabase creates a database of its own in the test cluster named by
// LNPAYSTORE_TEST_PG_URL (`make lndtest` starts one) and returns its URL; it is dropped
// when the test ends.
func emptyPostgresDatabase(t *testing.T) string {
	t.Helper()
	cluster := os.Getenv("LNPAYSTORE_TEST_PG_URL")
	if cluster == "" {
		t.Skip("LNPAYSTORE_TEST_PG_URL is not set (make lndtest starts a PostgreSQL cluster and sets it)")
	}
	admin, err := sql.Open("pgx", cluster)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := fmt.Sprintf("lnd_import_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database %s in %s: %v", name, cluster, err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(cluster)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// A node that moved to lnd's SQL store with lnd's own migration: the payments come
// from SQLite, the legacy duplicates from the table lnd's migration kept them in.
func TestPaymentsMigratedToLndsSQLStoreWithTheirDuplicates(t *testing.T) {
	path, scenario, _ := channelDB(t)
	sqlite := filepath.Join(filepath.Dir(path), "lnd.sqlite")
	kv, err := fixture.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixture.MigrateToSQLite(kv.KV, sqlite); err != nil {
		t.Fatal(err)
	}
	kv.Close()
	src, store := open(t, path)
	if err := src.UseSQLite(sqlite); err != nil {
		t.Fatal(err)
	}
	r, err := importer.Run(context.Background(), src, store, importer.Options{SkipMissionControl: true})
	if err != nil {
		t.Fatal(err)
	}
	n := uint64(len(scenario.Hashes))
	if r.Payments.Imported != n || r.Payments.Refused != 0 || len(r.Duplicates) != scenario.Duplicates {
		t.Fatalf("report %+v, refused %+v, duplicates %+v", r.Payments, r.Refused, r.Duplicates)
	}
	for _, d := range r.Duplicates {
		if d.SQLID == 0 || d.PaymentHash != scenario.Hashes["succeeded"].String() {
			t.Fatalf("duplicate %+v", d)
		}
	}
	v, err := importer.Verify(context.Background(), src, store, 5, true)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK() || v.Identical != n {
		t.Fatalf("verify: %+v", v)
	}
}
