package tun

import (
	"encoding/binary"
	"testing"

	"github.com/tundra-net/tundra/link"
)

// tcpSuperPacket returns an IPv4 header (ihl words) and a TCP header (doff
// words) followed by payload bytes.
func tcpSuperPacket(ihl, doff, payload int) []byte {
	p := make([]byte, ihl*4+doff*4+payload)
	p[0] = 0x40 | byte(ihl)
	p[9] = 6
	p[ihl*4+12] = byte(doff) << 4
	return p
}

// withCWR sets CWR in the TCP header of p, an IPv4 header of 20 bytes
// and a TCP header.
func withCWR(p []byte) []byte {
	p[20+13] |= tcpFlagCWR
	return p
}

func TestVnetHdrRoundTrip(t *testing.T) {
	cases := []struct {
		name       string
		pkt        []byte
		off        link.Offload
		wantHdrLen uint16
		wantType   byte
	}{
		{"plain", tcpSuperPacket(5, 5, 10), link.Offload{}, 0, vnetGSONone},
		{"partial checksum", tcpSuperPacket(5, 5, 10),
			link.Offload{NeedsChecksum: true, ChecksumStart: 20, ChecksumOffset: 16}, 0, vnetGSONone},
		{"TSO with options", tcpSuperPacket(6, 8, 4000),
			link.Offload{GSOType: link.GSOTCPv4, GSOSize: 1448, NeedsChecksum: true, ChecksumStart: 24, ChecksumOffset: 16}, 24 + 32, vnetGSOTCPv4},
		{"TSO with CWR", withCWR(tcpSuperPacket(5, 5, 3000)),
			link.Offload{GSOType: link.GSOTCPv4, GSOSize: 1000}, 40, vnetGSOTCPv4 | vnetGSOECN},
		{"CWR without TSO", withCWR(tcpSuperPacket(5, 5, 10)), link.Offload{}, 0, vnetGSONone},
		{"USO", make([]byte, 20+8+3000),
			link.Offload{GSOType: link.GSOUDPL4, GSOSize: 1000, NeedsChecksum: true, ChecksumStart: 20, ChecksumOffset: 6}, 28, vnetGSOUDPL4},
		{"checksum verified", tcpSuperPacket(5, 5, 0), link.Offload{ChecksumValid: true}, 0, vnetGSONone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.off.GSOType == link.GSOUDPL4 {
				c.pkt[0] = 0x45
			}
			var hdr [vnetHdrLen]byte
			if err := encodeVnetHdr(hdr[:], c.pkt, c.off); err != nil {
				t.Fatal(err)
			}
			if hdr[1] != c.wantType {
				t.Errorf("gso_type %d, want %d", hdr[1], c.wantType)
			}
			if got := binary.NativeEndian.Uint16(hdr[2:4]); got != c.wantHdrLen {
				t.Errorf("hdr_len %d, want %d", got, c.wantHdrLen)
			}
			if got := hdr[0]&vnetFlagNeedsCsum != 0; got != c.off.NeedsChecksum {
				t.Errorf("NEEDS_CSUM flag %v", got)
			}
			back, err := decodeVnetHdr(hdr[:])
			if err != nil {
				t.Fatal(err)
			}
			if back != c.off {
				t.Errorf("decode(encode(%+v)) = %+v", c.off, back)
			}
		})
	}
}

func TestVnetHdrDecodeKernelBytes(t *testing.T) {
	// What the kernel writes for a GRO'd TCP super-packet with ECN:
	// flags NEEDS_CSUM, gso_type TCPV4|ECN, hdr_len 52, gso_size 1448,
	// csum_start 20, csum_offset 16.
	var hdr [vnetHdrLen]byte
	hdr[0], hdr[1] = vnetFlagNeedsCsum, vnetGSOTCPv4|vnetGSOECN
	binary.NativeEndian.PutUint16(hdr[2:], 52)
	binary.NativeEndian.PutUint16(hdr[4:], 1448)
	binary.NativeEndian.PutUint16(hdr[6:], 20)
	binary.NativeEndian.PutUint16(hdr[8:], 16)
	off, err := decodeVnetHdr(hdr[:])
	want := link.Offload{GSOType: link.GSOTCPv4, GSOSize: 1448, NeedsChecksum: true, ChecksumStart: 20, ChecksumOffset: 16}
	if err != nil || off != want {
		t.Fatalf("decode = %+v, %v; want %+v", off, err, want)
	}
	// gso_size of a plain packet means nothing and is ignored.
	hdr[1] = vnetGSONone
	off, _ = decodeVnetHdr(hdr[:])
	if off.GSOSize != 0 || off.GSOType != link.GSONone {
		t.Fatalf("plain packet decoded as %+v", off)
	}
}

func TestVnetHdrErrors(t *testing.T) {
	if _, err := decodeVnetHdr(make([]byte, 9)); err != errVnetShort {
		t.Errorf("short decode: %v", err)
	}
	if _, err := decodeVnetHdr([]byte{0, 3, 0, 0, 0, 0, 0, 0, 0, 0}); err != errVnetGSOType {
		t.Errorf("UFO (gso_type 3) decode: %v", err)
	}
	var hdr [vnetHdrLen]byte
	if err := encodeVnetHdr(hdr[:9], nil, link.Offload{}); err != errVnetShort {
		t.Errorf("short encode: %v", err)
	}
	if err := encodeVnetHdr(hdr[:], tcpSuperPacket(5, 5, 0)[:30], link.Offload{GSOType: link.GSOTCPv4}); err != errVnetHeaders {
		t.Errorf("TSO without a whole TCP header: %v", err)
	}
	if err := encodeVnetHdr(hdr[:], make([]byte, 60), link.Offload{GSOType: link.GSOTCPv4}); err != errVnetHeaders {
		t.Errorf("TSO with IHL 0: %v", err)
	}
	if err := encodeVnetHdr(hdr[:], tcpSuperPacket(5, 2, 40), link.Offload{GSOType: link.GSOTCPv4}); err != errVnetHeaders {
		t.Errorf("TSO with TCP data offset 2: %v", err)
	}
	bad := tcpSuperPacket(5, 15, 0)[:50] // data offset says 60 bytes of TCP header
	if err := encodeVnetHdr(hdr[:], bad, link.Offload{GSOType: link.GSOTCPv4}); err != errVnetHeaders {
		t.Errorf("TCP header longer than the packet: %v", err)
	}
	if err := encodeVnetHdr(hdr[:], make([]byte, 40), link.Offload{NeedsChecksum: true, ChecksumStart: 20, ChecksumOffset: 19}); err != errVnetChecksum {
		t.Errorf("checksum field past the end: %v", err)
	}
	if err := encodeVnetHdr(hdr[:], make([]byte, 40), link.Offload{GSOType: 9}); err != errVnetGSOType {
		t.Errorf("unknown GSO type: %v", err)
	}
}

func FuzzDecodeVnetHdr(f *testing.F) {
	f.Add([]byte{1, 1, 52, 0, 0xa8, 5, 20, 0, 16, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		off, err := decodeVnetHdr(b)
		if err != nil {
			return
		}
		// What decodes must encode back to the same metadata when the
		// packet is big enough to hold the headers it describes.
		pkt := tcpSuperPacket(5, 5, 0xffff)
		if off.GSOType == link.GSOUDPL4 {
			pkt[0] = 0x45
		}
		var hdr [vnetHdrLen]byte
		if err := encodeVnetHdr(hdr[:], pkt, off); err == errVnetChecksum {
			return // the kernel's offsets need not fit our test packet
		} else if err != nil {
			t.Fatalf("encode %+v: %v", off, err)
		}
		back, err := decodeVnetHdr(hdr[:])
		if err != nil || back != off {
			t.Fatalf("round trip %+v -> %+v, %v", off, back, err)
		}
	})
}

func BenchmarkVnetHdrDecode(b *testing.B) {
	hdr := []byte{1, 1, 52, 0, 0xa8, 5, 20, 0, 16, 0}
	b.ReportAllocs()
	var off link.Offload
	for b.Loop() {
		off, _ = decodeVnetHdr(hdr)
	}
	if off.GSOSize != 1448 {
		b.Fatalf("decoded %+v", off)
	}
}

func BenchmarkVnetHdrEncode(b *testing.B) {
	pkt := tcpSuperPacket(5, 8, 65535-52)
	off := link.Offload{GSOType: link.GSOTCPv4, GSOSize: 1448, NeedsChecksum: true, ChecksumStart: 20, ChecksumOffset: 16}
	var hdr [vnetHdrLen]byte
	b.ReportAllocs()
	for b.Loop() {
		if err := encodeVnetHdr(hdr[:], pkt, off); err != nil {
			b.Fatal(err)
		}
	}
}
