// Command lnd-import moves a stopped lnd node's payment history and mission-control
// results into an lnpaystore store, reading them with lnd's own packages. It keeps
// lnd's sequence numbers (clients' paging cursors stay valid), can be rerun after an
// interruption without duplicating anything, and --verify compares both sides field
// by field.
//
//	lnd-import --channel-db ~/.lnd/data/graph/mainnet/channel.db --store payments.db
//	    [--sqlite lnd.sqlite | --postgres DSN] [--verify] [--json] [--batch N]
//	    [--no-payments] [--no-mission-control]
//
// Exit status: 0 when everything arrived (and, with --verify, compared equal); 1 when
// something was refused or differs (the report says what); 2 on an error.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	lps "github.com/lnpaystore/lnpaystore/bindings/go"
	"github.com/lnpaystore/lnpaystore/lnd/importer"
)

type output struct {
	Import *importer.Report       `json:"import"`
	Verify *importer.Verification `json:"verify,omitempty"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lnd-import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	channelDB := fs.String("channel-db", "", "lnd's channel.db (lnd stopped; opened read-only)")
	sqlite := fs.String("sqlite", "", "lnd's native SQL payments store in this SQLite file, if the node uses one")
	postgres := fs.String("postgres", "", "lnd's native SQL payments store in this PostgreSQL database (DSN)")
	storePath := fs.String("store", "", "the lnpaystore store to import into: a file (created if missing) or a postgres:// URL")
	verify := fs.Bool("verify", false, "afterwards, read both sides again and compare every payment field by field")
	asJSON := fs.Bool("json", false, "print the report as JSON on standard output")
	batch := fs.Int("batch", importer.DefaultBatch, "payments per import call")
	noPayments := fs.Bool("no-payments", false, "leave the payments out")
	noMC := fs.Bool("no-mission-control", false, "leave mission control out")
	progress := fs.Bool("progress", isTerminal(stderr), "show progress with rate and ETA on standard error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *channelDB == "" || *storePath == "" {
		fmt.Fprintln(stderr, "lnd-import: --channel-db and --store are required")
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "lnd-import: %v\n", err)
		return 2
	}

	src, err := importer.OpenChannelDB(*channelDB)
	if err != nil {
		return fail(err)
	}
	defer src.Close()
	switch {
	case *sqlite != "" && *postgres != "":
		return fail(fmt.Errorf("--sqlite and --postgres exclude each other"))
	case *sqlite != "":
		err = src.UseSQLite(*sqlite)
	case *postgres != "":
		err = src.UsePostgres(*postgres)
	}
	if err != nil {
		return fail(err)
	}
	store, err := lps.Open(*storePath, nil)
	if err != nil {
		return fail(fmt.Errorf("store %s: %w", *storePath, err))
	}
	defer store.Close()

	ctx := context.Background()
	opts := importer.Options{Batch: *batch, SkipPayments: *noPayments, SkipMissionControl: *noMC}
	if *progress {
		opts.Progress = progressBar(stderr)
	}
	out := output{}
	out.Import, err = importer.Run(ctx, src, store, opts)
	if *progress {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return fail(err)
	}
	if *verify {
		out.Verify, err = importer.Verify(ctx, src, store, uint64(*batch), *noMC)
		if err != nil {
			return fail(fmt.Errorf("verify: %w", err))
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fail(err)
		}
	} else {
		summary(stdout, &out)
	}
	clean := out.Import.Payments.Refused == 0
	for _, ns := range out.Import.MissionControl {
		clean = clean && len(ns.Refused) == 0
	}
	if out.Verify != nil {
		clean = clean && out.Verify.OK()
	}
	if !clean {
		return 1
	}
	return 0
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar redraws one line: done/total, percent, rate and time left.
func progressBar(w io.Writer) func(importer.Progress) {
	return func(p importer.Progress) {
		rate := float64(p.Done) / p.Elapsed.Seconds()
		eta := "?"
		if rate > 0 && p.Total >= p.Done {
			eta = (time.Duration(float64(p.Total-p.Done)/rate) * time.Second).Round(time.Second).String()
		}
		pct := 100.0
		if p.Total > 0 {
			pct = 100 * float64(p.Done) / float64(p.Total)
		}
		const width = 30
		filled := int(pct / 100 * width)
		bar := make([]byte, width)
		for i := range bar {
			bar[i] = ' '
			if i < filled {
				bar[i] = '#'
			}
		}
		fmt.Fprintf(w, "\rpayments [%s] %d/%d %5.1f%%  %.0f/s  ETA %s   ", bar, p.Done, p.Total, pct, rate, eta)
	}
}

func summary(w io.Writer, out *output) {
	r := out.Import
	p := r.Payments
	fmt.Fprintf(w, "lnd %s, payments from %s\n", r.LndVersion, r.Source)
	fmt.Fprintf(w, "payments: %d read, %d imported, %d already present, %d refused, %d legacy duplicates listed\n",
		p.Read, p.Imported, p.AlreadyPresent, p.Refused, p.Duplicates)
	fmt.Fprintf(w, "  by status %v; value %d msat, fees %d msat\n", p.ByStatus, p.ValueMsat, p.FeesMsat)
	for _, x := range r.Refused {
		fmt.Fprintf(w, "  refused %d %s (%s): %s\n", x.SequenceNum, x.PaymentHash, x.Status, x.Reason)
	}
	for _, d := range r.Duplicates {
		fmt.Fprintf(w, "  legacy duplicate %d %s (%s, %d msat): not imported, listed in --json\n",
			d.SequenceNum, d.PaymentHash, d.Status, d.ValueMsat)
	}
	fmt.Fprintf(w, "  %.2f s, %.0f payments/s (lnd reading %.2f s, store writing %.2f s, overlapping)\n",
		r.Timing.PaymentsSeconds, r.Timing.PaymentsPerSecond, r.Timing.LndReadSeconds, r.Timing.StoreWriteSeconds)
	for ns, f := range r.MissionControl {
		fmt.Fprintf(w, "mission control %q: %d results, %d stored byte-identical, %d refused\n", ns, f.Results, f.Queued, len(f.Refused))
		for _, x := range f.Refused {
			fmt.Fprintf(w, "  refused %s\n", x)
		}
	}
	if v := out.Verify; v != nil {
		fmt.Fprintf(w, "verify: %d payments compared, %d identical, %d missing, %d different\n",
			v.Compared, v.Identical, v.Missing, v.Different)
		for ns, c := range v.MissionControl {
			fmt.Fprintf(w, "  mission control %q: lnd %d, lnpaystore %d, missing %d, not in lnd %d\n",
				ns, c.Lnd, c.Store, c.Missing, c.Unmatched)
		}
		for _, d := range v.Differences {
			fmt.Fprintf(w, "  %s\n", d)
		}
	}
}
