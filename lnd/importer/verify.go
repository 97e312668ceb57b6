package importer

import (
	"context"
	"errors"
	"fmt"

	paymentsdb "github.com/lightningnetwork/lnd/payments/db"
	lps "github.com/lnpaystore/lnpaystore/bindings/go"
	"github.com/lnpaystore/lnpaystore/lnd/convert"
	"github.com/lnpaystore/lnpaystore/lnd/internal/fielddiff"
)

// MaxListed bounds the differences a verification lists (all are counted).
const MaxListed = 100

// Verification is what --verify found: every lnd payment read again and compared,
// field by field, with the store's; every mission-control namespace compared by key.
type Verification struct {
	// Compared payments (legacy duplicates, which are listed instead, excluded).
	Compared uint64 `json:"compared"`
	// Identical payments: every stored field, the status and the derived state agree.
	Identical uint64 `json:"identical"`
	// Missing in the store; Different in at least one field.
	Missing     uint64   `json:"missing"`
	Different   uint64   `json:"different"`
	Differences []string `json:"differences"`
	// MissionControl per namespace.
	MissionControl map[string]*NamespaceCheck `json:"mission_control"`
}

// NamespaceCheck compares one namespace's results by key.
type NamespaceCheck struct {
	Lnd       uint64 `json:"lnd"`
	Store     uint64 `json:"lnpaystore"`
	Missing   uint64 `json:"missing"`
	Unmatched uint64 `json:"not_in_lnd"`
}

// OK is true when nothing differs.
func (v *Verification) OK() bool {
	if v.Missing != 0 || v.Different != 0 {
		return false
	}
	for _, ns := range v.MissionControl {
		if ns.Missing != 0 || ns.Lnd != ns.Store {
			return false
		}
	}
	return true
}

// Verify reads every payment from lnd again and from the store, and compares them.
func Verify(ctx context.Context, src *Source, store *lps.Store, pageSize uint64,
	skipMissionControl bool) (*Verification, error) {

	v := &Verification{Differences: []string{}, MissionControl: map[string]*NamespaceCheck{}}
	note := func(s string) {
		if len(v.Differences) < MaxListed {
			v.Differences = append(v.Differences, s)
		}
	}
	err := src.pages(ctx, pageSize, func(page []*paymentsdb.MPPayment) error {
		for _, p := range page {
			dup, err := src.isLegacyDuplicate(ctx, p)
			if err != nil {
				return err
			}
			if dup {
				continue
			}
			v.Compared++
			ours, err := store.FetchPayment(convert.Hash(p))
			if errors.Is(err, lps.ErrPaymentNotInitiated) {
				v.Missing++
				note(fmt.Sprintf("payment %d (%x): not in the store", p.SequenceNum, p.Info.PaymentIdentifier))
				continue
			}
			if err != nil {
				return fmt.Errorf("payment %d: %w", p.SequenceNum, err)
			}
			d := comparePayment(p, ours)
			if len(d) == 0 {
				v.Identical++
				continue
			}
			v.Different++
			for _, s := range d {
				note(fmt.Sprintf("payment %d: %s", p.SequenceNum, s))
			}
		}
		return nil
	})
	if err != nil || skipMissionControl {
		return v, err
	}
	return v, verifyMissionControl(src, store, v)
}

// comparePayment lists every field in which the store's payment differs from lnd's:
// the stored parts (sequence number, creation info, each attempt with its outcome,
// the failure reason), then the status and derived state each side computes.
func comparePayment(lnd *paymentsdb.MPPayment, ours *lps.Payment) []string {
	want, err := convert.Payment(lnd)
	if err != nil {
		return []string{err.Error()}
	}
	type stored struct {
		SequenceNum   uint64
		Hash          lps.Hash
		Info          lps.CreationInfo
		HTLCs         []lps.HTLCAttempt
		FailureReason *lps.FailureReason
	}
	d := fielddiff.Diff("payment",
		stored{want.SequenceNum, want.Hash, want.Info, want.HTLCs, want.FailureReason},
		stored{ours.SequenceNum, ours.Hash, ours.Info, ours.HTLCs, ours.FailureReason})
	// The session keys once more, through lnd's parsed key rather than its stored bytes.
	for i := range lnd.HTLCs {
		if i >= len(ours.HTLCs) {
			break
		}
		var parsed [32]byte
		if key := lnd.HTLCs[i].SessionKey(); key != nil {
			copy(parsed[:], key.Serialize())
		}
		if parsed != ours.HTLCs[i].SessionKey {
			d = append(d, fmt.Sprintf("payment.HTLCs[%d].SessionKey: lnd's parsed key differs", i))
		}
	}
	d = append(d, fielddiff.Diff("status", convert.Status(lnd.Status), ours.Status)...)
	if lnd.State != nil {
		d = append(d, fielddiff.Diff("state", convert.State(lnd.State), ours.State)...)
	}
	return d
}
