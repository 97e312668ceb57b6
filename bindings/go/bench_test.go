package lnpaystore

import (
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkLifecycle is the Go side of the `lifecycle` scenario of the Rust benchmark
// program: 64 goroutines each running full payments (init → register one attempt of a
// 3-hop route → settle) with durable commits. Compare side by side in one run:
//
//	go test -run '^$' -bench Lifecycle -benchtime 20000x
//	cargo run --release --example bench -- lifecycle
func BenchmarkLifecycle(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const goroutines = 64
	var (
		wg   sync.WaitGroup
		left atomic.Int64
	)
	left.Store(int64(b.N))
	b.ResetTimer()
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				pre, hash := newPreimage()
				if err := s.InitPayment(hash, creation(10_000)); err != nil {
					b.Error(err)
					return
				}
				if _, err := s.RegisterAttempt(hash, attempt(1, route(10_000))); err != nil {
					b.Error(err)
					return
				}
				if _, err := s.SettleAttempt(hash, 1, settle(pre)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payments/s")
}
