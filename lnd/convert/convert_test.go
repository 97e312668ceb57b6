package convert

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/lightningnetwork/lnd/lntypes"
	"github.com/lightningnetwork/lnd/lnwire"
	paymentsdb "github.com/lightningnetwork/lnd/payments/db"
	"github.com/lightningnetwork/lnd/routing/route"
	lps "github.com/lnpaystore/lnpaystore/bindings/go"
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

// lnpaystore's attempt taken to lnd's types and back is unchanged, every hop field and
// the session key included (the drop-in's way out and in).
func TestAttemptRoundTrip(t *testing.T) {
	blinding, _ := btcec.PrivKeyFromBytes(bytes.Repeat([]byte{5}, 32))
	var bp [33]byte
	copy(bp[:], blinding.PubKey().SerializeCompressed())
	hash := lps.Hash{9}
	want := lps.HTLCAttempt{
		AttemptInfo: lps.AttemptInfo{
			AttemptID: 4, SessionKey: [32]byte{1, 2, 3}, AttemptTime: time.Unix(5, 6), Hash: &hash,
			Route: lps.Route{
				TotalTimeLock: 7, TotalAmount: 1_100, SourcePubKey: lps.PubKey{2},
				FirstHopAmount: 1_050, FirstHopWireCustomRecords: map[uint64][]byte{65536: {1}},
				Hops: []lps.Hop{
					{PubKey: lps.PubKey{3}, ChannelID: 8, OutgoingTimeLock: 9, AmtToForward: 1_050, LegacyPayload: true},
					{PubKey: lps.PubKey{4}, EncryptedData: []byte{1}, BlindingPoint: &bp},
					{PubKey: lps.PubKey{5}, AmtToForward: 1_000, TotalAmt: 2_000, EncryptedData: []byte{2},
						MPP:      &lps.MPP{PaymentAddr: [32]byte{6}, TotalAmount: 2_000},
						AMP:      &lps.AMP{RootShare: [32]byte{7}, SetID: [32]byte{8}, ChildIndex: 3},
						Metadata: []byte{9}, CustomRecords: map[uint64][]byte{70000: {1, 2}}},
				},
			},
		},
		Failure: &lps.FailInfo{FailTime: time.Unix(10, 11), Reason: lps.HTLCFailMessage, FailureSourceIndex: 2},
	}
	var err error
	if want.Failure.Message, err = FailureMessage(&lnwire.FailTemporaryNodeFailure{}); err != nil {
		t.Fatal(err)
	}
	h, err := LndHTLCAttempt(&want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := HTLCAttempt(h)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if k := h.SessionKey().Serialize(); !bytes.Equal(k, want.SessionKey[:]) {
		t.Fatalf("lnd's parsed session key %x", k)
	}
}
