package thw

import (
	"testing"
	"time"
)

// spreadExpiries returns n expiry times spread over an hour of slots.
func spreadExpiries(n int) []int64 {
	now := time.Now()
	out := make([]int64, n)
	for i := range out {
		out[i] = now.Add(time.Duration(i%3600) * time.Second).UnixNano()
	}
	return out
}

func BenchmarkHashWheel_Add(b *testing.B) {
	hw := NewHashWheel()
	expires := spreadExpiries(b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = hw.Add(uint64(i), expires[i])
	}
}

func BenchmarkHashWheel_Add_SameSlot(b *testing.B) {
	hw := NewHashWheel()
	expires := time.Now().Add(time.Second).UnixNano()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = hw.Add(uint64(i), expires)
	}
}

func BenchmarkHashWheel_Update(b *testing.B) {
	hw := NewHashWheel()
	expires := spreadExpiries(b.N)
	for i := 0; i < b.N; i++ {
		_ = hw.Add(uint64(i), expires[i])
	}
	later := time.Now().Add(2 * time.Hour).UnixNano()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := hw.Update(uint64(i), expires[i], later); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHashWheel_Update_SameSlot(b *testing.B) {
	hw := NewHashWheel()
	now := time.Now()
	oldExpires := now.Add(time.Second).UnixNano()
	newExpires := now.Add(2 * time.Second).UnixNano()
	for i := 0; i < b.N; i++ {
		_ = hw.Add(uint64(i), oldExpires)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := hw.Update(uint64(i), oldExpires, newExpires); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHashWheel_Add_Memory(b *testing.B) {
	b.ReportAllocs()
	hw := NewHashWheel()
	expires := spreadExpiries(b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = hw.Add(uint64(i), expires[i])
	}
}

func BenchmarkHashWheel_LargeScale(b *testing.B) {
	hw := NewHashWheel()
	for i, e := range spreadExpiries(100_000) {
		_ = hw.Add(uint64(i), e)
	}
	expires := spreadExpiries(b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = hw.Add(uint64(i+100_000), expires[i])
	}
}

// The benchmarks below are this port's own.

// wheelOf returns a wheel of n entries spread over an hour.
func wheelOf(n int) *HashWheel {
	hw := NewHashWheel()
	for i, e := range spreadExpiries(n) {
		_ = hw.Add(uint64(i), e)
	}
	return hw
}

func BenchmarkHashWheel_Encode(b *testing.B) {
	hw := wheelOf(100_000)
	for b.Loop() {
		_ = hw.Encode(100_000)
	}
}

func BenchmarkHashWheel_Decode(b *testing.B) {
	enc := wheelOf(100_000).Encode(100_000)
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := NewHashWheel().Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHashWheel_ExpireTasks_Scan measures a pass in which a few entries
// are due but the callback keeps them, so every pass scans the whole wheel.
func BenchmarkHashWheel_ExpireTasks_Scan(b *testing.B) {
	hw := wheelOf(100_000)
	ts := time.Now().Add(time.Second).UnixNano()
	for b.Loop() {
		hw.expireTasks(ts, func(uint64, int64) bool { return false })
	}
}
