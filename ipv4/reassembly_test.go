package ipv4

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// bigDatagram returns a UDP-protocol datagram with n payload bytes of a
// pattern, identification id.
func bigDatagram(id uint16, n int, options []byte) []byte {
	f := HeaderFields{ID: id, TTL: 64, Protocol: ProtocolUDP,
		Src: netip.MustParseAddr("198.18.0.1"), Dst: netip.MustParseAddr("198.18.0.2"),
		Options: options, PayloadLength: n}
	b := make([]byte, f.Size()+n)
	f.Encode(b)
	for i := f.Size(); i < len(b); i++ {
		b[i] = byte(i * 7)
	}
	return b
}

// fragment cuts a datagram with a Fragmenter and returns the fragments.
func fragment(t testing.TB, datagram []byte, mtu int) [][]byte {
	t.Helper()
	h, err := ParseHeader(datagram)
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFragmenter(h, mtu)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	want := f.Count()
	for !f.Done() {
		buf := make([]byte, mtu)
		n := f.Next(buf)
		if n == 0 {
			t.Fatal("Next wrote nothing before Done")
		}
		out = append(out, buf[:n])
	}
	if len(out) != want {
		t.Fatalf("Count said %d fragments, Next wrote %d", want, len(out))
	}
	return out
}

func mustParse(t testing.TB, b []byte) Header {
	t.Helper()
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestFragmenterFields(t *testing.T) {
	// Options: a copied one (type 0x83, loose source route, 7 bytes) and
	// one that is not (0x07, record route, 7 bytes), plus padding.
	opts := []byte{0x83, 7, 4, 1, 2, 3, 4, 0x07, 7, 4, 0, 0, 0, 0, 0, 0}
	d := bigDatagram(77, 3000, opts)
	frags := fragment(t, d, 1500)
	if len(frags) != 3 {
		t.Fatalf("%d fragments", len(frags))
	}
	var data []byte
	for i, b := range frags {
		h := mustParse(t, b)
		if !h.ChecksumValid() || h.ID() != 77 || h.Protocol() != ProtocolUDP {
			t.Errorf("fragment %d: %v", i, h)
		}
		if len(b) > 1500 {
			t.Errorf("fragment %d is %d bytes", i, len(b))
		}
		if h.FragmentOffset() != len(data) {
			t.Errorf("fragment %d offset %d, want %d", i, h.FragmentOffset(), len(data))
		}
		if last := i == len(frags)-1; h.MoreFragments() == last {
			t.Errorf("fragment %d MF %v", i, h.MoreFragments())
		}
		if i == 0 && !bytes.Equal(h.Options(), opts) {
			t.Errorf("first fragment options % x", h.Options())
		}
		if i > 0 && !bytes.Equal(h.Options(), []byte{0x83, 7, 4, 1, 2, 3, 4, 0}) {
			t.Errorf("fragment %d options % x, want only the copied one", i, h.Options())
		}
		if h.MoreFragments() && len(h.Payload())%8 != 0 {
			t.Errorf("fragment %d data %d bytes, not a multiple of 8", i, len(h.Payload()))
		}
		data = append(data, h.Payload()...)
	}
	if !bytes.Equal(data, mustParse(t, d).Payload()) {
		t.Error("fragments' data is not the datagram's")
	}
}

func TestFragmenterErrors(t *testing.T) {
	d := bigDatagram(1, 2000, nil)
	h := mustParse(t, d)
	if _, err := NewFragmenter(h, 60); !errors.Is(err, ErrMTUTooSmall) {
		t.Errorf("MTU 60: %v", err)
	}
	d[6] |= 0x40 // DF
	if _, err := NewFragmenter(mustParse(t, d), 1500); !errors.Is(err, ErrDontFragment) {
		t.Errorf("DF: %v", err)
	}
	// A datagram that fits is passed through whole, even with DF.
	small := bigDatagram(2, 100, nil)
	small[6] |= 0x40
	frags := fragment(t, small, 1500)
	if len(frags) != 1 || !bytes.Equal(frags[0], small) {
		t.Errorf("small datagram came out as %d fragments", len(frags))
	}
	// At the minimum MTU every fragment carries 48 bytes.
	frags = fragment(t, bigDatagram(3, 100, nil), MinMTU)
	if len(frags) != 3 || len(frags[0]) != 68 {
		t.Errorf("MTU 68: %d fragments, first %d bytes", len(frags), len(frags[0]))
	}
}

func TestFragmentNoAllocation(t *testing.T) {
	h := mustParse(t, bigDatagram(1, 60000, nil))
	buf := make([]byte, 1500)
	n := testing.AllocsPerRun(20, func() {
		f, _ := NewFragmenter(h, 1500)
		for f.Next(buf) > 0 {
		}
	})
	if n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// reassemble feeds fragments in the given order and returns the datagram
// and the outcomes.
func reassemble(t *testing.T, r *Reassembler, frags [][]byte, order []int) ([]byte, []Outcome) {
	t.Helper()
	var got []byte
	var outcomes []Outcome
	for _, i := range order {
		d, res := r.Add(mustParse(t, frags[i]), t0)
		outcomes = append(outcomes, res.Outcome)
		if d != nil {
			got = d
		}
	}
	return got, outcomes
}

func TestReassemblyOrders(t *testing.T) {
	d := bigDatagram(9, 60000, nil)
	frags := fragment(t, d, 1500)
	n := len(frags)
	orders := map[string][]int{"in order": {}, "reverse": {}, "shuffled": {}}
	for i := range n {
		orders["in order"] = append(orders["in order"], i)
		orders["reverse"] = append(orders["reverse"], n-1-i)
	}
	orders["shuffled"] = rand.New(rand.NewPCG(5, 6)).Perm(n)
	for name, order := range orders {
		r := NewReassembler(ReassemblyLimits{})
		got, outcomes := reassemble(t, r, frags, order)
		if !bytes.Equal(got, d) {
			t.Errorf("%s: reassembled %d bytes differ from the %d sent", name, len(got), len(d))
		}
		if outcomes[n-1] != DatagramComplete {
			t.Errorf("%s: last outcome %v", name, outcomes[n-1])
		}
		for _, o := range outcomes[:n-1] {
			if o != FragmentHeld {
				t.Errorf("%s: outcome %v before the end", name, o)
			}
		}
		if r.Pending() != 0 || r.Memory() != 0 {
			t.Errorf("%s: %d pending, %d bytes held after completion", name, r.Pending(), r.Memory())
		}
		if !mustParse(t, got).ChecksumValid() {
			t.Errorf("%s: bad header checksum", name)
		}
	}
}

func TestReassemblyDuplicate(t *testing.T) {
	d := bigDatagram(10, 4000, nil)
	frags := fragment(t, d, 1500)
	r := NewReassembler(ReassemblyLimits{})
	got, outcomes := reassemble(t, r, frags, []int{0, 0, 1, 1, 0, 2})
	want := []Outcome{FragmentHeld, FragmentDuplicate, FragmentHeld, FragmentDuplicate, FragmentDuplicate, DatagramComplete}
	for i := range want {
		if outcomes[i] != want[i] {
			t.Errorf("step %d: %v, want %v", i, outcomes[i], want[i])
		}
	}
	if !bytes.Equal(got, d) {
		t.Error("duplicates changed the datagram")
	}
}

func TestReassemblyOverlapDropsDatagram(t *testing.T) {
	d := bigDatagram(11, 4000, nil)
	frags := fragment(t, d, 1500)
	r := NewReassembler(ReassemblyLimits{})
	r.Add(mustParse(t, frags[0]), t0)
	// A fragment overlapping the first's tail with other bytes (the
	// classic attack rewrites the transport header this way).
	evil := bytes.Clone(frags[1])
	h := mustParse(t, evil)
	off := h.FragmentOffset() - 8
	evil[6] = 0x20 | byte(off/8>>8)
	evil[7] = byte(off / 8)
	h.UpdateChecksum()
	if _, res := r.Add(mustParse(t, evil), t0); res.Outcome != DatagramOverlap {
		t.Fatalf("overlap: %v", res.Outcome)
	}
	if r.Pending() != 0 || r.Memory() != 0 {
		t.Fatalf("datagram kept after overlap: %d pending", r.Pending())
	}
	// The rest of the datagram then never completes: the first fragment
	// is gone, and with it the datagram.
	got, _ := reassemble(t, r, frags, []int{1, 2})
	if got != nil {
		t.Error("datagram completed without its first fragment")
	}
	// A same-offset fragment with different bytes is an overlap too.
	r = NewReassembler(ReassemblyLimits{})
	r.Add(mustParse(t, frags[1]), t0)
	other := bytes.Clone(frags[1])
	other[len(other)-1] ^= 0xff
	if _, res := r.Add(mustParse(t, other), t0); res.Outcome != DatagramOverlap {
		t.Errorf("same range, other bytes: %v", res.Outcome)
	}
}

func TestReassemblyMalformedAndInconsistent(t *testing.T) {
	d := bigDatagram(12, 4000, nil)
	frags := fragment(t, d, 1500)
	r := NewReassembler(ReassemblyLimits{})
	odd := bytes.Clone(frags[0][:1001]) // MF set, 981 data bytes
	odd[2], odd[3] = byte(1001>>8), byte(1001&0xff)
	hh := mustParse(t, odd)
	hh.UpdateChecksum()
	if _, res := r.Add(hh, t0); res.Outcome != FragmentMalformed || !res.Outcome.Failed() {
		t.Errorf("odd length: %v", res.Outcome)
	}
	// The last fragment, then another "last" fragment ending elsewhere.
	r.Add(mustParse(t, frags[2]), t0)
	short := bytes.Clone(frags[2][:len(frags[2])-8])
	short[2], short[3] = byte(len(short)>>8), byte(len(short))
	sh := mustParse(t, short)
	sh.UpdateChecksum()
	if _, res := r.Add(sh, t0); res.Outcome != DatagramInconsistent {
		t.Errorf("two ends: %v", res.Outcome)
	}
	if r.Pending() != 0 {
		t.Error("inconsistent datagram kept")
	}
}

func TestReassemblyTooLarge(t *testing.T) {
	// A last fragment at offset 65528 with 16 bytes: past 65535.
	f := HeaderFields{ID: 5, TTL: 64, Protocol: ProtocolUDP, FragmentOffset: 65528,
		Src: netip.MustParseAddr("198.18.0.1"), Dst: netip.MustParseAddr("198.18.0.2"), PayloadLength: 16}
	b := make([]byte, 36)
	f.Encode(b)
	r := NewReassembler(ReassemblyLimits{})
	if _, res := r.Add(mustParse(t, b), t0); res.Outcome != DatagramTooLarge {
		t.Errorf("ping of death: %v", res.Outcome)
	}
	r = NewReassembler(ReassemblyLimits{MaxDatagramSize: 2000})
	frags := fragment(t, bigDatagram(6, 4000, nil), 1500)
	r.Add(mustParse(t, frags[0]), t0)
	if _, res := r.Add(mustParse(t, frags[1]), t0); res.Outcome != DatagramTooLarge || r.Pending() != 0 {
		t.Errorf("past MaxDatagramSize: %v, %d pending", res.Outcome, r.Pending())
	}
}

func TestReassemblyTimeout(t *testing.T) {
	frags := fragment(t, bigDatagram(13, 4000, nil), 1500)
	r := NewReassembler(ReassemblyLimits{})
	r.Add(mustParse(t, frags[0]), t0)
	r.Add(mustParse(t, frags[2]), t0.Add(time.Second))
	// A second datagram whose first fragment never arrives.
	frags2 := fragment(t, bigDatagram(14, 4000, nil), 1500)
	r.Add(mustParse(t, frags2[1]), t0.Add(2*time.Second))
	if at, ok := r.NextDeadline(); !ok || !at.Equal(t0.Add(DefaultReassemblyTimeout)) {
		t.Fatalf("NextDeadline %v %v", at, ok)
	}
	var quoted []Header
	if n := r.Expire(t0.Add(29*time.Second), func(h Header) { quoted = append(quoted, h) }); n != 0 {
		t.Fatalf("expired %d before the timeout", n)
	}
	var quote []byte
	n := r.Expire(t0.Add(31*time.Second), func(h Header) {
		quoted = append(quoted, h)
		quote = bytes.Clone(h.Bytes())
	})
	if n != 1 || len(quoted) != 1 || r.Pending() != 1 {
		t.Fatalf("expired %d, quoted %d, %d pending", n, len(quoted), r.Pending())
	}
	// The quote is the first fragment's header and 8 bytes of its data.
	if !bytes.Equal(quote, frags[0][:MinHeaderSize+8]) {
		t.Errorf("quote % x", quote)
	}
	// The datagram without a first fragment expires with no quote.
	n = r.Expire(t0.Add(32*time.Second), func(h Header) { t.Error("quote without a first fragment") })
	if n != 1 || r.Pending() != 0 || r.Memory() != 0 {
		t.Errorf("second expiry: %d, %d pending, %d bytes", n, r.Pending(), r.Memory())
	}
	if _, ok := r.NextDeadline(); ok {
		t.Error("deadline with nothing pending")
	}
}

func TestReassemblyMemoryCap(t *testing.T) {
	const limit = 64 << 10
	r := NewReassembler(ReassemblyLimits{MaxMemory: limit})
	// Twenty 20000-byte datagrams, each missing its last fragment: they
	// cannot all be held; the oldest make way.
	evicted := 0
	for id := range 20 {
		frags := fragment(t, bigDatagram(uint16(id), 20000, nil), 1500)
		for _, f := range frags[:len(frags)-1] {
			_, res := r.Add(mustParse(t, f), t0)
			evicted += res.Evicted
			if res.Outcome.Failed() {
				t.Fatalf("datagram %d: %v", id, res.Outcome)
			}
			if r.Memory() > limit {
				t.Fatalf("memory %d over the cap %d", r.Memory(), limit)
			}
		}
	}
	if evicted == 0 || r.Pending() == 20 {
		t.Errorf("evicted %d, %d pending", evicted, r.Pending())
	}
	// A datagram that could never fit is refused.
	r = NewReassembler(ReassemblyLimits{MaxMemory: 10000})
	frags := fragment(t, bigDatagram(1, 20000, nil), 1500)
	var last Outcome
	for _, f := range frags[:len(frags)-1] {
		_, res := r.Add(mustParse(t, f), t0)
		last = res.Outcome
		if last == DatagramNoMemory {
			break
		}
	}
	if last != DatagramNoMemory || r.Memory() != 0 {
		t.Errorf("oversized for the cap: %v, %d bytes held", last, r.Memory())
	}
}

func TestReassemblyMaxDatagrams(t *testing.T) {
	r := NewReassembler(ReassemblyLimits{MaxDatagrams: 3})
	evicted := 0
	for id := range 5 {
		frags := fragment(t, bigDatagram(uint16(id), 2000, nil), 1500)
		_, res := r.Add(mustParse(t, frags[0]), t0)
		evicted += res.Evicted
	}
	if r.Pending() != 3 || evicted != 2 {
		t.Errorf("%d pending, %d evicted", r.Pending(), evicted)
	}
}

// TestReassemblyFlood sends random, overlapping and never-completed
// fragments from many "senders": memory never passes the cap, nothing
// panics, and after the timeout everything is gone.
func TestReassemblyFlood(t *testing.T) {
	const limit = 256 << 10
	r := NewReassembler(ReassemblyLimits{MaxMemory: limit, MaxDatagrams: 100})
	rng := rand.New(rand.NewPCG(7, 8))
	buf := make([]byte, 1500)
	now := t0
	for i := range 50000 {
		n := 8 * (1 + rng.IntN(180))
		f := HeaderFields{ID: uint16(rng.IntN(300)), TTL: 64, Protocol: ProtocolUDP,
			FragmentOffset: 8 * rng.IntN(8000), Flags: MoreFragments,
			Src: netip.AddrFrom4([4]byte{198, 18, byte(rng.IntN(4)), 1}), Dst: netip.MustParseAddr("198.18.0.2"),
			PayloadLength: n}
		if rng.IntN(10) == 0 {
			f.Flags = 0
		}
		if f.FragmentOffset+n+MinHeaderSize > MaxPacketSize {
			f.FragmentOffset = 0
		}
		f.Encode(buf)
		for j := MinHeaderSize; j < MinHeaderSize+n; j++ {
			buf[j] = byte(rng.IntN(2)) // often the same bytes: duplicates happen
		}
		h := mustParse(t, buf[:MinHeaderSize+n])
		r.Add(h, now)
		if r.Memory() > limit {
			t.Fatalf("step %d: memory %d over the cap", i, r.Memory())
		}
		if i%1000 == 0 {
			now = now.Add(100 * time.Millisecond)
			r.Expire(now, nil)
		}
	}
	r.Expire(now.Add(DefaultReassemblyTimeout), nil)
	if r.Pending() != 0 || r.Memory() != 0 {
		t.Errorf("after the timeout: %d pending, %d bytes", r.Pending(), r.Memory())
	}
}

// TestReassemblyRecycle: with Recycle, reassembling datagram after
// datagram allocates nothing, and a recycled buffer never changes a
// datagram the caller still holds.
func TestReassemblyRecycle(t *testing.T) {
	r := NewReassembler(ReassemblyLimits{})
	frags := fragment(t, bigDatagram(1, 30000, nil), 1500)
	headers := make([]Header, len(frags))
	for i, f := range frags {
		headers[i] = mustParse(t, f)
	}
	run := func() []byte {
		var got []byte
		for _, h := range headers {
			if d, _ := r.Add(h, t0); d != nil {
				got = d
			}
		}
		return got
	}
	kept := run() // not recycled: must stay intact
	want := bytes.Clone(kept)
	r.Recycle(run())
	if n := testing.AllocsPerRun(50, func() { r.Recycle(run()) }); n != 0 {
		t.Errorf("%v allocations per datagram with Recycle", n)
	}
	if !bytes.Equal(kept, want) {
		t.Error("a datagram not recycled was overwritten")
	}
	r.Recycle(kept[:10]) // not the last one: ignored
	r.Recycle(nil)
}

func BenchmarkFragmentReassemble60000(b *testing.B) {
	d := bigDatagram(1, 60000, nil)
	h := mustParse(b, d)
	frags := make([][]byte, 0, 64)
	for range 64 {
		frags = append(frags, make([]byte, 1500))
	}
	r := NewReassembler(ReassemblyLimits{})
	b.SetBytes(int64(len(d)))
	for b.Loop() {
		f, _ := NewFragmenter(h, 1500)
		k := 0
		for {
			n := f.Next(frags[k][:1500])
			if n == 0 {
				break
			}
			frags[k] = frags[k][:n]
			k++
		}
		var got []byte
		for _, fr := range frags[:k] {
			fh, _ := ParseHeader(fr)
			if out, _ := r.Add(fh, t0); out != nil {
				got = out
			}
		}
		if len(got) != len(d) {
			b.Fatal("not reassembled")
		}
		r.Recycle(got)
		for i := range frags[:k] {
			frags[i] = frags[i][:cap(frags[i])]
		}
	}
}

// FuzzReassembler feeds a sequence of fragments described by the input
// (5 bytes each: datagram, offset, length, flags and fill, time step) to a
// Reassembler with small limits. Whatever arrives, memory and the number of
// datagrams stay within the limits, every datagram returned is a
// well-formed, whole (not a fragment) packet, and after the timeout nothing
// is held.
//
//	go test -fuzz FuzzReassembler ./ipv4
func FuzzReassembler(f *testing.F) {
	f.Add([]byte{0, 0, 10, 1, 0, 0, 10, 10, 0, 0})
	f.Add([]byte{1, 5, 3, 0, 1, 1, 0, 5, 1, 1, 1, 2, 3, 1, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		limits := ReassemblyLimits{MaxMemory: 8 << 10, MaxDatagrams: 3, Timeout: 10 * time.Second}
		r := NewReassembler(limits)
		now := t0
		buf := make([]byte, MinHeaderSize+255*8+3)
		for ; len(in) >= 5; in = in[5:] {
			id, offset, length, flags, step := in[0]%4, int(in[1])*8, int(in[2])*8, in[3], in[4]
			fh := HeaderFields{ID: uint16(id), TTL: 64, Protocol: ProtocolUDP, FragmentOffset: offset,
				Src: netip.MustParseAddr("198.18.0.1"), Dst: netip.MustParseAddr("198.18.0.2"),
				PayloadLength: length + int(flags>>6)} // sometimes not a multiple of 8
			if flags&1 != 0 {
				fh.Flags = MoreFragments
			}
			if offset == 0 && fh.Flags == 0 {
				fh.Flags = MoreFragments // not a fragment otherwise
			}
			n := fh.Encode(buf)
			for i := range fh.PayloadLength {
				// The data is a function of its position in the datagram,
				// so duplicates are common; flag bit 1 makes it differ.
				buf[n+i] = byte(offset + i)
				if flags&2 != 0 {
					buf[n+i] = flags
				}
			}
			h, err := ParseHeader(buf[:n+fh.PayloadLength])
			if err != nil {
				t.Fatal(err)
			}
			now = now.Add(time.Duration(step) * 100 * time.Millisecond)
			r.Expire(now, nil)
			d, res := r.Add(h, now)
			if r.Memory() > limits.MaxMemory || r.Pending() > limits.MaxDatagrams {
				t.Fatalf("memory %d, %d pending: over the limits", r.Memory(), r.Pending())
			}
			if (d != nil) != (res.Outcome == DatagramComplete) {
				t.Fatalf("outcome %v with datagram %v", res.Outcome, d != nil)
			}
			if d != nil {
				whole, err := ParseHeader(d)
				if err != nil || whole.IsFragment() || !whole.ChecksumValid() || whole.TotalLength() != len(d) {
					t.Fatalf("bad reassembled datagram: %v %v", whole, err)
				}
			}
		}
		r.Expire(now.Add(limits.Timeout), nil)
		if r.Memory() != 0 || r.Pending() != 0 {
			t.Fatalf("after the timeout: %d bytes, %d pending", r.Memory(), r.Pending())
		}
	})
}
