package gso

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tundra-net/tundra/link"
)

// rfc1071 is the Internet checksum computed the slow, obvious way, so the
// tests do not check the package with its own arithmetic.
func rfc1071(b []byte, initial uint32) uint32 {
	sum := initial
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return sum
}

// verifyChecksums checks the IPv4 header checksum and the transport
// checksum of a plain packet: each sums to 0xffff over its coverage.
func verifyChecksums(t *testing.T, p []byte) {
	t.Helper()
	ihl := int(p[0]&0x0f) * 4
	if rfc1071(p[:ihl], 0) != 0xffff {
		t.Fatalf("IPv4 header checksum wrong: % x", p[:ihl])
	}
	l4 := p[ihl:]
	pseudo := rfc1071(p[12:20], 0) + uint32(p[9]) + uint32(len(l4))
	if rfc1071(l4, pseudo) != 0xffff {
		t.Fatalf("transport checksum wrong (protocol %d, %d bytes)", p[9], len(l4))
	}
}

// packet builds an IPv4 packet with a TCP header of optionWords 32-bit
// words of options (or a UDP header when tcp is false), flags, the given
// payload, and complete checksums.
func packet(tcp bool, optionWords int, flags byte, payload []byte) []byte {
	l4 := 8
	if tcp {
		l4 = 20 + optionWords*4
	}
	p := make([]byte, 20+l4+len(payload))
	p[0], p[8] = 0x45, 64
	p[6] = 0x40 // DF
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	binary.BigEndian.PutUint16(p[4:], 0xfffe) // the ID wraps inside a split
	copy(p[12:], []byte{198, 18, 0, 2, 198, 18, 0, 1})
	t := p[20:]
	binary.BigEndian.PutUint16(t[0:], 80)
	binary.BigEndian.PutUint16(t[2:], 40000)
	if tcp {
		p[9] = 6
		binary.BigEndian.PutUint32(t[4:], 0xffffff00) // the sequence wraps too
		binary.BigEndian.PutUint32(t[8:], 12345)
		t[12] = byte(5+optionWords) << 4
		t[13] = flags
		binary.BigEndian.PutUint16(t[14:], 65535)
		for i := range optionWords * 4 {
			t[20+i] = 1 // NOPs
		}
	} else {
		p[9] = 17
		binary.BigEndian.PutUint16(t[4:], uint16(l4+len(payload)))
	}
	copy(p[20+l4:], payload)
	binary.BigEndian.PutUint16(p[10:], ^uint16(rfc1071(p[:20], 0)))
	field := 16
	if !tcp {
		field = 6
	}
	pseudo := rfc1071(p[12:20], 0) + uint32(p[9]) + uint32(len(t))
	binary.BigEndian.PutUint16(t[field:], ^uint16(rfc1071(t, pseudo)))
	return p
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func outputs(n, size int) []link.Packet {
	out := make([]link.Packet, n)
	for i := range out {
		out[i].Data = make([]byte, 0, size)
	}
	return out
}

func TestSplitTCP(t *testing.T) {
	cases := []struct {
		name        string
		options     int
		payload     int
		mss         uint16
		flags       byte
		wantSegs    int
		partialCsum bool
	}{
		{"even cut", 0, 4 * 1460, 1460, 0x18, 4, false},
		{"short last segment, FIN", 3, 10000, 1448, 0x19, 7, true},
		{"one segment", 0, 100, 1460, 0x18, 1, false},
		{"header only", 0, 0, 1460, 0x11, 1, true},
		{"CWR on the first only", 0, 3000, 1000, 0x98, 3, false},
		{"64 KiB", 3, 65535 - 52, 1448, 0x18, 46, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := pattern(c.payload)
			super := packet(true, c.options, c.flags, data)
			off := link.Offload{GSOType: link.GSOTCPv4, GSOSize: c.mss}
			if c.partialCsum {
				partial, err := SetPartialChecksum(super)
				if err != nil {
					t.Fatal(err)
				}
				off.NeedsChecksum, off.ChecksumStart, off.ChecksumOffset = true, partial.ChecksumStart, partial.ChecksumOffset
			}
			orig := bytes.Clone(super)
			if n, err := Segments(super, off); n != c.wantSegs || err != nil {
				t.Fatalf("Segments = %d, %v; want %d", n, err, c.wantSegs)
			}
			out := outputs(c.wantSegs+1, 1500)
			n, err := Split(super, off, out)
			if err != nil || n != c.wantSegs {
				t.Fatalf("Split = %d, %v; want %d segments", n, err, c.wantSegs)
			}
			if !bytes.Equal(super, orig) {
				t.Fatal("Split modified its input")
			}
			var got []byte
			hdrLen := 20 + 20 + c.options*4
			for i, seg := range out[:n] {
				verifyChecksums(t, seg.Data)
				if seg.Offload != (link.Offload{}) {
					t.Errorf("segment %d carries offload metadata %+v", i, seg.Offload)
				}
				if len(seg.Data) > hdrLen+int(c.mss) {
					t.Errorf("segment %d has %d payload bytes, more than the MSS", i, len(seg.Data)-hdrLen)
				}
				pkt := gopacket.NewPacket(seg.Data, layers.LayerTypeIPv4, gopacket.Default)
				ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
				tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
				if ip == nil || tcp == nil {
					t.Fatalf("segment %d does not decode: %v", i, pkt.ErrorLayer())
				}
				if int(ip.Length) != len(seg.Data) || ip.Id != uint16(0xfffe+i) || ip.Flags != layers.IPv4DontFragment {
					t.Errorf("segment %d: IPv4 length %d id %#x flags %v", i, ip.Length, ip.Id, ip.Flags)
				}
				if want := uint32(0xffffff00) + uint32(i)*uint32(c.mss); tcp.Seq != want {
					t.Errorf("segment %d: seq %#x, want %#x", i, tcp.Seq, want)
				}
				last := i == n-1
				if tcp.FIN != (last && c.flags&tcpFIN != 0) || tcp.PSH != (last && c.flags&tcpPSH != 0) {
					t.Errorf("segment %d: FIN %v PSH %v", i, tcp.FIN, tcp.PSH)
				}
				if tcp.CWR != (i == 0 && c.flags&tcpCWR != 0) || !tcp.ACK || tcp.Ack != 12345 || len(tcp.Options) != c.options*4 {
					t.Errorf("segment %d: CWR %v ACK %v ack %d options %d", i, tcp.CWR, tcp.ACK, tcp.Ack, len(tcp.Options))
				}
				got = append(got, tcp.Payload...)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("the segments carry %d bytes that differ from the super-packet's %d", len(got), len(data))
			}
		})
	}
}

// TestSplitMatchesGopacket serialises each segment again with gopacket,
// which computes lengths and checksums its own way, and wants the same
// bytes.
func TestSplitMatchesGopacket(t *testing.T) {
	super := packet(true, 2, 0x18, pattern(5000))
	out := outputs(4, 1500)
	n, err := Split(super, link.Offload{GSOType: link.GSOTCPv4, GSOSize: 1400}, out)
	if err != nil {
		t.Fatal(err)
	}
	for i, seg := range out[:n] {
		pkt := gopacket.NewPacket(seg.Data, layers.LayerTypeIPv4, gopacket.Default)
		ip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tcp := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		tcp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true},
			ip, tcp, gopacket.Payload(tcp.Payload))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), seg.Data) {
			t.Fatalf("segment %d differs from gopacket's serialisation:\n ours % x\n them % x", i, seg.Data[:40], buf.Bytes()[:40])
		}
	}
}

func TestSplitUDP(t *testing.T) {
	data := pattern(2500)
	super := packet(false, 0, 0, data)
	off, err := SetPartialChecksum(super)
	if err != nil {
		t.Fatal(err)
	}
	off.GSOType, off.GSOSize = link.GSOUDPL4, 1000
	out := outputs(3, 1500)
	n, err := Split(super, off, out)
	if err != nil || n != 3 {
		t.Fatalf("Split = %d, %v", n, err)
	}
	var got []byte
	for i, seg := range out[:n] {
		verifyChecksums(t, seg.Data)
		pkt := gopacket.NewPacket(seg.Data, layers.LayerTypeIPv4, gopacket.Default)
		udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp == nil || int(udp.Length) != len(seg.Data)-20 || udp.SrcPort != 80 {
			t.Fatalf("datagram %d: %v", i, pkt)
		}
		got = append(got, udp.Payload...)
	}
	if len(out[2].Data) != 20+8+500 || !bytes.Equal(got, data) {
		t.Fatalf("datagrams carry %d bytes (last %d), want the 2500 sent", len(got), len(out[2].Data))
	}
}

func TestCompleteChecksum(t *testing.T) {
	for _, tcp := range []bool{true, false} {
		want := packet(tcp, 1, 0x18, pattern(777)) // odd length
		p := bytes.Clone(want)
		off, err := SetPartialChecksum(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(p, want) {
			t.Fatal("SetPartialChecksum left the checksum field as it was")
		}
		if err := CompleteChecksum(p, off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p, want) {
			t.Fatalf("tcp=%v: partial then completed checksum differs from the full one", tcp)
		}
		// Split of a plain partial packet completes it too, into a copy.
		SetPartialChecksum(p)
		out := outputs(1, 1500)
		if n, err := Split(p, off, out); n != 1 || err != nil || !bytes.Equal(out[0].Data, want) {
			t.Fatalf("Split of a plain partial packet = %d, %v", n, err)
		}
	}
	// Nothing to do without NeedsChecksum; an offset past the end is refused.
	p := packet(true, 0, 0, nil)
	if err := CompleteChecksum(p, link.Offload{}); err != nil {
		t.Fatal(err)
	}
	if err := CompleteChecksum(p, link.Offload{NeedsChecksum: true, ChecksumStart: 20, ChecksumOffset: 19}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("checksum field past the end: %v", err)
	}
}

func TestSplitErrors(t *testing.T) {
	tso := link.Offload{GSOType: link.GSOTCPv4, GSOSize: 1000}
	good := packet(true, 0, 0x18, pattern(3000))
	fragment := bytes.Clone(good)
	fragment[6] = 0x20 // MF
	badOffset := bytes.Clone(good)
	badOffset[32] = 0x40 // TCP data offset 4 words
	long := bytes.Clone(good)
	binary.BigEndian.PutUint16(long[2:], uint16(len(good)+1))
	cases := []struct {
		name string
		pkt  []byte
		off  link.Offload
		out  []link.Packet
		want error
	}{
		{"empty", nil, tso, outputs(3, 1500), ErrMalformed},
		{"IPv6", append([]byte{0x60}, good[1:]...), tso, outputs(3, 1500), ErrMalformed},
		{"fragment", fragment, tso, outputs(3, 1500), ErrMalformed},
		{"TCP data offset below 5", badOffset, tso, outputs(3, 1500), ErrMalformed},
		{"total length past the end", long, tso, outputs(3, 1500), ErrMalformed},
		{"UDP packet as TCP", packet(false, 0, 0, pattern(10)), tso, outputs(3, 1500), ErrMalformed},
		{"TCP packet as UDP", good, link.Offload{GSOType: link.GSOUDPL4, GSOSize: 100}, outputs(40, 1500), ErrMalformed},
		{"GSOSize 0", good, link.Offload{GSOType: link.GSOTCPv4}, outputs(3, 1500), ErrMalformed},
		{"unknown GSO type", good, link.Offload{GSOType: 7, GSOSize: 1000}, outputs(3, 1500), ErrMalformed},
		{"too few outputs", good, tso, outputs(2, 1500), ErrTooManySegments},
		{"small buffers", good, tso, outputs(3, 1000), ErrShortBuffer},
		{"plain, no output", good, link.Offload{}, nil, ErrTooManySegments},
		{"plain, small buffer", good, link.Offload{}, outputs(1, 100), ErrShortBuffer},
	}
	for _, c := range cases {
		if n, err := Split(c.pkt, c.off, c.out); n != 0 || !errors.Is(err, c.want) {
			t.Errorf("%s: Split = %d, %v; want %v", c.name, n, err, c.want)
		}
	}
	if _, err := SetPartialChecksum(packet(true, 0, 0, nil)[:30]); !errors.Is(err, ErrMalformed) {
		t.Errorf("SetPartialChecksum of a cut packet: %v", err)
	}
}

func TestSplitAllocatesNothing(t *testing.T) {
	super := packet(true, 3, 0x18, pattern(65535-52))
	off := link.Offload{GSOType: link.GSOTCPv4, GSOSize: 1448}
	out := outputs(46, 1500)
	if allocs := testing.AllocsPerRun(100, func() {
		if _, err := Split(super, off, out); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Fatalf("Split allocates %v times", allocs)
	}
}

// FuzzSplit feeds arbitrary packets and metadata to Split: it must never
// panic, and whatever it accepts must come out as valid packets that
// carry the super-packet's payload in order.
func FuzzSplit(f *testing.F) {
	f.Add(packet(true, 3, 0x19, pattern(3000)), uint8(link.GSOTCPv4), uint16(1448))
	f.Add(packet(false, 0, 0, pattern(2500)), uint8(link.GSOUDPL4), uint16(1000))
	f.Add(packet(true, 0, 0x18, pattern(10)), uint8(link.GSONone), uint16(0))
	f.Fuzz(func(t *testing.T, pkt []byte, gsoType uint8, gsoSize uint16) {
		off := link.Offload{GSOType: link.GSOType(gsoType), GSOSize: gsoSize}
		out := outputs(64, 1600)
		n, err := Split(pkt, off, out)
		if err != nil {
			return
		}
		h, _ := parse(pkt)
		if off.GSOType == link.GSONone {
			// A plain packet without a partial checksum is copied as it is,
			// checksums and all.
			if n != 1 || !bytes.Equal(out[0].Data, pkt[:h.packetLen]) {
				t.Fatalf("plain packet split into %d, or changed", n)
			}
			return
		}
		var got []byte
		for i, seg := range out[:n] {
			verifyChecksums(t, seg.Data)
			if len(seg.Data) < h.hdrLen || !bytes.Equal(seg.Data[ipSrc:ipDst+4], pkt[ipSrc:ipDst+4]) {
				t.Fatalf("segment %d lost its headers", i)
			}
			got = append(got, seg.Data[h.hdrLen:]...)
		}
		if !bytes.Equal(got, pkt[h.hdrLen:h.packetLen]) {
			t.Fatalf("segments carry other bytes than the packet's payload")
		}
	})
}

func BenchmarkSplitTCP64K(b *testing.B) {
	super := packet(true, 3, 0x18, pattern(65535-52))
	off := link.Offload{GSOType: link.GSOTCPv4, GSOSize: 1448}
	out := outputs(46, 1500)
	b.SetBytes(int64(len(super)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Split(super, off, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(46*b.N)/b.Elapsed().Seconds(), "segments/s")
}

func BenchmarkCompleteChecksum1500(b *testing.B) {
	p := packet(true, 3, 0x18, pattern(1448))
	off, _ := SetPartialChecksum(p)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		SetPartialChecksum(p)
		CompleteChecksum(p, off)
	}
}
