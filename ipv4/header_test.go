package ipv4

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// Golden packets, captured from the Linux kernel on a TUN inside a private
// network namespace (kernel 198.18.0.1, the capturing program 198.18.0.2).
const (
	// The kernel's echo reply to an echo request with id 0x0bad, seq 1 and
	// the data "tundra golden ping 0123456789abcdef". No DF, TTL 64.
	goldenEchoReply = "4500003f37c000004001b6d6c6120001c6120002" +
		"000006bd0bad0001" +
		"74756e64726120676f6c64656e2070696e672030313233343536373839616263646566"
	// The kernel's port unreachable for a UDP datagram from port 40000 to
	// port 9 carrying "hello?". TOS 0xc0 (network control), and the whole
	// 34-byte offending packet quoted.
	goldenPortUnreachable = "45c0003e37c100004001b616c6120001c6120002" +
		"03031c9400000000" +
		"450000221234400040119c6fc6120002c6120001" +
		"9c400009000e000068656c6c6f3f"
	// The kernel's TCP SYN to 198.18.0.2:80: DF set, 20 bytes of TCP
	// options (MSS 1460, SACK permitted, timestamps, window scale 10).
	goldenTCPSyn = "4500003cdd8640004006d10dc6120001c6120002" +
		"e9de005038b2b0de00000000a002faf05cb00000020405b40402080a7a0a166a000000000103030a"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseHeaderGolden(t *testing.T) {
	kernel, us := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	tests := []struct {
		name       string
		packet     string
		tos        uint8
		id         uint16
		flags      Flags
		protocol   Protocol
		checksum   uint16
		payloadLen int
	}{
		{"echo reply", goldenEchoReply, 0, 0x37c0, 0, ProtocolICMP, 0xb6d6, 43},
		{"port unreachable", goldenPortUnreachable, 0xc0, 0x37c1, 0, ProtocolICMP, 0xb616, 42},
		{"TCP SYN", goldenTCPSyn, 0, 0xdd86, DontFragment, ProtocolTCP, 0xd10d, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustHex(t, tt.packet)
			h, err := ParseHeader(b)
			if err != nil {
				t.Fatalf("ParseHeader: %v", err)
			}
			if h.Version() != 4 || h.HeaderLength() != 20 || h.TOS() != tt.tos ||
				h.TotalLength() != len(b) || h.ID() != tt.id || h.Flags() != tt.flags ||
				h.FragmentOffset() != 0 || h.IsFragment() || h.TTL() != 64 ||
				h.Protocol() != tt.protocol || h.Checksum() != tt.checksum ||
				h.Source() != kernel || h.Destination() != us {
				t.Fatalf("fields wrong: %v", h)
			}
			if h.DontFragment() != (tt.flags == DontFragment) || h.MoreFragments() {
				t.Errorf("DF %v MF %v, want DF %v", h.DontFragment(), h.MoreFragments(), tt.flags == DontFragment)
			}
			if h.SourceBytes() != kernel.As4() || h.DestinationBytes() != us.As4() {
				t.Errorf("raw addresses %v %v", h.SourceBytes(), h.DestinationBytes())
			}
			if !h.ChecksumValid() {
				t.Errorf("checksum of a kernel packet reported invalid")
			}
			if len(h.Options()) != 0 || len(h.Payload()) != tt.payloadLen ||
				!bytes.Equal(h.Payload(), b[20:]) || !bytes.Equal(h.Bytes(), b) ||
				!bytes.Equal(h.HeaderBytes(), b[:20]) || h.Truncated() {
				t.Errorf("slices wrong: options %d, payload %d", len(h.Options()), len(h.Payload()))
			}
			// Rebuilding the header from its fields gives the same bytes.
			f := HeaderFields{
				TOS: h.TOS(), ID: h.ID(), Flags: h.Flags(), TTL: h.TTL(),
				Protocol: h.Protocol(), Src: h.Source(), Dst: h.Destination(),
				PayloadLength: len(h.Payload()),
			}
			rebuilt := make([]byte, f.Size())
			if n := f.Encode(rebuilt); n != 20 || !bytes.Equal(rebuilt, b[:20]) {
				t.Errorf("Encode = %x, want %x", rebuilt, b[:20])
			}
		})
	}
}

func TestHeaderString(t *testing.T) {
	h, err := ParseHeader(mustHex(t, goldenTCPSyn))
	if err != nil {
		t.Fatal(err)
	}
	want := "198.18.0.1 > 198.18.0.2: TCP ttl 64 id 56710 len 60 DF"
	if got := h.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// validHeader returns a 20-byte header with a correct checksum and a payload
// of n bytes, to be broken by the tests.
func validHeader(n int) []byte {
	f := HeaderFields{TTL: DefaultTTL, Protocol: ProtocolUDP,
		Src: netip.MustParseAddr("198.18.0.1"), Dst: netip.MustParseAddr("198.18.0.2"),
		PayloadLength: n}
	b := make([]byte, 20+n)
	f.Encode(b)
	for i := range n {
		b[20+i] = byte(i)
	}
	return b
}

func TestParseHeaderErrors(t *testing.T) {
	tests := []struct {
		name   string
		mangle func([]byte) []byte
		want   error
	}{
		{"empty", func(b []byte) []byte { return nil }, ErrTooShort},
		{"19 bytes", func(b []byte) []byte { return b[:19] }, ErrTooShort},
		{"version 6", func(b []byte) []byte { b[0] = 0x65; return b }, ErrVersion},
		{"version 0", func(b []byte) []byte { b[0] = 0x05; return b }, ErrVersion},
		{"IHL 0", func(b []byte) []byte { b[0] = 0x40; return b }, ErrHeaderLength},
		{"IHL 4", func(b []byte) []byte { b[0] = 0x44; return b }, ErrHeaderLength},
		{"IHL beyond packet", func(b []byte) []byte { b[0] = 0x4f; return b[:40] }, ErrHeaderLength},
		{"total length 0", func(b []byte) []byte { b[2], b[3] = 0, 0; return b }, ErrTotalLength},
		{"total length below IHL", func(b []byte) []byte { b[0], b[2], b[3] = 0x46, 0, 22; return b }, ErrTotalLength},
		{"truncated by one", func(b []byte) []byte { return b[:len(b)-1] }, ErrTruncated},
		{"header only", func(b []byte) []byte { return b[:20] }, ErrTruncated},
	}
	for _, tt := range tests {
		b := tt.mangle(validHeader(30))
		if _, err := ParseHeader(b); !errors.Is(err, tt.want) {
			t.Errorf("%s: ParseHeader error %v, want %v", tt.name, err, tt.want)
		}
	}
	// The boundaries that must be accepted.
	for _, tt := range []struct {
		name   string
		mangle func([]byte) []byte
	}{
		{"header only, total length 20", func(b []byte) []byte { b[2], b[3] = 0, 20; return b[:20] }},
		{"IHL 15 filling the packet", func(b []byte) []byte { b[0], b[2], b[3] = 0x4f, 0, 60; return b[:60] }},
		{"link padding after total length", func(b []byte) []byte { return append(b, 0, 0, 0, 0) }},
	} {
		if _, err := ParseHeader(tt.mangle(validHeader(40))); err != nil {
			t.Errorf("%s: ParseHeader error %v, want none", tt.name, err)
		}
	}
}

func TestPayloadCutsLinkPadding(t *testing.T) {
	b := append(validHeader(6), 0xee, 0xee, 0xee) // e.g. Ethernet padding
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h.Payload(), []byte{0, 1, 2, 3, 4, 5}) || len(h.Bytes()) != 26 {
		t.Errorf("payload %x, bytes %d", h.Payload(), len(h.Bytes()))
	}
}

func TestChecksumValidDetectsCorruption(t *testing.T) {
	b := validHeader(8)
	for i := 0; i < 20; i++ {
		for bit := 0; bit < 8; bit++ {
			b[i] ^= 1 << bit
			h, err := ParseHeader(b)
			if err == nil && h.ChecksumValid() {
				t.Fatalf("flipping bit %d of byte %d not detected", bit, i)
			}
			b[i] ^= 1 << bit
		}
	}
	// Payload bytes are not covered by the header checksum.
	b[25] ^= 0xff
	if h, _ := ParseHeader(b); !h.ChecksumValid() {
		t.Fatal("payload change made the header checksum invalid")
	}
}

func TestHeaderOptions(t *testing.T) {
	options := []byte{0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00} // router alert, NOPs, EOL
	f := HeaderFields{TTL: 1, Protocol: 2, Src: netip.MustParseAddr("198.18.0.1"),
		Dst: netip.MustParseAddr("198.18.0.2"), Options: options, PayloadLength: 4}
	b := make([]byte, f.Size()+4)
	if n := f.Encode(b); n != 28 {
		t.Fatalf("Encode returned %d, want 28", n)
	}
	copy(b[28:], "data")
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.HeaderLength() != 28 || !bytes.Equal(h.Options(), options) ||
		string(h.Payload()) != "data" || !h.ChecksumValid() || h.TotalLength() != 32 {
		t.Errorf("header %v: options %x payload %q", h, h.Options(), h.Payload())
	}
}

func TestHeaderFieldsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for round := 0; round < 5000; round++ {
		f := randomFields(rng)
		b := make([]byte, f.Size()+f.PayloadLength)
		f.Encode(b)
		h, err := ParseHeader(b)
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		got := HeaderFields{
			TOS: h.TOS(), ID: h.ID(), Flags: h.Flags(), FragmentOffset: h.FragmentOffset(),
			TTL: h.TTL(), Protocol: h.Protocol(), Src: h.Source(), Dst: h.Destination(),
			Options: h.Options(), PayloadLength: len(h.Payload()),
		}
		if got.TOS != f.TOS || got.ID != f.ID || got.Flags != f.Flags ||
			got.FragmentOffset != f.FragmentOffset || got.TTL != f.TTL ||
			got.Protocol != f.Protocol || got.Src != f.Src || got.Dst != f.Dst ||
			!bytes.Equal(got.Options, f.Options) || got.PayloadLength != f.PayloadLength {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, f)
		}
		if !h.ChecksumValid() {
			t.Fatalf("%+v: encoded checksum invalid", f)
		}
		if h.IsFragment() != (f.Flags&MoreFragments != 0 || f.FragmentOffset != 0) {
			t.Fatalf("%+v: IsFragment %v", f, h.IsFragment())
		}
		if h.DSCP() != f.TOS>>2 || h.ECN() != f.TOS&3 {
			t.Fatalf("TOS %#x: DSCP %d ECN %d", f.TOS, h.DSCP(), h.ECN())
		}
	}
}

// randomFields returns valid HeaderFields with random values.
func randomFields(rng *rand.Rand) HeaderFields {
	var src, dst [4]byte
	for i := range 4 {
		src[i], dst[i] = byte(rng.Uint32()), byte(rng.Uint32())
	}
	options := make([]byte, 4*rng.IntN(11))
	for i := range options {
		options[i] = byte(rng.Uint32())
	}
	return HeaderFields{
		TOS: byte(rng.Uint32()), ID: uint16(rng.Uint32()),
		Flags: Flags(rng.IntN(4)), FragmentOffset: 8 * rng.IntN(0x2000),
		TTL: byte(rng.Uint32()), Protocol: Protocol(rng.Uint32()),
		Src: netip.AddrFrom4(src), Dst: netip.AddrFrom4(dst),
		Options: options, PayloadLength: rng.IntN(200),
	}
}

func TestEncodePanicsOnInvalidFields(t *testing.T) {
	valid := HeaderFields{TTL: 64, Src: netip.MustParseAddr("198.18.0.1"), Dst: netip.MustParseAddr("198.18.0.2")}
	tests := []struct {
		name   string
		mangle func(*HeaderFields)
		buf    int
	}{
		{"short buffer", func(f *HeaderFields) {}, 19},
		{"options not a multiple of 4", func(f *HeaderFields) { f.Options = []byte{1, 1, 1} }, 60},
		{"options too long", func(f *HeaderFields) { f.Options = make([]byte, 44) }, 64},
		{"IPv6 source", func(f *HeaderFields) { f.Src = netip.MustParseAddr("2001:db8::1") }, 60},
		{"zero destination", func(f *HeaderFields) { f.Dst = netip.Addr{} }, 60},
		{"reserved flag", func(f *HeaderFields) { f.Flags = ReservedFlag }, 60},
		{"odd fragment offset", func(f *HeaderFields) { f.FragmentOffset = 12 }, 60},
		{"fragment offset too large", func(f *HeaderFields) { f.FragmentOffset = 0x2000 * 8 }, 60},
		{"payload too long", func(f *HeaderFields) { f.PayloadLength = 65516 }, 60},
	}
	for _, tt := range tests {
		f := valid
		tt.mangle(&f)
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Encode did not panic", tt.name)
				}
			}()
			f.Encode(make([]byte, tt.buf))
		}()
	}
	// The largest payload is fine.
	valid.PayloadLength = 65515
	valid.Encode(make([]byte, 20))
}

func TestSetters(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for round := 0; round < 2000; round++ {
		f := randomFields(rng)
		b := make([]byte, f.Size()+f.PayloadLength)
		f.Encode(b)
		h, err := ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		ttl, id := byte(rng.Uint32()), uint16(rng.Uint32())
		length := h.HeaderLength() + rng.IntN(len(h.Payload())+1)
		h.SetTTL(ttl)
		h.SetID(id)
		if err := h.SetTotalLength(length); err != nil {
			t.Fatalf("SetTotalLength(%d): %v", length, err)
		}
		if h.TTL() != ttl || h.ID() != id || h.TotalLength() != length || len(h.Bytes()) != length {
			t.Fatalf("after setters: %v", h)
		}
		if !h.ChecksumValid() {
			t.Fatalf("incremental checksum wrong after setters: %v", h)
		}
		// The incremental result is the value a full recomputation gives.
		incremental := h.Checksum()
		h.UpdateChecksum()
		if h.Checksum() != incremental {
			t.Fatalf("incremental %#04x, recomputed %#04x", incremental, h.Checksum())
		}
	}
}

func TestSetTotalLengthBounds(t *testing.T) {
	h, err := ParseHeader(validHeader(10))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []int{19, 31, 65536, -1} {
		if err := h.SetTotalLength(bad); !errors.Is(err, ErrTotalLength) {
			t.Errorf("SetTotalLength(%d) = %v, want ErrTotalLength", bad, err)
		}
	}
	if h.TotalLength() != 30 || !h.ChecksumValid() {
		t.Errorf("a refused SetTotalLength changed the header: %v", h)
	}
	if err := h.SetTotalLength(20); err != nil || len(h.Payload()) != 0 {
		t.Errorf("SetTotalLength(20): %v, payload %d", err, len(h.Payload()))
	}
}

func TestParseQuotedHeader(t *testing.T) {
	b := validHeader(100)
	quote := b[:28] // header and 8 bytes, as RFC 792 quotes
	if _, err := ParseHeader(quote); !errors.Is(err, ErrTruncated) {
		t.Fatalf("ParseHeader of a quote: %v, want ErrTruncated", err)
	}
	h, err := ParseQuotedHeader(quote)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Truncated() || h.TotalLength() != 120 || len(h.Payload()) != 8 || !h.ChecksumValid() {
		t.Errorf("quoted: %v payload %d", h, len(h.Payload()))
	}
	// A whole quote with padding behind it is cut at Total Length.
	h, err = ParseQuotedHeader(append(b, 0, 0))
	if err != nil || h.Truncated() || len(h.Payload()) != 100 {
		t.Errorf("whole quote: %v, %v", h, err)
	}
	// The header itself must be complete and sane.
	for _, tt := range []struct {
		b    []byte
		want error
	}{
		{b[:19], ErrTooShort},
		{append([]byte{0x65}, b[1:28]...), ErrVersion},
		{append([]byte{0x4f}, b[1:28]...), ErrHeaderLength},
		{append([]byte{0x45, 0, 0, 19}, b[4:28]...), ErrTotalLength},
	} {
		if _, err := ParseQuotedHeader(tt.b); !errors.Is(err, tt.want) {
			t.Errorf("ParseQuotedHeader(% x): %v, want %v", tt.b, err, tt.want)
		}
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	b := mustHex(t, goldenTCPSyn)
	f := HeaderFields{TTL: 64, Protocol: ProtocolTCP, Src: netip.MustParseAddr("198.18.0.1"),
		Dst: netip.MustParseAddr("198.18.0.2"), PayloadLength: 40}
	out := make([]byte, 60)
	n := testing.AllocsPerRun(100, func() {
		h, err := ParseHeader(b)
		if err != nil || !h.ChecksumValid() {
			t.Fatal("parse failed")
		}
		_ = h.Source()
		_ = h.Payload()
		f.Encode(out)
	})
	if n != 0 {
		t.Fatalf("%v allocations per parse and encode", n)
	}
}

func TestNames(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{ProtocolTCP.String(), "TCP"},
		{ProtocolUDP.String(), "UDP"},
		{ProtocolICMP.String(), "ICMP"},
		{Protocol(89).String(), "protocol 89"},
		{(DontFragment | MoreFragments).String(), "DF|MF"},
		{ReservedFlag.String(), "RF"},
		{Flags(0).String(), "none"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

var headerSink Header

func BenchmarkParseHeader(b *testing.B) {
	packet := mustHex(b, goldenTCPSyn)
	b.ReportAllocs()
	for b.Loop() {
		h, err := ParseHeader(packet)
		if err != nil {
			b.Fatal(err)
		}
		headerSink = h
	}
}

// BenchmarkParseHeaderAndVerify adds the checksum check the stack makes on
// every received packet.
func BenchmarkParseHeaderAndVerify(b *testing.B) {
	packet := mustHex(b, goldenTCPSyn)
	b.ReportAllocs()
	for b.Loop() {
		h, err := ParseHeader(packet)
		if err != nil || !h.ChecksumValid() {
			b.Fatal("invalid")
		}
		headerSink = h
	}
}

func BenchmarkHeaderFieldsEncode(b *testing.B) {
	f := HeaderFields{ID: 1, Flags: DontFragment, TTL: DefaultTTL, Protocol: ProtocolTCP,
		Src: netip.MustParseAddr("198.18.0.1"), Dst: netip.MustParseAddr("198.18.0.2"),
		PayloadLength: 1440}
	buf := make([]byte, 1500)
	b.ReportAllocs()
	for b.Loop() {
		f.Encode(buf)
	}
}

func BenchmarkSetTTL(b *testing.B) {
	h, err := ParseHeader(mustHex(b, goldenTCPSyn))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.SetTTL(uint8(i))
	}
}

func TestCheckOptions(t *testing.T) {
	tests := []struct {
		name        string
		options     []byte
		wantPointer int
		wantErr     error
	}{
		{"none", nil, 0, nil},
		{"NOPs", []byte{1, 1, 1, 1}, 0, nil},
		{"EOL then junk padding", []byte{0, 0xff, 0x07, 0x00}, 0, nil},
		{"router alert (RFC 2113)", []byte{0x94, 0x04, 0x00, 0x00}, 0, nil},
		{"record route filling 8 bytes", []byte{0x07, 0x07, 0x04, 0, 0, 0, 0, 0}, 0, nil},
		{"length 0", []byte{0x94, 0x00, 0x00, 0x00}, 21, ErrOptions},
		{"length 1", []byte{1, 0x94, 0x01, 0x00}, 22, ErrOptions},
		{"length past the header", []byte{0x94, 0x05, 0x00, 0x00}, 21, ErrOptions},
		{"length byte missing", []byte{1, 1, 1, 0x94}, 23, ErrOptions},
		{"second option bad", []byte{0x94, 0x04, 0, 0, 0x07, 0x09, 0, 0}, 25, ErrOptions},
	}
	for _, tt := range tests {
		f := HeaderFields{TTL: 1, Src: netip.MustParseAddr("198.18.0.1"),
			Dst: netip.MustParseAddr("198.18.0.2"), Options: tt.options}
		b := make([]byte, f.Size())
		f.Encode(b)
		h, err := ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		pointer, err := h.CheckOptions()
		if pointer != tt.wantPointer || !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: CheckOptions = %d, %v; want %d, %v", tt.name, pointer, err, tt.wantPointer, tt.wantErr)
		}
	}
}
