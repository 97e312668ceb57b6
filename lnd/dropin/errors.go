package dropin

import (
	"errors"
	"fmt"

	paymentsdb "github.com/lightningnetwork/lnd/payments/db"
	lps "github.com/lnpaystore/lnpaystore/bindings/go"
)

// lndErrors gives the store's status codes lnd's error values. Codes lnd has no value
// for (an unknown or repeated attempt id, a false preimage, bad input, storage
// failures) keep the store's error.
var lndErrors = map[lps.Status]error{
	lps.StatusPaymentExists:              paymentsdb.ErrPaymentExists,
	lps.StatusPaymentInFlight:            paymentsdb.ErrPaymentInFlight,
	lps.StatusAlreadyPaid:                paymentsdb.ErrAlreadyPaid,
	lps.StatusPaymentNotInitiated:        paymentsdb.ErrPaymentNotInitiated,
	lps.StatusPaymentAlreadySucceeded:    paymentsdb.ErrPaymentAlreadySucceeded,
	lps.StatusPaymentAlreadyFailed:       paymentsdb.ErrPaymentAlreadyFailed,
	lps.StatusPaymentPendingSettled:      paymentsdb.ErrPaymentPendingSettled,
	lps.StatusPaymentPendingFailed:       paymentsdb.ErrPaymentPendingFailed,
	lps.StatusAttemptAlreadySettled:      paymentsdb.ErrAttemptAlreadySettled,
	lps.StatusAttemptAlreadyFailed:       paymentsdb.ErrAttemptAlreadyFailed,
	lps.StatusValueMismatch:              paymentsdb.ErrValueMismatch,
	lps.StatusValueExceedsAmt:            paymentsdb.ErrValueExceedsAmt,
	lps.StatusNonMPPayment:               paymentsdb.ErrNonMPPayment,
	lps.StatusMPPayment:                  paymentsdb.ErrMPPayment,
	lps.StatusMPPPaymentAddrMismatch:     paymentsdb.ErrMPPPaymentAddrMismatch,
	lps.StatusMPPTotalAmountMismatch:     paymentsdb.ErrMPPTotalAmountMismatch,
	lps.StatusMPPRecordInBlindedPayment:  paymentsdb.ErrMPPRecordInBlindedPayment,
	lps.StatusBlindedTotalAmountMismatch: paymentsdb.ErrBlindedPaymentTotalAmountMismatch,
	lps.StatusMixedBlindedAndNonBlinded:  paymentsdb.ErrMixedBlindedAndNonBlindedPayments,
	lps.StatusBlindedMissingTotalAmount:  paymentsdb.ErrBlindedPaymentMissingTotalAmount,
	lps.StatusSentExceedsTotal:           paymentsdb.ErrSentExceedsTotal,
}

// lndError wraps a store error in lnd's error value for its code, so that both
// errors.Is(err, paymentsdb.ErrAlreadyPaid) and errors.Is(err, lps.ErrAlreadyPaid) hold;
// the message is the store's (it names what failed).
func lndError(err error) error {
	var e *lps.Error
	if !errors.As(err, &e) {
		return err
	}
	if v, ok := lndErrors[e.Code]; ok {
		return fmt.Errorf("%w (%w)", v, err)
	}
	return err
}
