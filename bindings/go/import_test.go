package lnpaystore

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestImportKeepsEveryFieldAndNumber(t *testing.T) {
	s := openTest(t)
	pre1, h1 := newPreimage()
	_, h2 := newPreimage()
	_, h3 := newPreimage()
	reason := FailureReasonNoRoute
	blinding := [33]byte{2, 9}
	r := mppRoute(600, 1000, [32]byte{7})
	r.FirstHopAmount = 640
	r.FirstHopWireCustomRecords = map[uint64][]byte{65537: {1}}
	r.Hops[2].CustomRecords = map[uint64][]byte{70000: {7, 7}}
	r.Hops[2].Metadata = []byte{0xaa}
	r.Hops[1].BlindingPoint = &blinding
	r.Hops[1].LegacyPayload = true
	info := CreationInfo{
		PaymentIdentifier:     h1,
		Value:                 1000,
		CreationTime:          t0.Add(123 * time.Nanosecond),
		PaymentRequest:        []byte("lnbc10n1..."),
		FirstHopCustomRecords: map[uint64][]byte{65536: {9}},
	}
	in := []ImportPayment{
		{
			SequenceNum: 900, Hash: h1, Info: info,
			HTLCs: []HTLCAttempt{
				{AttemptInfo: *attempt(1, r), Failure: failInfo()},
				{AttemptInfo: *attempt(2, r), Settle: settle(pre1)},
				{AttemptInfo: *attempt(3, mppRoute(400, 1000, [32]byte{7})), Settle: settle(pre1)},
			},
		},
		{SequenceNum: 5, Hash: h2, Info: *creation(1000), HTLCs: []HTLCAttempt{{AttemptInfo: *attempt(1, route(1000))}}},
		{SequenceNum: 6, Hash: h3, Info: *creation(1000), FailureReason: &reason},
	}
	report := ok[*ImportReport](t)(s.ImportPayments(in))
	if report.Imported != 3 || len(report.Refused) != 0 {
		t.Fatalf("report %+v", report)
	}
	got := okp(t)(s.FetchPayment(h1))
	if got.SequenceNum != 900 || got.Status != PaymentStatusSucceeded {
		t.Fatalf("imported payment: sequence %d, status %v", got.SequenceNum, got.Status)
	}
	if !reflect.DeepEqual(got.Info, in[0].Info) {
		t.Fatalf("creation info differs:\n got %+v\nwant %+v", got.Info, in[0].Info)
	}
	for i := range in[0].HTLCs {
		if !reflect.DeepEqual(got.HTLCs[i], in[0].HTLCs[i]) {
			t.Fatalf("attempt %d differs:\n got %+v\nwant %+v", i, got.HTLCs[i], in[0].HTLCs[i])
		}
	}
	wantStatus(t, okp(t)(s.FetchPayment(h2)), PaymentStatusInFlight)
	wantStatus(t, okp(t)(s.FetchPayment(h3)), PaymentStatusFailed)
	counts := ok[PaymentCounts](t)(s.PaymentCounts())
	if counts != (PaymentCounts{Total: 3, InFlight: 1, Succeeded: 1, Failed: 1}) {
		t.Fatalf("counts %+v", counts)
	}
	// The next payment numbers above every imported one.
	_, h4 := newPreimage()
	check(t, s.InitPayment(h4, creation(10)))
	if seq := okp(t)(s.FetchPayment(h4)).SequenceNum; seq != 901 {
		t.Fatalf("next sequence number %d, want 901", seq)
	}
}

func TestImportRefusesWhatIsTaken(t *testing.T) {
	s := openTest(t)
	pre, h := newPreimage()
	check(t, s.InitPayment(h, creation(1000)))
	okp(t)(s.RegisterAttempt(h, attempt(1, route(1000))))
	before := okp(t)(s.SettleAttempt(h, 1, settle(pre)))

	_, other := newPreimage()
	_, third := newPreimage()
	wrong := Preimage{1}
	in := []ImportPayment{
		{SequenceNum: 10, Hash: h, Info: *creation(5000)},
		{SequenceNum: before.SequenceNum, Hash: other, Info: *creation(1000)},
		{SequenceNum: 11, Hash: third, Info: *creation(1000), HTLCs: []HTLCAttempt{
			{AttemptInfo: *attempt(1, route(1000)), Settle: settle(wrong)},
		}},
	}
	report := ok[*ImportReport](t)(s.ImportPayments(in))
	if report.Imported != 0 || len(report.Refused) != 3 {
		t.Fatalf("report %+v", report)
	}
	for i, want := range []*Error{ErrPaymentExists, ErrSequenceNumExists, ErrPreimageMismatch} {
		r := report.Refused[i]
		if r.Index != i || r.SequenceNum != in[i].SequenceNum || r.Hash != in[i].Hash {
			t.Fatalf("refusal %d: %+v", i, r)
		}
		wantErr(t, r.Err, want)
		if !strings.Contains(r.Err.Error(), "payments[") {
			t.Fatalf("refusal %d does not name the payment: %v", i, r.Err)
		}
	}
	after := okp(t)(s.FetchPayment(h))
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("an import changed an existing payment:\n got %+v\nwant %+v", after, before)
	}
}

func TestImportOnAClosedStore(t *testing.T) {
	s := openTest(t)
	check(t, s.Close())
	_, err := s.ImportPayments(nil)
	wantErr(t, err, ErrClosed)
}

func TestAddEncodedResultRefusesWhatWouldChange(t *testing.T) {
	s := openTest(t)
	mc := ok[*MissionControl](t)(s.OpenMissionControl("imported", nil))
	defer mc.Close()
	// Not a result's encoding: refused, nothing queued.
	wantErr(t, mc.AddEncodedResult(make([]byte, 49), []byte{0x02, 0x01}), ErrInvalidArgument)
	check(t, mc.Flush())
	if results := ok[[]McResult](t)(mc.FetchAll()); len(results) != 0 {
		t.Fatalf("stored %d results", len(results))
	}
}
