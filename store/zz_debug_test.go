package store
import "testing"
func BenchmarkZZ(b *testing.B) {
	for _, f := range []func(*testing.B){BenchmarkUpdateSerial, BenchmarkUpdateParallel} {
		DebugBatches.Store(0); DebugReqs.Store(0); DebugNanos.Store(0)
		r := testing.Benchmark(f)
		nb := DebugBatches.Load()
		b.Logf("%v batches=%d avg=%.1f commit=%v", r, nb, float64(DebugReqs.Load())/float64(nb), DebugNanos.Load()/nb)
	}
}
