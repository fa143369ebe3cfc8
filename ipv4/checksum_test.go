package ipv4

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// referenceSum is the obviously correct RFC 1071 sum that Checksum is tested
// against: add big-endian 16-bit words one at a time, pad an odd byte with a
// zero low byte, and fold the carries back in at the end.
func referenceSum(b []byte, initial uint32) uint32 {
	sum := uint64(initial)
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint64(b[i])<<8 | uint64(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint64(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return uint32(sum)
}

func TestChecksumRFC1071Example(t *testing.T) {
	// RFC 1071 section 3, "Numerical Examples": the bytes 00 01 f2 03 f4 f5
	// f6 f7 sum to ddf2 in 16-bit one's complement arithmetic.
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got := Checksum(b, 0); got != 0xddf2 {
		t.Fatalf("Checksum = %#04x, want 0xddf2", got)
	}
	if got := Fold(Checksum(b, 0)); got != ^uint16(0xddf2) {
		t.Fatalf("Fold = %#04x, want %#04x", got, ^uint16(0xddf2))
	}
	// The same section: byte-swapped input sums to the byte-swapped result.
	swapped := []byte{0x01, 0x00, 0x03, 0xf2, 0xf5, 0xf4, 0xf7, 0xf6}
	if got := Checksum(swapped, 0); got != 0xf2dd {
		t.Fatalf("Checksum(swapped) = %#04x, want 0xf2dd", got)
	}
}

func TestChecksumKnownHeader(t *testing.T) {
	// A well-known header (the Wikipedia "IPv4 header checksum" example)
	// whose checksum field is 0xb861.
	header := []byte{
		0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
		0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
	}
	if got := Fold(Checksum(header, 0)); got != 0xb861 {
		t.Fatalf("checksum = %#04x, want 0xb861", got)
	}
	binary.BigEndian.PutUint16(header[10:], 0xb861)
	if got := Fold(Checksum(header, 0)); got != 0 {
		t.Fatalf("checksum over a correct header = %#04x, want 0", got)
	}
}

func TestChecksumEdgeValues(t *testing.T) {
	tests := []struct {
		name    string
		b       []byte
		initial uint32
		want    uint32
	}{
		{"empty", nil, 0, 0},
		{"empty keeps initial", nil, 0x1234, 0x1234},
		{"initial is folded", nil, 0x0001_ffff, 0x0001},
		{"largest initial", nil, 0xffff_ffff, 0xffff},
		{"one byte is a high byte", []byte{0xab}, 0, 0xab00},
		{"all ones", []byte{0xff, 0xff, 0xff, 0xff}, 0, 0xffff},
		{"carry wraps around", []byte{0xff, 0xff, 0x00, 0x01}, 0, 0x0001},
		{"zeros stay zero", make([]byte, 100), 0, 0},
	}
	for _, tt := range tests {
		if got := Checksum(tt.b, tt.initial); got != tt.want {
			t.Errorf("%s: Checksum = %#x, want %#x", tt.name, got, tt.want)
		}
	}
}

// TestChecksumDifferential compares Checksum with referenceSum for every
// length from 0 to 300, at every starting offset from 0 to 7 within a buffer
// (to catch mistakes that only show for unaligned data), with random bytes
// and random initial values, and with all-0xff data, which makes the most
// carries.
func TestChecksumDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 300+8)
	for length := 0; length <= 300; length++ {
		for offset := 0; offset < 8; offset++ {
			for round := 0; round < 4; round++ {
				b := buf[offset : offset+length]
				if round == 0 {
					for i := range b {
						b[i] = 0xff
					}
				} else {
					for i := range b {
						b[i] = byte(rng.Uint32())
					}
				}
				initial := rng.Uint32()
				if round == 1 {
					initial = 0
				}
				if got, want := Checksum(b, initial), referenceSum(b, initial); got != want {
					t.Fatalf("len %d offset %d initial %#x: Checksum = %#x, reference %#x",
						length, offset, initial, got, want)
				}
			}
		}
	}
}

func TestChecksumLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, length := range []int{1499, 1500, 9000, 65535, 1 << 20} {
		b := make([]byte, length)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if got, want := Checksum(b, 0), referenceSum(b, 0); got != want {
			t.Errorf("len %d: Checksum = %#x, reference %#x", length, got, want)
		}
		for i := range b {
			b[i] = 0xff
		}
		if got, want := Checksum(b, 0), referenceSum(b, 0); got != want {
			t.Errorf("len %d of 0xff: Checksum = %#x, reference %#x", length, got, want)
		}
	}
}

// TestCombine checks that the sums of two pieces, split anywhere (at odd
// offsets too), combine into the sum of the whole.
func TestCombine(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for round := 0; round < 2000; round++ {
		b := make([]byte, rng.IntN(200))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		split := 0
		if len(b) > 0 {
			split = rng.IntN(len(b) + 1)
		}
		first, second := Checksum(b[:split], 0), Checksum(b[split:], 0)
		if got, want := Combine(first, second, split), Checksum(b, 0); got != want {
			t.Fatalf("len %d split %d: Combine = %#x, whole = %#x", len(b), split, got, want)
		}
		// For an even split, chaining through initial is the same thing.
		if split%2 == 0 {
			if got, want := Checksum(b[split:], first), Checksum(b, 0); got != want {
				t.Fatalf("len %d split %d: chained = %#x, whole = %#x", len(b), split, got, want)
			}
		}
	}
}

func TestPseudoHeaderChecksum(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for round := 0; round < 1000; round++ {
		var src, dst [4]byte
		binary.BigEndian.PutUint32(src[:], rng.Uint32())
		binary.BigEndian.PutUint32(dst[:], rng.Uint32())
		protocol := Protocol(rng.Uint32())
		length := uint16(rng.Uint32())
		// RFC 768 and RFC 9293 section 3.1: the pseudo-header as bytes.
		pseudo := make([]byte, 0, 12)
		pseudo = append(pseudo, src[:]...)
		pseudo = append(pseudo, dst[:]...)
		pseudo = append(pseudo, 0, byte(protocol))
		pseudo = binary.BigEndian.AppendUint16(pseudo, length)
		if got, want := PseudoHeaderChecksum(protocol, src, dst, length), referenceSum(pseudo, 0); got != want {
			t.Fatalf("PseudoHeaderChecksum(%v, %v, %v, %d) = %#x, want %#x", protocol, src, dst, length, got, want)
		}
	}
}

// TestUpdateChecksumRFC1624 is the example of RFC 1624 section 4, where the
// older formula of RFC 1141 gives 0xffff and equation 3 gives the correct
// 0x0000.
func TestUpdateChecksumRFC1624(t *testing.T) {
	if got := UpdateChecksum16(0xdd2f, 0x5555, 0x3285); got != 0x0000 {
		t.Fatalf("UpdateChecksum16 = %#04x, want 0x0000", got)
	}
}

// TestUpdateChecksumMatchesRecomputation changes random 16-bit and 32-bit
// fields of random data and checks the incremental update against a full
// recomputation. The data always has a nonzero first byte, as every IPv4
// header does: for all-zero data a full computation gives 0xffff where the
// incremental form gives 0x0000 (RFC 1624 section 5 discusses this).
func TestUpdateChecksumMatchesRecomputation(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for round := 0; round < 20000; round++ {
		b := make([]byte, 2*(2+rng.IntN(30)))
		for i := range b {
			// Small values make zero and all-ones words likely.
			if rng.IntN(4) == 0 {
				b[i] = []byte{0, 0xff}[rng.IntN(2)]
			} else {
				b[i] = byte(rng.Uint32())
			}
		}
		b[0] |= 0x40
		checksum := Fold(Checksum(b, 0))

		if round%2 == 0 {
			at := 2 * rng.IntN(len(b)/2)
			oldWord := binary.BigEndian.Uint16(b[at:])
			newWord := uint16(rng.Uint32())
			if at == 0 {
				newWord |= 0x4000
			}
			binary.BigEndian.PutUint16(b[at:], newWord)
			if got, want := UpdateChecksum16(checksum, oldWord, newWord), Fold(Checksum(b, 0)); got != want {
				t.Fatalf("16-bit update at %d: %#04x, recomputed %#04x", at, got, want)
			}
		} else {
			at := 2 * rng.IntN(len(b)/2-1)
			oldValue := binary.BigEndian.Uint32(b[at:])
			newValue := rng.Uint32()
			if at == 0 {
				newValue |= 0x4000_0000
			}
			binary.BigEndian.PutUint32(b[at:], newValue)
			if got, want := UpdateChecksum32(checksum, oldValue, newValue), Fold(Checksum(b, 0)); got != want {
				t.Fatalf("32-bit update at %d: %#04x, recomputed %#04x", at, got, want)
			}
		}
	}
}

func TestChecksumDoesNotAllocate(t *testing.T) {
	b := make([]byte, 1500)
	if n := testing.AllocsPerRun(100, func() { Checksum(b, 0) }); n != 0 {
		t.Fatalf("Checksum allocates %v times per call", n)
	}
}

var benchmarkSink uint32

func BenchmarkChecksum(b *testing.B) {
	for _, size := range []int{64, 1500, 9000, 65535} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i * 7)
		}
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				benchmarkSink = Checksum(data, 0)
			}
		})
	}
}

// BenchmarkChecksumReference measures the plain word-at-a-time loop, to
// show what the unrolled 8-byte version gains.
func BenchmarkChecksumReference(b *testing.B) {
	for _, size := range []int{64, 1500, 9000, 65535} {
		data := make([]byte, size)
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				benchmarkSink = referenceSum(data, 0)
			}
		})
	}
}
