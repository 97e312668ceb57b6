package importer

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	paymentsdb "github.com/lightningnetwork/lnd/payments/db"
	"github.com/lnpaystore/lnpaystore/lnd/convert"
)

// Duplicate is a legacy duplicate payment (lnd before 0.10 could pay a hash more than
// once; lnd keeps the older payments under the hash's own one). The store holds one
// payment per hash, so these are not imported: the report lists each with every field
// lnd keeps for it.
type Duplicate struct {
	// SequenceNum in channel.db; SQLID, the row of lnd's payment_duplicates table, when
	// lnd had moved its payments to its SQL store (which keeps no sequence number,
	// route or session key for them).
	SequenceNum    uint64          `json:"sequence_num,omitempty"`
	SQLID          int64           `json:"sql_id,omitempty"`
	PaymentHash    string          `json:"payment_hash"`
	Status         string          `json:"status"`
	ValueMsat      uint64          `json:"value_msat"`
	CreationTime   time.Time       `json:"creation_time"`
	PaymentRequest string          `json:"payment_request"`
	FailureReason  string          `json:"failure_reason,omitempty"`
	SettleTime     *time.Time      `json:"settle_time,omitempty"`
	Attempts       []DuplicateHTLC `json:"attempts"`
}

// DuplicateHTLC is the one attempt lnd kept for a legacy duplicate.
type DuplicateHTLC struct {
	AttemptID       uint64         `json:"attempt_id"`
	SessionKey      string         `json:"session_key"`
	TotalTimeLock   uint32         `json:"total_time_lock"`
	TotalAmountMsat uint64         `json:"total_amount_msat"`
	SourcePubKey    string         `json:"source_pub_key"`
	Hops            []DuplicateHop `json:"hops"`
	// Preimage is set when it settled; otherwise it failed.
	Preimage string `json:"preimage,omitempty"`
}

// DuplicateHop is one hop of a legacy duplicate's route.
type DuplicateHop struct {
	PubKey           string            `json:"pub_key"`
	ChannelID        uint64            `json:"channel_id"`
	OutgoingTimeLock uint32            `json:"outgoing_time_lock"`
	AmtToForwardMsat uint64            `json:"amt_to_forward_msat"`
	LegacyPayload    bool              `json:"legacy_payload"`
	CustomRecords    map[uint64]string `json:"custom_records,omitempty"`
}

func duplicate(p *paymentsdb.MPPayment) Duplicate {
	d := Duplicate{
		SequenceNum:    p.SequenceNum,
		PaymentHash:    hex.EncodeToString(p.Info.PaymentIdentifier[:]),
		Status:         convert.Status(p.Status).String(),
		ValueMsat:      uint64(p.Info.Value),
		CreationTime:   p.Info.CreationTime,
		PaymentRequest: string(p.Info.PaymentRequest),
		Attempts:       []DuplicateHTLC{},
	}
	if p.FailureReason != nil {
		d.FailureReason = p.FailureReason.String()
	}
	for i := range p.HTLCs {
		a := convert.AttemptInfo(&p.HTLCs[i].HTLCAttemptInfo)
		h := DuplicateHTLC{
			AttemptID:       a.AttemptID,
			SessionKey:      hex.EncodeToString(a.SessionKey[:]),
			TotalTimeLock:   a.Route.TotalTimeLock,
			TotalAmountMsat: uint64(a.Route.TotalAmount),
			SourcePubKey:    hex.EncodeToString(a.Route.SourcePubKey[:]),
			Hops:            []DuplicateHop{},
		}
		for _, hop := range a.Route.Hops {
			dh := DuplicateHop{
				PubKey:           hex.EncodeToString(hop.PubKey[:]),
				ChannelID:        hop.ChannelID,
				OutgoingTimeLock: hop.OutgoingTimeLock,
				AmtToForwardMsat: uint64(hop.AmtToForward),
				LegacyPayload:    hop.LegacyPayload,
			}
			if len(hop.CustomRecords) > 0 {
				dh.CustomRecords = map[uint64]string{}
				for k, v := range hop.CustomRecords {
					dh.CustomRecords[k] = hex.EncodeToString(v)
				}
			}
			h.Hops = append(h.Hops, dh)
		}
		if s := p.HTLCs[i].Settle; s != nil {
			h.Preimage = hex.EncodeToString(s.Preimage[:])
		}
		d.Attempts = append(d.Attempts, h)
	}
	return d
}

// sqlDuplicates lists the legacy duplicates lnd's move to its SQL store kept in the
// payment_duplicates table (amount, creation time, failure reason or preimage and
// settle time; lnd's SQL payments store does not return them). nil for channel.db.
func (s *Source) sqlDuplicates(ctx context.Context) ([]Duplicate, error) {
	if s.sql == nil {
		return nil, nil
	}
	rows, err := s.sql.QueryContext(ctx, `SELECT d.id, p.payment_identifier, d.amount_msat,
		d.created_at, d.fail_reason, d.settle_preimage, d.settle_time
		FROM payment_duplicates d JOIN payments p ON p.id = d.payment_id ORDER BY d.id`)
	if err != nil {
		return nil, fmt.Errorf("lnd's payment_duplicates: %w", err)
	}
	defer rows.Close()
	out := []Duplicate{}
	for rows.Next() {
		var (
			d          Duplicate
			hash, pre  []byte
			reason     sql.NullInt32
			settleTime sql.NullTime
		)
		if err := rows.Scan(&d.SQLID, &hash, &d.ValueMsat, &d.CreationTime, &reason, &pre, &settleTime); err != nil {
			return nil, fmt.Errorf("lnd's payment_duplicates: %w", err)
		}
		d.PaymentHash, d.Attempts = hex.EncodeToString(hash), []DuplicateHTLC{}
		d.Status = "FAILED"
		if reason.Valid {
			d.FailureReason = paymentsdb.FailureReason(reason.Int32).String()
		}
		if len(pre) > 0 {
			d.Status = "SUCCEEDED"
			d.Attempts = append(d.Attempts, DuplicateHTLC{Preimage: hex.EncodeToString(pre), Hops: []DuplicateHop{}})
		}
		if settleTime.Valid {
			t := settleTime.Time
			d.SettleTime = &t
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
