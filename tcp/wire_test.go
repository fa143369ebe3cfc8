package tcp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/tundra-net/tundra/ipv4"
)

var (
	testSrcAddr = [4]byte{198, 18, 0, 1}
	testDstAddr = [4]byte{198, 18, 0, 2}
)

// goldenSYN is a SYN from 198.18.0.1:40000 to 198.18.0.2:80 with MSS 1460,
// window scale 7, SACK-permitted and timestamps, laid out as Encode does.
var goldenSYN = []byte{
	0x9c, 0x40, 0x00, 0x50, // ports 40000 -> 80
	0x01, 0x02, 0x03, 0x04, // seq
	0x00, 0x00, 0x00, 0x00, // ack
	0xb0, 0x02, 0xff, 0xff, // data offset 11 words, SYN, window 65535
	0x00, 0x00, 0x00, 0x00, // checksum (filled below), urgent
	0x02, 0x04, 0x05, 0xb4, // MSS 1460
	0x01, 0x03, 0x03, 0x07, // NOP, WS 7
	0x01, 0x01, 0x04, 0x02, // NOP NOP SACK-permitted
	0x01, 0x01, 0x08, 0x0a, // NOP NOP TS
	0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x00, // TSval 42, TSecr 0
}

func goldenSYNFields() HeaderFields {
	return HeaderFields{
		SrcPort: 40000, DstPort: 80, Seq: 0x01020304, Flags: FlagSYN, Window: 65535,
		Options: Options{HasMSS: true, MSS: 1460, HasWindowScale: true, WindowScale: 7,
			SACKPermitted: true, HasTimestamps: true, TSVal: 42},
	}
}

func TestEncodeGolden(t *testing.T) {
	f := goldenSYNFields()
	buf := make([]byte, 60)
	n, err := f.Encode(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf[:n], goldenSYN) {
		t.Fatalf("Encode:\n got %x\nwant %x", buf[:n], goldenSYN)
	}
	SetChecksum(buf[:n], testSrcAddr, testDstAddr)
	h, err := ParseHeader(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	if !h.ChecksumValid(testSrcAddr, testDstAddr) {
		t.Fatal("checksum not valid after SetChecksum")
	}
	if h.ChecksumValid(testDstAddr, [4]byte{198, 18, 0, 3}) {
		t.Fatal("checksum valid for the wrong addresses")
	}
	buf[25] ^= 1
	if h.ChecksumValid(testSrcAddr, testDstAddr) {
		t.Fatal("checksum valid after corrupting a byte")
	}
}

func TestParseHeaderErrors(t *testing.T) {
	ok := append([]byte(nil), goldenSYN...)
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrHeaderTooShort},
		{"19 bytes", ok[:19], ErrHeaderTooShort},
		{"offset 4 words", func() []byte { b := append([]byte(nil), ok...); b[12] = 0x40; return b }(), ErrDataOffsetTooSmall},
		{"offset past end", ok[:39], ErrDataOffsetPastEnd},
		{"valid", ok, nil},
	}
	for _, tt := range tests {
		_, err := ParseHeader(tt.b)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestHeaderAccessors(t *testing.T) {
	seg := append(append([]byte(nil), goldenSYN...), "hello"...)
	h, err := ParseHeader(seg)
	if err != nil {
		t.Fatal(err)
	}
	if h.SrcPort() != 40000 || h.DstPort() != 80 || h.Seq() != 0x01020304 || h.Ack() != 0 ||
		h.Flags() != FlagSYN || h.Window() != 65535 || h.Urgent() != 0 || h.DataOffset() != 44 {
		t.Fatalf("accessors: %d %d %d %d %v %d %d %d", h.SrcPort(), h.DstPort(), h.Seq(), h.Ack(),
			h.Flags(), h.Window(), h.Urgent(), h.DataOffset())
	}
	if string(h.Payload()) != "hello" || len(h.Options()) != 24 {
		t.Fatalf("payload %q, options %d bytes", h.Payload(), len(h.Options()))
	}
	var zero Header
	if zero.SrcPort() != 0 || zero.Payload() != nil || zero.Options() != nil || zero.ChecksumValid(testSrcAddr, testDstAddr) {
		t.Fatal("zero Header accessors should return zero values")
	}
}

func TestFlagsString(t *testing.T) {
	for f, want := range map[Flags]string{
		0: "none", FlagSYN: "SYN", FlagSYN | FlagACK: "SYN|ACK", FlagFIN | FlagACK: "FIN|ACK",
		FlagRST | FlagACK: "RST|ACK", FlagPSH | FlagACK: "PSH|ACK", 0xff: "SYN|FIN|RST|PSH|ACK|URG|ECE|CWR",
	} {
		if got := f.String(); got != want {
			t.Errorf("%#x: got %q, want %q", uint8(f), got, want)
		}
	}
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want Options
		err  error
	}{
		{"empty", nil, Options{}, nil},
		{"eol stops", []byte{0, 2, 4, 5, 0xb4}, Options{}, nil},
		{"nop mss", []byte{1, 2, 4, 5, 0xb4}, Options{HasMSS: true, MSS: 1460}, nil},
		{"unknown skipped", []byte{30, 4, 9, 9, 3, 3, 14}, Options{HasWindowScale: true, WindowScale: 14}, nil},
		{"sack 2 blocks", []byte{5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4},
			Options{SACKBlockCount: 2, SACKBlocks: [4]SACKBlock{{1, 2}, {3, 4}}}, nil},
		{"length 1", []byte{2, 1, 0, 0}, Options{}, ErrOptionTooShort},
		{"length 0 unknown", []byte{99, 0}, Options{}, ErrOptionTooShort},
		{"no length byte", []byte{1, 2}, Options{}, ErrOptionPastEnd},
		{"past end", []byte{8, 10, 0, 0}, Options{}, ErrOptionPastEnd},
		{"mss length 3", []byte{2, 3, 5}, Options{}, ErrOptionLength},
		{"ws length 4", []byte{3, 4, 5, 5}, Options{}, ErrOptionLength},
		{"sackperm length 3", []byte{4, 3, 0}, Options{}, ErrOptionLength},
		{"sack length 2", []byte{5, 2}, Options{}, ErrOptionLength},
		{"sack length 11", append([]byte{5, 11}, make([]byte, 9)...), Options{}, ErrOptionLength},
		{"sack 5 blocks", append([]byte{5, 42}, make([]byte, 40)...), Options{}, ErrOptionLength},
		{"ts length 8", []byte{8, 8, 0, 0, 0, 0, 0, 0}, Options{}, ErrOptionLength},
	}
	for _, tt := range tests {
		got, err := ParseOptions(tt.b)
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.err)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestOptionsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, MaxOptionsLen)
	for range 2000 {
		o := randomOptions(rng)
		n, err := o.Encode(buf)
		if o.EncodedLen() > MaxOptionsLen {
			if !errors.Is(err, ErrOptionsTooLong) {
				t.Fatalf("oversized options: err %v", err)
			}
			continue
		}
		if err != nil || n%4 != 0 || n != o.EncodedLen() {
			t.Fatalf("Encode: n=%d err=%v", n, err)
		}
		got, err := ParseOptions(buf[:n])
		if err != nil || got != o {
			t.Fatalf("round trip:\n got %+v %v\nwant %+v", got, err, o)
		}
	}
	if _, err := (&Options{HasMSS: true}).Encode(buf[:3]); !errors.Is(err, ErrBufferTooSmall) {
		t.Fatalf("short buffer: %v", err)
	}
}

func randomOptions(rng *rand.Rand) Options {
	var o Options
	if rng.IntN(2) == 0 {
		o.HasMSS, o.MSS = true, uint16(rng.Uint32())
	}
	if rng.IntN(2) == 0 {
		o.HasWindowScale, o.WindowScale = true, uint8(rng.IntN(15))
	}
	o.SACKPermitted = rng.IntN(2) == 0
	if rng.IntN(2) == 0 {
		o.HasTimestamps, o.TSVal, o.TSEcr = true, rng.Uint32(), rng.Uint32()
	}
	o.SACKBlockCount = rng.IntN(MaxSACKBlocks + 1)
	for i := range o.SACKBlockCount {
		o.SACKBlocks[i] = SACKBlock{Seq(rng.Uint32()), Seq(rng.Uint32())}
	}
	return o
}

// TestDifferentialGopacket serializes random segments with gopacket's
// layers.TCP and checks our view, option parser and checksum agree with it,
// then the other way round: our builder's bytes decoded by gopacket.
func TestDifferentialGopacket(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 500 {
		o := randomOptions(rng)
		if o.EncodedLen() > MaxOptionsLen {
			o.SACKBlockCount, o.SACKBlocks = 0, [MaxSACKBlocks]SACKBlock{}
		}
		f := HeaderFields{
			SrcPort: uint16(rng.Uint32()), DstPort: uint16(rng.Uint32()),
			Seq: Seq(rng.Uint32()), Ack: Seq(rng.Uint32()), Flags: Flags(rng.Uint32()),
			Window: uint16(rng.Uint32()), Urgent: uint16(rng.Uint32()), Options: o,
		}
		payload := make([]byte, rng.IntN(100))
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		seg := make([]byte, f.Len()+len(payload))
		n, err := f.Encode(seg)
		if err != nil {
			t.Fatal(err)
		}
		copy(seg[n:], payload)
		SetChecksum(seg, testSrcAddr, testDstAddr)

		// Ours -> gopacket.
		var g layers.TCP
		if err := g.DecodeFromBytes(seg, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("%d: gopacket decode: %v", i, err)
		}
		if g.SrcPort != layers.TCPPort(f.SrcPort) || g.DstPort != layers.TCPPort(f.DstPort) ||
			g.Seq != uint32(f.Seq) || g.Ack != uint32(f.Ack) || g.Window != f.Window ||
			g.Urgent != f.Urgent || g.SYN != f.Flags.Has(FlagSYN) || g.FIN != f.Flags.Has(FlagFIN) ||
			g.RST != f.Flags.Has(FlagRST) || g.ACK != f.Flags.Has(FlagACK) || g.PSH != f.Flags.Has(FlagPSH) ||
			g.URG != f.Flags.Has(FlagURG) || g.ECE != f.Flags.Has(FlagECE) || g.CWR != f.Flags.Has(FlagCWR) ||
			int(g.DataOffset)*4 != n || !bytes.Equal(g.Payload, payload) {
			t.Fatalf("%d: gopacket sees %+v for %+v", i, g, f)
		}
		for _, opt := range g.Options {
			switch opt.OptionType {
			case layers.TCPOptionKindMSS:
				if !o.HasMSS || binary.BigEndian.Uint16(opt.OptionData) != o.MSS {
					t.Fatalf("%d: MSS mismatch", i)
				}
			case layers.TCPOptionKindTimestamps:
				if !o.HasTimestamps || binary.BigEndian.Uint32(opt.OptionData) != o.TSVal {
					t.Fatalf("%d: timestamps mismatch", i)
				}
			case layers.TCPOptionKindSACK:
				if len(opt.OptionData) != 8*o.SACKBlockCount {
					t.Fatalf("%d: SACK mismatch", i)
				}
			}
		}

		// gopacket -> ours, including gopacket's checksum.
		ip := &layers.IPv4{SrcIP: testSrcAddr[:], DstIP: testDstAddr[:], Protocol: layers.IPProtocolTCP, Version: 4, TTL: 64}
		g2 := layers.TCP{SrcPort: g.SrcPort, DstPort: g.DstPort, Seq: g.Seq, Ack: g.Ack, Window: g.Window,
			Urgent: g.Urgent, SYN: g.SYN, ACK: g.ACK, FIN: g.FIN, RST: g.RST, PSH: g.PSH, URG: g.URG,
			ECE: g.ECE, CWR: g.CWR, Options: g.Options}
		if err := g2.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		sb := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true},
			&g2, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		h, err := ParseHeader(sb.Bytes())
		if err != nil {
			t.Fatalf("%d: ParseHeader of gopacket bytes: %v", i, err)
		}
		if h.Checksum() != binary.BigEndian.Uint16(seg[16:18]) || !h.ChecksumValid(testSrcAddr, testDstAddr) {
			t.Fatalf("%d: checksum %#x, ours %#x", i, h.Checksum(), binary.BigEndian.Uint16(seg[16:18]))
		}
		po, err := ParseOptions(h.Options())
		if err != nil || po != o {
			t.Fatalf("%d: options from gopacket bytes:\n got %+v %v\nwant %+v", i, po, err, o)
		}
		if h.Seq() != f.Seq || h.Ack() != f.Ack || h.Flags() != f.Flags || !bytes.Equal(h.Payload(), payload) {
			t.Fatalf("%d: fields differ", i)
		}
	}
}

func TestChecksumScattered(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		b := make([]byte, 20+rng.IntN(200))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		want := Checksum(testSrcAddr, testDstAddr, b)
		i := rng.IntN(len(b) + 1)
		j := i + rng.IntN(len(b)-i+1)
		if got := Checksum(testSrcAddr, testDstAddr, b[:i], b[i:j], b[j:]); got != want {
			t.Fatalf("split at %d,%d: %#x, want %#x", i, j, got, want)
		}
	}
}

func TestSeqArithmetic(t *testing.T) {
	a, b := Seq(0xfffffff0), Seq(0x10)
	if !a.LessThan(b) || b.LessThan(a) || !a.LessThanEq(a) || a.LessThan(a) || !b.GreaterThan(a) || !b.GreaterThanEq(b) {
		t.Fatal("comparisons across the wrap")
	}
	if a.Add(0x20) != b || b.Sub(a) != 0x20 {
		t.Fatal("Add/Sub across the wrap")
	}
	if !Seq(0).InRange(a, b) || Seq(0x10).InRange(a, b) || !a.InRange(a, b) || a.InRange(a, a) {
		t.Fatal("InRange")
	}
	if !Seq(5).InWindow(a, 0x20) || Seq(5).InWindow(a, 0) || MaxSeq(a, b) != b || MinSeq(a, b) != a {
		t.Fatal("InWindow/Max/Min")
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add(goldenSYN)
	f.Add([]byte{})
	f.Add(append(append([]byte(nil), goldenSYN[:20]...), 1, 2, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			return
		}
		_ = h.SrcPort() + h.DstPort() + h.Window() + h.Urgent() + h.Checksum()
		_ = h.Seq().Add(uint32(h.Ack()))
		if len(h.Options())+len(h.Payload())+HeaderMinLen != len(b) || h.DataOffset() > MaxHeaderLen {
			t.Fatalf("lengths do not add up")
		}
		h.ChecksumValid(testSrcAddr, testDstAddr)
		o, err := ParseOptions(h.Options())
		if err != nil {
			return
		}
		// Re-encoding parsed options must parse back to the same thing.
		if o.EncodedLen() <= MaxOptionsLen {
			buf := make([]byte, MaxOptionsLen)
			n, err := o.Encode(buf)
			if err != nil {
				t.Fatal(err)
			}
			o2, err := ParseOptions(buf[:n])
			if err != nil || o2 != o {
				t.Fatalf("re-encode: %+v vs %+v (%v)", o2, o, err)
			}
		}
	})
}

func FuzzParseOptions(f *testing.F) {
	f.Add(goldenSYN[20:])
	f.Add([]byte{5, 10, 0, 0, 0, 1, 0, 0, 0, 2})
	f.Add([]byte{2, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOptions(b)
		if err == nil && (o.SACKBlockCount < 0 || o.SACKBlockCount > MaxSACKBlocks) {
			t.Fatalf("SACK block count %d", o.SACKBlockCount)
		}
	})
}

func BenchmarkParseHeaderAndOptions(b *testing.B) {
	seg := append(append([]byte(nil), goldenSYN...), make([]byte, 1400)...)
	b.ReportAllocs()
	b.SetBytes(int64(len(seg)))
	for b.Loop() {
		h, err := ParseHeader(seg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParseOptions(h.Options()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeHeader(b *testing.B) {
	f := goldenSYNFields()
	buf := make([]byte, 60)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Encode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChecksum1460(b *testing.B) {
	seg := make([]byte, 1480)
	b.ReportAllocs()
	b.SetBytes(int64(len(seg)))
	for b.Loop() {
		SetChecksum(seg, testSrcAddr, testDstAddr)
	}
}

func TestFormat(t *testing.T) {
	f := goldenSYNFields()
	if got, want := f.String(), "SYN seq=16909060 win=65535 <mss 1460,wscale 7,sackOK,TS val 42 ecr 0>"; got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	f = HeaderFields{Seq: 1, Ack: 2, Flags: FlagACK, Window: 3,
		Options: Options{SACKBlockCount: 2, SACKBlocks: [4]SACKBlock{{10, 20}, {30, 40}}}}
	if got, want := f.String(), "ACK seq=1 ack=2 win=3 <sack 2 {10:20} {30:40}>"; got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if got := (HeaderFields{Flags: FlagRST}).String(); got != "RST seq=0 win=0" {
		t.Fatalf("got %q", got)
	}
}

// referenceChecksum is RFC 1071's sum written the obvious way, 16 bits at a
// time, to check the fast one against.
func referenceChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

func TestChecksumAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for n := range 300 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if n%7 == 0 {
			for i := range b {
				b[i] = 0xff // many carries
			}
		}
		if got, want := ^ipv4.Fold(ipv4.Checksum(b, 0)), referenceChecksum(b); got != want && !(got == 0xffff && want == 0) && !(got == 0 && want == 0xffff) {
			t.Fatalf("length %d: %#04x, want %#04x", n, got, want)
		}
	}
}
