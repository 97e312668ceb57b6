package importer

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/lightningnetwork/lnd/kvdb"
	lps "github.com/lnpaystore/lnpaystore/bindings/go"
)

// resultsBucket is where lnd's mission-control store keeps its results: one nested
// bucket per namespace, key (time of reply ‖ attempt id ‖ source key) → TLV value
// (lnd's routing/missioncontrol_store.go). The store's encoding is the same, so the
// results move as stored bytes.
var resultsBucket = []byte("missioncontrol-results")

type mcRecord struct{ key, value []byte }

// readMissionControl returns lnd's stored results, by namespace, in key order.
func readMissionControl(db kvdb.Backend) (map[string][]mcRecord, error) {
	out := map[string][]mcRecord{}
	err := kvdb.View(db, func(tx kvdb.RTx) error {
		top := tx.ReadBucket(resultsBucket)
		if top == nil {
			return nil
		}
		return top.ForEach(func(ns, v []byte) error {
			if v != nil {
				return fmt.Errorf("mission control: a value where a namespace bucket belongs (%x)", ns)
			}
			bucket := top.NestedReadBucket(ns)
			records := []mcRecord{}
			err := bucket.ForEach(func(k, v []byte) error {
				records = append(records, mcRecord{bytes.Clone(k), bytes.Clone(v)})
				return nil
			})
			out[string(ns)] = records
			return err
		})
	}, func() { clear(out) })
	return out, err
}

// importMissionControl hands every result of every namespace to the store as stored
// bytes; the store takes only what it would keep byte for byte. Namespaces are opened
// without a record limit so nothing lnd kept is evicted on the way.
func importMissionControl(src *Source, store *lps.Store, r *Report) error {
	all, err := readMissionControl(src.KV)
	if err != nil {
		return err
	}
	for ns, records := range all {
		f := &NamespaceFigures{Results: uint64(len(records))}
		r.MissionControl[ns] = f
		mc, err := store.OpenMissionControl(ns, &lps.McOptions{MaxRecords: 0})
		if err != nil {
			return fmt.Errorf("mission control %q: %w", ns, err)
		}
		for _, rec := range records {
			if err := mc.AddEncodedResult(rec.key, rec.value); err != nil {
				f.Refused = append(f.Refused, fmt.Sprintf("%x: %v", rec.key, err))
				continue
			}
			f.Queued++
		}
		if err := mc.Close(); err != nil {
			return fmt.Errorf("mission control %q: store: %w", ns, err)
		}
	}
	return nil
}

// resultKey is a stored result's key as lnd and the store build it.
func resultKey(r *lps.McResult) []byte {
	key := make([]byte, 16, 49)
	binary.BigEndian.PutUint64(key, uint64(r.TimeReply.UnixNano()))
	binary.BigEndian.PutUint64(key[8:], r.ID)
	return append(key, r.Route.SourcePubKey[:]...)
}

func verifyMissionControl(src *Source, store *lps.Store, v *Verification) error {
	all, err := readMissionControl(src.KV)
	if err != nil {
		return err
	}
	for ns, records := range all {
		c := &NamespaceCheck{Lnd: uint64(len(records))}
		v.MissionControl[ns] = c
		mc, err := store.OpenMissionControl(ns, &lps.McOptions{MaxRecords: 0})
		if err != nil {
			return fmt.Errorf("mission control %q: %w", ns, err)
		}
		results, err := mc.FetchAll()
		mc.Close()
		if err != nil {
			return fmt.Errorf("mission control %q: %w", ns, err)
		}
		c.Store = uint64(len(results))
		ours := map[string]bool{}
		for i := range results {
			ours[string(resultKey(&results[i]))] = true
		}
		for _, rec := range records {
			if ours[string(rec.key)] {
				delete(ours, string(rec.key))
			} else {
				c.Missing++
			}
		}
		c.Unmatched = uint64(len(ours))
	}
	return nil
}
