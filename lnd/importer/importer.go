package importer

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	paymentsdb "github.com/lightningnetwork/lnd/payments/db"
	lps "github.com/lnpaystore/lnpaystore/bindings/go"
	"github.com/lnpaystore/lnpaystore/lnd/convert"
)

// LndVersion is the lnd release whose packages read the source.
const LndVersion = "v0.21.2-beta"

// DefaultBatch is how many payments one import call carries.
const DefaultBatch = 1000

// Options tune an import.
type Options struct {
	// Batch is the number of payments read from lnd and imported per call (0: 1000).
	Batch int
	// Progress, if set, is called after each batch.
	Progress func(Progress)
	// SkipPayments and SkipMissionControl leave one part out.
	SkipPayments, SkipMissionControl bool
}

// Progress is how far the payments are.
type Progress struct {
	Done, Total uint64
	Elapsed     time.Duration
}

// Report is what an import did, for people and (as JSON) for scripts.
type Report struct {
	LndVersion     string                       `json:"lnd_version"`
	Source         string                       `json:"source"`
	Payments       PaymentFigures               `json:"payments"`
	Refused        []Refusal                    `json:"refused"`
	Duplicates     []Duplicate                  `json:"legacy_duplicates"`
	MissionControl map[string]*NamespaceFigures `json:"mission_control"`
	Timing         Timing                       `json:"timing"`
}

// PaymentFigures count the payments.
type PaymentFigures struct {
	// Read is every payment lnd returned, legacy duplicates included.
	Read uint64 `json:"read"`
	// Imported are new in the store; AlreadyPresent were there, identical (a resumed
	// import).
	Imported       uint64 `json:"imported"`
	AlreadyPresent uint64 `json:"already_present"`
	// Refused are listed in Report.Refused; Duplicates in Report.Duplicates.
	Refused    uint64 `json:"refused"`
	Duplicates uint64 `json:"legacy_duplicates"`
	// ByStatus, ValueMsat and FeesMsat cover the payments now in the store (imported
	// or already present), with lnd's status and figures.
	ByStatus  map[string]uint64 `json:"by_status"`
	ValueMsat uint64            `json:"value_msat"`
	FeesMsat  uint64            `json:"fees_msat"`
}

// Refusal is a payment that is not in the store as lnd has it, and why.
type Refusal struct {
	SequenceNum uint64 `json:"sequence_num"`
	PaymentHash string `json:"payment_hash"`
	Status      string `json:"status"`
	Reason      string `json:"reason"`
}

// NamespaceFigures count one mission-control namespace.
type NamespaceFigures struct {
	// Results lnd holds; Queued of them were handed to the store (a rerun hands them
	// again: equal keys are stored once); Refused are listed with their reason.
	Results uint64   `json:"results"`
	Queued  uint64   `json:"queued"`
	Refused []string `json:"refused,omitempty"`
}

// Timing says where the time went.
type Timing struct {
	// LndReadSeconds is spent in lnd's packages (reading and decoding) and converting;
	// StoreWriteSeconds in the store's import calls. They overlap: the reader runs
	// ahead of the writer.
	LndReadSeconds    float64 `json:"lnd_read_seconds"`
	StoreWriteSeconds float64 `json:"store_write_seconds"`
	PaymentsSeconds   float64 `json:"payments_seconds"`
	MissionCtlSeconds float64 `json:"mission_control_seconds"`
	PaymentsPerSecond float64 `json:"payments_per_second"`
}

// batch is what the reader hands the writer.
type batch struct {
	lnd        []*paymentsdb.MPPayment
	payments   []lps.ImportPayment
	duplicates []Duplicate
	// readSeconds were spent reading and converting this batch.
	readSeconds float64
}

// Run imports the source's payments and mission-control results into store. It can
// be run again after an interruption: what is already in the store, identical, is
// counted as present and nothing is written twice.
func Run(ctx context.Context, src *Source, store *lps.Store, opts Options) (*Report, error) {
	r := &Report{
		LndVersion:     LndVersion,
		Source:         src.Kind,
		Payments:       PaymentFigures{ByStatus: map[string]uint64{}},
		Refused:        []Refusal{},
		Duplicates:     []Duplicate{},
		MissionControl: map[string]*NamespaceFigures{},
	}
	if !opts.SkipPayments {
		start := time.Now()
		if err := importPayments(ctx, src, store, opts, r); err != nil {
			return r, err
		}
		r.Timing.PaymentsSeconds = time.Since(start).Seconds()
		if r.Timing.PaymentsSeconds > 0 {
			r.Timing.PaymentsPerSecond = float64(r.Payments.Read) / r.Timing.PaymentsSeconds
		}
	}
	if !opts.SkipMissionControl {
		start := time.Now()
		if err := importMissionControl(src, store, r); err != nil {
			return r, err
		}
		r.Timing.MissionCtlSeconds = time.Since(start).Seconds()
	}
	return r, nil
}

func importPayments(ctx context.Context, src *Source, store *lps.Store, opts Options, r *Report) error {
	size := opts.Batch
	if size <= 0 {
		size = DefaultBatch
	}
	total, err := src.count(ctx)
	if err != nil {
		return fmt.Errorf("count lnd's payments: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	last, err := src.lastSequenceNum(ctx)
	if err != nil {
		return fmt.Errorf("lnd's last sequence number: %w", err)
	}
	// lnd's reading and decoding costs more than the store's writing: one reader per
	// core, each over its own range of sequence numbers, feed the one writer.
	readers := uint64(max(1, runtime.GOMAXPROCS(0)))
	batches := make(chan batch, 2*readers)
	readErrs := make(chan error, readers)
	start := time.Now()
	var wg sync.WaitGroup
	for i := uint64(0); i < readers; i++ {
		after, upTo := last/readers*i, last/readers*(i+1)
		if i == readers-1 {
			upTo = last
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			readErrs <- read(ctx, src, after, upTo, uint64(size), batches)
		}()
	}
	go func() {
		wg.Wait()
		close(batches)
		close(readErrs)
	}()
	for b := range batches {
		if err := ctx.Err(); err != nil {
			for range batches {
			}
			return err
		}
		r.Timing.LndReadSeconds += b.readSeconds
		t := time.Now()
		report, err := store.ImportPayments(b.payments)
		r.Timing.StoreWriteSeconds += time.Since(t).Seconds()
		if err != nil {
			cancel()
			for range batches {
			}
			return fmt.Errorf("import: %w", err)
		}
		if err := account(store, b, report, r); err != nil {
			cancel()
			for range batches {
			}
			return err
		}
		if opts.Progress != nil {
			opts.Progress(Progress{Done: r.Payments.Read, Total: total, Elapsed: time.Since(start)})
		}
	}
	for err := range readErrs {
		if err != nil {
			return err
		}
	}
	dups, err := src.sqlDuplicates(ctx)
	r.Duplicates = append(r.Duplicates, dups...)
	r.Payments.Duplicates += uint64(len(dups))
	r.Payments.Read += uint64(len(dups))
	return err
}

// read runs lnd's queries over the sequence numbers in (after, upTo] and converts each
// page; legacy duplicates go to the report.
func read(ctx context.Context, src *Source, after, upTo, size uint64, out chan<- batch) error {
	t := time.Now()
	return src.rangePages(ctx, after, upTo, size, func(page []*paymentsdb.MPPayment) error {
		var b batch
		for _, p := range page {
			dup, err := src.isLegacyDuplicate(ctx, p)
			if err != nil {
				return err
			}
			if dup {
				b.duplicates = append(b.duplicates, duplicate(p))
				continue
			}
			ip, err := convert.Payment(p)
			if err != nil {
				return fmt.Errorf("payment %d: %w", p.SequenceNum, err)
			}
			b.lnd = append(b.lnd, p)
			b.payments = append(b.payments, ip)
		}
		b.readSeconds = time.Since(t).Seconds()
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		t = time.Now()
		return nil
	})
}

// isLegacyDuplicate: lnd before 0.10 could pay a hash twice and kept the older payments
// in a duplicate bucket under the hash; lnd's store returns them with no derived state.
// The hash's own payment (another sequence number) is imported; these cannot share its
// hash in the store, so they are listed in the report instead.
func (s *Source) isLegacyDuplicate(ctx context.Context, p *paymentsdb.MPPayment) (bool, error) {
	if p.State != nil {
		return false, nil
	}
	main, err := s.Payments.FetchPayment(ctx, p.Info.PaymentIdentifier)
	if err != nil {
		return false, fmt.Errorf("payment %d: lnd FetchPayment: %w", p.SequenceNum, err)
	}
	return main.SequenceNum != p.SequenceNum, nil
}

// account adds one import call's outcome to the report.
func account(store *lps.Store, b batch, rep *lps.ImportReport, r *Report) error {
	refused := make(map[int]lps.ImportRefusal, len(rep.Refused))
	for _, x := range rep.Refused {
		refused[x.Index] = x
	}
	for i, p := range b.lnd {
		r.Payments.Read++
		x, isRefused := refused[i]
		if isRefused {
			present, reason, err := alreadyPresent(store, p, b.payments[i], x)
			if err != nil {
				return err
			}
			if !present {
				r.Payments.Refused++
				r.Refused = append(r.Refused, Refusal{
					SequenceNum: p.SequenceNum,
					PaymentHash: hex.EncodeToString(p.Info.PaymentIdentifier[:]),
					Status:      convert.Status(p.Status).String(),
					Reason:      reason,
				})
				continue
			}
			r.Payments.AlreadyPresent++
		} else {
			r.Payments.Imported++
		}
		r.Payments.ByStatus[convert.Status(p.Status).String()]++
		r.Payments.ValueMsat += uint64(p.Info.Value)
		if p.State != nil {
			r.Payments.FeesMsat += uint64(p.State.FeesPaid)
		}
	}
	r.Duplicates = append(r.Duplicates, b.duplicates...)
	r.Payments.Duplicates += uint64(len(b.duplicates))
	r.Payments.Read += uint64(len(b.duplicates))
	return nil
}

// alreadyPresent tells a resumed import (the same payment is in the store) from a
// conflict (another payment holds the hash or number); the reason names the conflict.
func alreadyPresent(store *lps.Store, lnd *paymentsdb.MPPayment, want lps.ImportPayment,
	x lps.ImportRefusal) (bool, string, error) {

	if !errors.Is(x.Err, lps.ErrPaymentExists) {
		return false, x.Err.Error(), nil
	}
	ours, err := store.FetchPayment(want.Hash)
	if err != nil {
		return false, "", fmt.Errorf("payment %d: read back: %w", want.SequenceNum, err)
	}
	if d := comparePayment(lnd, ours); len(d) > 0 {
		return false, fmt.Sprintf("%v; the store's payment with this hash differs: %s", x.Err, d[0]), nil
	}
	return true, "", nil
}
