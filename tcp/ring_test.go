package tcp

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestRingAgainstModel drives a ring with random writes, out-of-order
// writes beyond the end, extends, reads and consumes, and compares every
// read with a plain slice model; the ring must grow through its buffer
// classes, keep every byte across growth, and hold no memory once empty.
func TestRingAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 100, 4096, 5000, 64 << 10, 256 << 10} {
		r := newRing(size)
		var model []byte // held bytes
		for step := range 20000 {
			switch rng.IntN(4) {
			case 0, 1: // write
				p := make([]byte, rng.IntN(size/2+2))
				for i := range p {
					p[i] = byte(rng.Uint32())
				}
				n := r.write(p)
				if want := min(len(p), size-len(model)); n != want {
					t.Fatalf("size %d step %d: write took %d, want %d", size, step, n, want)
				}
				model = append(model, p[:n]...)
			case 2: // out-of-order data beyond the end, then filled in order
				gap := rng.IntN(size/4 + 1)
				p := make([]byte, rng.IntN(size/4+1))
				for i := range p {
					p[i] = byte(rng.Uint32())
				}
				if len(model)+gap+len(p) > size || len(p) == 0 {
					continue
				}
				r.writeAt(len(model)+gap, p)
				fill := make([]byte, gap)
				for i := range fill {
					fill[i] = byte(rng.Uint32())
				}
				r.writeAt(len(model), fill)
				r.extend(gap + len(p))
				model = append(append(model, fill...), p...)
			case 3: // read
				p := make([]byte, rng.IntN(size+1))
				n := r.read(p)
				if want := min(len(p), len(model)); n != want || !bytes.Equal(p[:n], model[:n]) {
					t.Fatalf("size %d step %d: read %d bytes, want %d (equal %v)", size, step, n, want, bytes.Equal(p[:n], model[:min(n, len(model))]))
				}
				model = model[n:]
			}
			if r.len() != len(model) || r.free() != size-len(model) {
				t.Fatalf("size %d step %d: len %d free %d, model %d", size, step, r.len(), r.free(), len(model))
			}
			if r.len() == 0 && r.buf != nil {
				t.Fatalf("size %d step %d: empty ring keeps %d bytes", size, step, len(r.buf))
			}
		}
	}
}

// TestNewRingAllocatesNothing: a new connection's buffers cost nothing
// until data flows.
func TestNewRingAllocatesNothing(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { r := newRing(256 << 10); _ = r }); n != 0 {
		t.Fatalf("newRing allocates %v times", n)
	}
}
