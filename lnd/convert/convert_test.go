package convert

import (
	"bytes"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/lightningnetwork/lnd/lntypes"
	paymentsdb "github.com/lightningnetwork/lnd/payments/db"
	"github.com/lightningnetwork/lnd/routing/route"
)

// The session key read from lnd's stored bytes is the one lnd's parsed key gives.
func TestSessionKeyIsLndsOwn(t *testing.T) {
	hop, _ := btcec.PrivKeyFromBytes(bytes.Repeat([]byte{7}, 32))
	rt := route.Route{TotalAmount: 1000, Hops: []*route.Hop{{
		PubKeyBytes: route.NewVertex(hop.PubKey()), ChannelID: 1, AmtToForward: 1000, OutgoingTimeLock: 100,
	}}}
	for _, seed := range []byte{1, 0x42, 0xfe} {
		key, _ := btcec.PrivKeyFromBytes(bytes.Repeat([]byte{seed}, 32))
		hash := lntypes.Hash{seed}
		a, err := paymentsdb.NewHtlcAttempt(uint64(seed), key, rt, time.Unix(1, 0), &hash)
		if err != nil {
			t.Fatal(err)
		}
		var want [32]byte
		copy(want[:], a.SessionKey().Serialize())
		if got := SessionKey(&a.HTLCAttemptInfo); got != want {
			t.Fatalf("seed %d: %x, lnd's key %x", seed, got, want)
		}
	}
}
