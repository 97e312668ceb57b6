// Command lnd-import-bench measures the lnd importer end to end (docs/performance.md,
// the import scenario's lnd part): it generates a channel.db with lnd's own payments store
// (3-hop routes, a mix of states; kept and reused in --dir), then imports it into a
// fresh durable store, and reports where the time goes: lnd's reading and decoding
// alone, the store's import alone (payments converted beforehand), and both together
// as the importer runs them (overlapping).
//
//	lnd-import-bench [--payments 100000] [--dir /dev/shm/lnd-import-bench] [--json]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	paymentsdb "github.com/lightningnetwork/lnd/payments/db"
	lps "github.com/lnpaystore/lnpaystore/bindings/go"
	"github.com/lnpaystore/lnpaystore/lnd/convert"
	"github.com/lnpaystore/lnpaystore/lnd/importer"
	"github.com/lnpaystore/lnpaystore/lnd/internal/fixture"
)

const target = 10_000.0

func main() {
	n := flag.Uint64("payments", 100_000, "payments in the generated channel.db")
	dir := flag.String("dir", filepath.Join(os.TempDir(), "lnd-import-bench"), "where the channel.db is generated (and reused) and the stores go")
	asJSON := flag.Bool("json", false, "one JSON object instead of a table")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the measured runs to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "lnd-import-bench:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*n, *dir, *asJSON); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "lnd-import-bench:", err)
		os.Exit(2)
	}
}

func run(n uint64, dir string, asJSON bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	db := filepath.Join(dir, fmt.Sprintf("channel-%d.db", n))
	if _, err := os.Stat(db); err != nil {
		if err := generate(db, n); err != nil {
			os.Remove(db)
			return err
		}
	}
	src, err := importer.OpenChannelDB(db)
	if err != nil {
		return err
	}
	defer src.Close()
	ctx := context.Background()

	// 1. lnd alone: read, decode and convert every payment.
	start := time.Now()
	var converted []lps.ImportPayment
	err = pages(ctx, src, func(p *paymentsdb.MPPayment) error {
		ip, err := convert.Payment(p)
		converted = append(converted, ip)
		return err
	})
	if err != nil {
		return err
	}
	lndOnly := time.Since(start)

	// 2. The store alone: import the converted payments, durable.
	storeOnly, err := timedImport(filepath.Join(dir, "store-only.db"), func(s *lps.Store) error {
		for i := 0; i < len(converted); i += importer.DefaultBatch {
			end := min(i+importer.DefaultBatch, len(converted))
			r, err := s.ImportPayments(converted[i:end])
			if err != nil {
				return err
			}
			if len(r.Refused) > 0 {
				return fmt.Errorf("refused: %v", r.Refused[0].Err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	converted = nil

	// 3. End to end, as lnd-import runs it.
	var report *importer.Report
	endToEnd, err := timedImport(filepath.Join(dir, "end-to-end.db"), func(s *lps.Store) error {
		report, err = importer.Run(ctx, src, s, importer.Options{SkipMissionControl: true})
		return err
	})
	if err != nil {
		return err
	}
	if report.Payments.Imported != n {
		return fmt.Errorf("imported %d of %d payments", report.Payments.Imported, n)
	}
	rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	figures := map[string]any{
		"scenario":                    "lnd-import",
		"lnd_version":                 importer.LndVersion,
		"payments":                    n,
		"lnd_read_only_per_s":         rate(lndOnly),
		"store_import_only_per_s":     rate(storeOnly),
		"end_to_end_per_s":            rate(endToEnd),
		"end_to_end_met":              rate(endToEnd) >= target,
		"end_to_end_lnd_read_seconds": report.Timing.LndReadSeconds,
		"end_to_end_store_seconds":    report.Timing.StoreWriteSeconds,
		"end_to_end_seconds":          endToEnd.Seconds(),
	}
	if asJSON {
		return json.NewEncoder(os.Stdout).Encode(figures)
	}
	fmt.Printf("lnd-import: %d payments from a channel.db written by lnd %s, into a durable store\n", n, importer.LndVersion)
	fmt.Printf("  %-34s %10.0f payments/s  (%.2f s)\n", "lnd reading + decoding only", rate(lndOnly), lndOnly.Seconds())
	fmt.Printf("  %-34s %10.0f payments/s  (%.2f s)\n", "store import only", rate(storeOnly), storeOnly.Seconds())
	met := "met"
	if rate(endToEnd) < target {
		met = "NOT MET"
	}
	fmt.Printf("  %-34s %10.0f payments/s  (%.2f s)  target ≥ %.0f  %s\n", "end to end", rate(endToEnd), endToEnd.Seconds(), target, met)
	fmt.Printf("  %-34s lnd %.2f s, store %.2f s (overlapping)\n", "end to end, time inside", report.Timing.LndReadSeconds, report.Timing.StoreWriteSeconds)
	return nil
}

func generate(path string, n uint64) error {
	fmt.Fprintf(os.Stderr, "generating %s with lnd's payments store...\n", path)
	db, err := fixture.Create(path)
	if err != nil {
		return err
	}
	db.NoOnion = true
	start := time.Now()
	err = db.Generate(n, func(done uint64) {
		if done%10_000 == 0 {
			fmt.Fprintf(os.Stderr, "  %d payments, %.0f/s\n", done, float64(done)/time.Since(start).Seconds())
		}
	})
	return errorsJoin(err, db.Close())
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func pages(ctx context.Context, src *importer.Source, f func(*paymentsdb.MPPayment) error) error {
	var offset uint64
	for {
		r, err := src.Payments.QueryPayments(ctx, paymentsdb.Query{IndexOffset: offset, MaxPayments: importer.DefaultBatch, IncludeIncomplete: true})
		if err != nil {
			return err
		}
		if len(r.Payments) == 0 {
			return nil
		}
		for _, p := range r.Payments {
			if err := f(p); err != nil {
				return err
			}
		}
		offset = r.LastIndexOffset
	}
}

// timedImport opens a fresh durable store (the default options), runs f and closes it;
// the time includes the close, so everything is on disk.
func timedImport(path string, f func(*lps.Store) error) (time.Duration, error) {
	os.Remove(path)
	defer os.Remove(path)
	s, err := lps.Open(path, nil)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	err = f(s)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return time.Since(start), err
}
