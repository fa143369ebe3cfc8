package packetdrill

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TestBuildTCPAgainstGopacket decodes a built packet with gopacket's
// layers and checks every field and both checksums.
func TestBuildTCPAgainstGopacket(t *testing.T) {
	opts, err := encodeOptions([]TCPOption{
		{Kind: OptMSS, MSS: 1460}, {Kind: OptNOP}, {Kind: OptWScale, Shift: 6},
		{Kind: OptSACKPermitted}, {Kind: OptTimestamp, TSVal: 100, TSEcr: 7},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	src, dst := netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.1")
	seg := buildTCP(src, dst, tcpFields{
		srcPort: 49152, dstPort: 8080, seq: 0xfffffff0, ack: 77,
		flags: FlagSYN | FlagACK | FlagECE, window: 32792, urgent: 3, options: opts, payloadLen: 5,
	})
	pkt := buildIPv4(ipv4Fields{src: src, dst: dst, tos: 0x28, ttl: 9, proto: protoTCP, id: 42}, seg)

	p := gopacket.NewPacket(pkt, layers.LayerTypeIPv4, gopacket.Default)
	ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if ip == nil || tcp == nil {
		t.Fatalf("gopacket could not decode: %v", p.ErrorLayer())
	}
	if ip.SrcIP.String() != "198.18.0.2" || ip.DstIP.String() != "198.18.0.1" || ip.TOS != 0x28 || ip.TTL != 9 || ip.Id != 42 || ip.Length != uint16(len(pkt)) || ip.Flags != layers.IPv4DontFragment {
		t.Errorf("IPv4 header: %+v", ip)
	}
	if tcp.SrcPort != 49152 || tcp.DstPort != 8080 || tcp.Seq != 0xfffffff0 || tcp.Ack != 77 || tcp.Window != 32792 || tcp.Urgent != 3 {
		t.Errorf("TCP header: %+v", tcp)
	}
	if !tcp.SYN || !tcp.ACK || !tcp.ECE || tcp.FIN || tcp.RST || tcp.PSH || tcp.CWR || len(tcp.Payload) != 5 {
		t.Errorf("TCP flags or payload: %+v", tcp)
	}
	wantKinds := []layers.TCPOptionKind{layers.TCPOptionKindMSS, layers.TCPOptionKindNop, layers.TCPOptionKindWindowScale, layers.TCPOptionKindSACKPermitted, layers.TCPOptionKindTimestamps}
	if len(tcp.Options) < len(wantKinds) {
		t.Fatalf("options %v", tcp.Options)
	}
	for i, k := range wantKinds {
		if tcp.Options[i].OptionType != k {
			t.Errorf("option %d is %v, want %v", i, tcp.Options[i].OptionType, k)
		}
	}

	// Recompute both checksums with gopacket and compare.
	ip.Checksum, tcp.Checksum = 0, 0
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, ip, tcp, gopacket.Payload(tcp.Payload)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), pkt) {
		t.Errorf("gopacket serialises\n% x\nwe built\n% x", buf.Bytes(), pkt)
	}

	v, err := parseIPv4(pkt)
	if err != nil || !v.checksumOK() {
		t.Fatalf("own view: %v", err)
	}
	tv, err := parseTCP(v.payload())
	if err != nil || !tcpChecksumOK(v.src(), v.dst(), tv) || tv.payloadLen() != 5 || !bytes.Equal(tv.options(), opts) {
		t.Fatalf("own TCP view: %v", err)
	}
}

func TestOptionsRoundTrip(t *testing.T) {
	in := []TCPOption{
		{Kind: OptMSS, MSS: 536}, {Kind: OptSACKPermitted}, {Kind: OptNOP},
		{Kind: OptSACK, Blocks: []SACKBlock{{1, 2}, {0xfffffff0, 5}}},
		{Kind: OptFastOpen, Cookie: []byte{1, 2, 3, 4}},
	}
	b, err := encodeOptions(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(b)%4 != 0 {
		t.Fatalf("not padded: %d bytes", len(b))
	}
	out, err := decodeOptions(b)
	if err != nil {
		t.Fatal(err)
	}
	// Padding shows up as EOLs after the options.
	if len(out) < len(in) {
		t.Fatalf("decoded %v", out)
	}
	for i := range in {
		if out[i].String() != in[i].String() {
			t.Errorf("option %d: %s, want %s", i, out[i], in[i])
		}
	}
	for _, o := range out[len(in):] {
		if o.Kind != OptEOL {
			t.Errorf("padding decoded as %s", o)
		}
	}
	if _, err := encodeOptions(make([]TCPOption, 41), nil); err != errOptionTooLong {
		t.Errorf("41 EOLs: %v", err)
	}
	if _, err := decodeOptions([]byte{2, 4, 5}); err == nil {
		t.Error("truncated MSS accepted")
	}
	if at := findTimestamp(b); at != -1 {
		t.Errorf("timestamp found at %d in options without one", at)
	}
}

// TestViewsRejectShortInput: the views check lengths once and never panic.
func TestViewsRejectShortInput(t *testing.T) {
	good := buildIPv4(ipv4Fields{src: DefaultLocal, dst: DefaultRemote, proto: protoTCP},
		buildTCP(DefaultLocal, DefaultRemote, tcpFields{options: []byte{1, 1, 1, 1}}))
	for n := 0; n < len(good); n++ {
		ip, err := parseIPv4(good[:n])
		if err == nil {
			t.Fatalf("IPv4 view accepted %d of %d bytes", n, len(good))
		}
		_ = ip
	}
	for n := 0; n < 24; n++ {
		if _, err := parseTCP(good[20 : 20+n]); err == nil {
			t.Fatalf("TCP view accepted %d bytes", n)
		}
	}
}

func FuzzDecodeOptions(f *testing.F) {
	f.Add([]byte{2, 4, 5, 0xb4, 1, 3, 3, 6, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0})
	f.Add([]byte{5, 10, 0, 0, 0, 1, 0, 0, 0, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		opts, err := decodeOptions(b)
		if err != nil {
			return
		}
		enc, err := encodeOptions(opts, nil)
		if err != nil {
			return
		}
		// What decodes cleanly encodes back to the same bytes, up to
		// padding.
		if !bytes.Equal(enc[:len(b)], b) {
			t.Fatalf("% x re-encodes as % x", b, enc)
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add("0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop>\n+0 > S. 0:0(0) ack 1 <...>\n")
	f.Add("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n#ifdef X\n+0 close(3) = 0\n#endif\n")
	f.Add("--tolerance_usecs=1\n1.0...2.0 connect(3, ..., ...) = -1 ETIMEDOUT (x)\n")
	f.Fuzz(func(t *testing.T, src string) {
		s, err := Parse("fuzz.pkt", src, ParseOptions{Defines: []string{"X"}})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for _, ev := range s.Events {
			_ = ev.Action.String()
		}
	})
}
