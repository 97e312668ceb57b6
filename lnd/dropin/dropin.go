// Package dropin is lnd's payments database (paymentsdb.DB of lnd v0.21.2-beta)
// implemented on an lnpaystore store, with lnd's own types and error values, so an
// lnd-based node can hand it to its router in place of lnd's KVStore or SQLStore.
// docs/lnd-dropin.md says how, and where it is deliberately stricter than lnd.
package dropin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lightningnetwork/lnd/lntypes"
	paymentsdb "github.com/lightningnetwork/lnd/payments/db"
	lps "github.com/lnpaystore/lnpaystore/bindings/go"
	"github.com/lnpaystore/lnpaystore/lnd/convert"
)

// PaymentsDB is lnd's payments database on an lnpaystore store. It is safe for
// concurrent use, as the store is; it does not own the store (Close it yourself).
type PaymentsDB struct {
	store *lps.Store
}

var _ paymentsdb.DB = (*PaymentsDB)(nil)

// New wraps an open store.
func New(store *lps.Store) *PaymentsDB { return &PaymentsDB{store: store} }

// Store is the lnpaystore store underneath (for its own calls: subscriptions,
// counts, backups).
func (d *PaymentsDB) Store() *lps.Store { return d.store }

// InitPayment records a new payment, or restarts a FAILED one. Once any attempt of the
// hash settled it fails with ErrAlreadyPaid for ever, also after the payment was
// deleted (lnd would pay the hash again).
func (d *PaymentsDB) InitPayment(_ context.Context, hash lntypes.Hash,
	info *paymentsdb.PaymentCreationInfo) error {

	c := convert.CreationInfo(info)
	return lndError(d.store.InitPayment(lps.Hash(hash), &c))
}

// RegisterAttempt records one attempt, checked as lnd checks it; an attempt id the
// payment already has is refused (lps.ErrAttemptExists; lnd would overwrite it).
func (d *PaymentsDB) RegisterAttempt(_ context.Context, hash lntypes.Hash,
	attempt *paymentsdb.HTLCAttemptInfo) (*paymentsdb.MPPayment, error) {

	a := convert.AttemptInfo(attempt)
	return d.payment(d.store.RegisterAttempt(lps.Hash(hash), &a))
}

// SettleAttempt records an attempt's preimage. A preimage that does not hash to the
// attempt's hash is refused (lps.ErrPreimageMismatch; lnd would record it).
func (d *PaymentsDB) SettleAttempt(_ context.Context, hash lntypes.Hash, attemptID uint64,
	settle *paymentsdb.HTLCSettleInfo) (*paymentsdb.MPPayment, error) {

	p, err := d.store.SettleAttempt(lps.Hash(hash), attemptID, convert.SettleInfo(settle))
	return d.payment(p, attemptError(err, attemptID))
}

// FailAttempt records why an attempt failed.
func (d *PaymentsDB) FailAttempt(_ context.Context, hash lntypes.Hash, attemptID uint64,
	fail *paymentsdb.HTLCFailInfo) (*paymentsdb.MPPayment, error) {

	f, err := convert.FailInfo(fail)
	if err != nil {
		return nil, err
	}
	p, err := d.store.FailAttempt(lps.Hash(hash), attemptID, f)
	return d.payment(p, attemptError(err, attemptID))
}

// Fail records the payment's failure reason (allowed with attempts in flight).
func (d *PaymentsDB) Fail(_ context.Context, hash lntypes.Hash,
	reason paymentsdb.FailureReason) (*paymentsdb.MPPayment, error) {

	return d.payment(d.store.FailPayment(lps.Hash(hash), lps.FailureReason(reason)))
}

// DeleteFailedAttempts removes a finished payment's failed attempts.
func (d *PaymentsDB) DeleteFailedAttempts(_ context.Context, hash lntypes.Hash) error {
	return lndError(d.store.DeleteFailedAttempts(lps.Hash(hash)))
}

// DeletePayment deletes a payment that is not in flight, or only its failed attempts.
// An unknown hash gives ErrPaymentNotInitiated.
func (d *PaymentsDB) DeletePayment(_ context.Context, hash lntypes.Hash,
	failedAttemptsOnly bool) error {

	return lndError(d.store.DeletePayment(lps.Hash(hash), failedAttemptsOnly))
}

// DeletePayments deletes every payment that is not in flight (or only the FAILED
// ones), or only their failed attempts, and returns how many payments went.
func (d *PaymentsDB) DeletePayments(_ context.Context, failedOnly,
	failedAttemptsOnly bool) (int, error) {

	n, err := d.store.DeletePayments(lps.DeleteOptions{
		FailedOnly:         failedOnly,
		AllPayments:        !failedOnly,
		FailedAttemptsOnly: failedAttemptsOnly,
	})
	return n, lndError(err)
}

// FetchPayment reads one payment.
func (d *PaymentsDB) FetchPayment(_ context.Context,
	hash lntypes.Hash) (*paymentsdb.MPPayment, error) {

	return d.payment(d.store.FetchPayment(lps.Hash(hash)))
}

// FetchInFlightPayments returns every payment that is not terminal, in sequence order.
func (d *PaymentsDB) FetchInFlightPayments(_ context.Context) ([]*paymentsdb.MPPayment, error) {
	ps, err := d.store.FetchInflightPayments()
	if err != nil {
		return nil, lndError(err)
	}
	return lndPayments(ps)
}

// QueryPayments reads one page as lnd's stores do: IndexOffset exclusive, MaxPayments
// 0 gives an empty page, dates in unix seconds (0 = open), OmitHops leaves hops out
// (as lnd's SQL store does; its KV store ignores it).
func (d *PaymentsDB) QueryPayments(_ context.Context,
	q paymentsdb.Query) (paymentsdb.Response, error) {

	var resp paymentsdb.Response
	lq := lps.Query{
		IndexOffset:       q.IndexOffset,
		MaxPayments:       q.MaxPayments,
		Reversed:          q.Reversed,
		ExcludeIncomplete: !q.IncludeIncomplete,
		CountTotal:        q.CountTotal,
		CreationDateStart: unixTime(q.CreationDateStart),
		CreationDateEnd:   unixTime(q.CreationDateEnd),
		OmitHops:          q.OmitHops,
	}
	if q.MaxPayments == 0 {
		// lnd's stores answer an empty page; the store would use its default size.
		if q.CountTotal {
			c, err := d.store.PaymentCounts()
			resp.TotalCount = c.Total
			return resp, lndError(err)
		}
		return resp, nil
	}
	r, err := d.store.QueryPayments(lq)
	if err != nil {
		return resp, lndError(err)
	}
	resp.TotalCount = r.TotalCount
	if resp.Payments, err = lndPayments(r.Payments); err != nil {
		return resp, err
	}
	resp.FirstIndexOffset, resp.LastIndexOffset = r.FirstIndexOffset, r.LastIndexOffset
	return resp, nil
}

// unixTime maps lnd's unix seconds (0 = open) to the binding's time.
func unixTime(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0)
}

func (d *PaymentsDB) payment(p *lps.Payment, err error) (*paymentsdb.MPPayment, error) {
	if err != nil {
		return nil, lndError(err)
	}
	return convert.LndPayment(p)
}

func lndPayments(ps []*lps.Payment) ([]*paymentsdb.MPPayment, error) {
	out := make([]*paymentsdb.MPPayment, 0, len(ps))
	for _, p := range ps {
		m, err := convert.LndPayment(p)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// attemptError words an unknown attempt as lnd does (lnd has no error value for it).
func attemptError(err error, attemptID uint64) error {
	if errors.Is(err, lps.ErrAttemptNotFound) {
		return fmt.Errorf("HTLC with ID %v not registered: %w", attemptID, err)
	}
	return err
}
