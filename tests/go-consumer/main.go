// Command go-consumer uses the Go binding from outside its module, as a node's
// module would: through a replace directive (see bindings/go/README.md). It pays one
// payment in a temporary store, reads it back, prints the counts and exits 0.
package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	lnpaystore "github.com/lnpaystore/lnpaystore/bindings/go"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "go-consumer:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "go-consumer")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	store, err := lnpaystore.Open(filepath.Join(dir, "payments.db"), nil)
	if err != nil {
		return err
	}
	defer store.Close()
	fmt.Println("lnpaystore", lnpaystore.Version(), "ABI", lnpaystore.ABIVersion())

	preimage := lnpaystore.Preimage(sha256.Sum256([]byte("go-consumer")))
	hash := preimage.Hash()
	now := time.Now()
	if err := store.InitPayment(hash, &lnpaystore.CreationInfo{Value: 21_000, CreationTime: now}); err != nil {
		return err
	}
	route := lnpaystore.Route{
		TotalTimeLock: 144,
		TotalAmount:   21_010,
		SourcePubKey:  lnpaystore.PubKey{2, 1},
		Hops: []lnpaystore.Hop{
			{PubKey: lnpaystore.PubKey{2, 2}, ChannelID: 1, OutgoingTimeLock: 140, AmtToForward: 21_000},
			{PubKey: lnpaystore.PubKey{3, 3}, ChannelID: 2, OutgoingTimeLock: 100, AmtToForward: 21_000},
		},
	}
	if _, err := store.RegisterAttempt(hash, &lnpaystore.AttemptInfo{AttemptID: 1, Route: route, AttemptTime: now}); err != nil {
		return err
	}
	if _, err := store.SettleAttempt(hash, 1, &lnpaystore.SettleInfo{Preimage: preimage, SettleTime: time.Now()}); err != nil {
		return err
	}

	p, err := store.FetchPayment(hash)
	if err != nil {
		return err
	}
	if p.Status != lnpaystore.PaymentStatusSucceeded || p.HTLCs[0].Settle.Preimage != preimage {
		return fmt.Errorf("read back %v", p.Status)
	}
	fmt.Printf("payment %x: %v, %d msat, fees %d msat\n", p.Hash[:4], p.Status, p.Info.Value, p.State.FeesPaid)
	if err := store.InitPayment(hash, &lnpaystore.CreationInfo{Value: 21_000}); !errors.Is(err, lnpaystore.ErrAlreadyPaid) {
		return fmt.Errorf("paying twice: %v", err)
	}

	counts, err := store.PaymentCounts()
	if err != nil {
		return err
	}
	fmt.Printf("counts: %+v\n", counts)
	return store.Close()
}
