package udp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	testSrc = [4]byte{198, 18, 0, 1}
	testDst = [4]byte{198, 18, 0, 2}
)

// build returns a datagram with the given ports and payload, built by
// HeaderFields.Encode.
func build(f HeaderFields, payload []byte, src, dst [4]byte) []byte {
	b := make([]byte, HeaderLen+len(payload))
	copy(b[HeaderLen:], payload)
	f.Encode(b, src, dst)
	return b
}

// TestGolden checks Encode against a datagram whose checksum was worked out
// by hand: the pseudo-header and header words of 198.18.0.1:1234 >
// 198.18.0.2:7 carrying "hi".
func TestGolden(t *testing.T) {
	got := build(HeaderFields{SourcePort: 1234, DestinationPort: 7}, []byte("hi"), testSrc, testDst)
	// Sum: c612 0001 c612 0002 (addresses) 0011 000a (proto, len)
	// 04d2 0007 000a (ports, len) 6869 ("hi") = 0x1f98e -> f98f, ~ = 0670.
	want := []byte{0x04, 0xd2, 0x00, 0x07, 0x00, 0x0a, 0x06, 0x70, 'h', 'i'}
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode = % x, want % x", got, want)
	}
	h, err := Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if h.SourcePort() != 1234 || h.DestinationPort() != 7 || h.Length() != 10 || string(h.Payload()) != "hi" {
		t.Errorf("fields: %v payload %q", h, h.Payload())
	}
	if !h.ChecksumValid(testSrc, testDst) {
		t.Error("checksum not valid")
	}
	if h.ChecksumValid(testSrc, [4]byte{198, 18, 0, 3}) {
		t.Error("checksum valid for another destination: the pseudo-header is not covered")
	}
	if s := h.String(); s != "UDP 1234 > 7 len 10" {
		t.Errorf("String = %q", s)
	}
}

func TestParseErrors(t *testing.T) {
	good := build(HeaderFields{SourcePort: 1, DestinationPort: 2}, []byte("payload"), testSrc, testDst)
	cases := []struct {
		name string
		b    []byte
		err  error
	}{
		{"empty", nil, ErrTooShort},
		{"seven bytes", good[:7], ErrTooShort},
		{"length below header", func() []byte { b := bytes.Clone(good); b[4], b[5] = 0, 7; return b }(), ErrLength},
		{"length past end", good[:12], ErrLength},
	}
	for _, c := range cases {
		if _, err := Parse(c.b); !errors.Is(err, c.err) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.err)
		}
	}
	// Bytes after Length (link padding) are trimmed, not an error.
	padded := append(bytes.Clone(good), 0, 0, 0)
	h, err := Parse(padded)
	if err != nil || len(h.Bytes()) != len(good) || !h.ChecksumValid(testSrc, testDst) {
		t.Errorf("padded: err %v, %d bytes, valid %v", err, len(h.Bytes()), h.ChecksumValid(testSrc, testDst))
	}
}

// TestChecksumZero covers the two special cases of RFC 768: a zero field
// means "no checksum" and is accepted, and a sum that comes out as zero is
// sent as 0xffff.
func TestChecksumZero(t *testing.T) {
	none := build(HeaderFields{SourcePort: 9, DestinationPort: 9, NoChecksum: true}, []byte("x"), testSrc, testDst)
	h, _ := Parse(none)
	if h.HasChecksum() || !h.ChecksumValid(testSrc, testDst) {
		t.Errorf("zero checksum: has %v valid %v", h.HasChecksum(), h.ChecksumValid(testSrc, testDst))
	}
	// Find a payload whose checksum computes to zero: vary two bytes until
	// the sum folds to 0xffff. The complement of the sum without the
	// payload word is the word that makes the total all ones.
	b := build(HeaderFields{SourcePort: 100, DestinationPort: 200}, []byte{0, 0}, testSrc, testDst)
	h, _ = Parse(b)
	field := h.Checksum()
	// With payload word 0 the checksum is field; the payload word that
	// drives the sum to all ones (checksum zero) is field itself.
	payload := []byte{byte(field >> 8), byte(field)}
	b = build(HeaderFields{SourcePort: 100, DestinationPort: 200}, payload, testSrc, testDst)
	h, _ = Parse(b)
	if h.Checksum() != 0xffff {
		t.Fatalf("checksum field %#04x, want 0xffff for a sum of zero", h.Checksum())
	}
	if !h.ChecksumValid(testSrc, testDst) {
		t.Error("0xffff checksum not accepted")
	}
}

func TestEncodePanicsOnShortBuffer(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	HeaderFields{}.Encode(make([]byte, 7), testSrc, testDst)
}

func TestParseDoesNotAllocate(t *testing.T) {
	b := build(HeaderFields{SourcePort: 1, DestinationPort: 2}, make([]byte, 100), testSrc, testDst)
	n := testing.AllocsPerRun(100, func() {
		h, err := Parse(b)
		if err != nil || !h.ChecksumValid(testSrc, testDst) || h.DestinationPort() != 2 {
			t.Fatal("parse failed")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per Parse", n)
	}
}

// TestAgainstGopacket is a differential test: random datagrams, often
// broken, go through Parse and through gopacket's layers.UDP inside an IPv4
// packet, and both must agree on the fields, the payload and the checksum.
func TestAgainstGopacket(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		payload := make([]byte, rng.IntN(300))
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		b := build(HeaderFields{SourcePort: uint16(rng.Uint32()), DestinationPort: uint16(rng.Uint32()),
			NoChecksum: rng.IntN(10) == 0}, payload, testSrc, testDst)
		switch rng.IntN(6) {
		case 0: // a corrupted byte
			b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		case 1: // any length field
			binary.BigEndian.PutUint16(b[4:6], uint16(rng.IntN(len(b)+20)))
		}
		ours, err := Parse(b)

		// gopacket decodes the UDP layer from an IPv4 packet so that it
		// knows the pseudo-header.
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP,
			SrcIP: net.IP(testSrc[:]), DstIP: net.IP(testDst[:])}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			ip, gopacket.Payload(b)); err != nil {
			t.Fatal(err)
		}
		pkt := gopacket.NewPacket(buf.Bytes(), layers.LayerTypeIPv4, gopacket.DecodeOptions{})
		theirs, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if err != nil {
			// gopacket accepts a Length field past the data (it truncates)
			// and below 8; we reject both. It must at least see the same
			// raw fields.
			if theirs != nil && len(b) >= HeaderLen && theirs.Length != binary.BigEndian.Uint16(b[4:6]) {
				t.Fatalf("#%d: gopacket length %d, bytes say %d", i, theirs.Length, binary.BigEndian.Uint16(b[4:6]))
			}
			continue
		}
		if theirs == nil {
			t.Fatalf("#%d: we parsed %v, gopacket found no UDP layer", i, ours)
		}
		if uint16(theirs.SrcPort) != ours.SourcePort() || uint16(theirs.DstPort) != ours.DestinationPort() ||
			int(theirs.Length) != ours.Length() || theirs.Checksum != ours.Checksum() {
			t.Fatalf("#%d: fields differ: ours %v csum %#x, gopacket %d>%d len %d csum %#x", i, ours,
				ours.Checksum(), theirs.SrcPort, theirs.DstPort, theirs.Length, theirs.Checksum)
		}
		if !bytes.Equal(theirs.Payload, ours.Payload()) {
			t.Fatalf("#%d: payloads differ", i)
		}
		if ours.HasChecksum() {
			theirs.SetNetworkLayerForChecksum(pkt.NetworkLayer())
			err, v := theirs.VerifyChecksum() // gopacket returns the error first
			if err != nil {
				t.Fatal(err)
			}
			if v.Valid != ours.ChecksumValid(testSrc, testDst) {
				t.Fatalf("#%d: checksum valid: ours %v, gopacket %v", i, ours.ChecksumValid(testSrc, testDst), v.Valid)
			}
		}
	}
}

// TestEncodeMatchesGopacket: gopacket serializing the same ports and
// payload produces the same bytes, checksum included.
func TestEncodeMatchesGopacket(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		payload := make([]byte, rng.IntN(2000))
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		f := HeaderFields{SourcePort: uint16(rng.Uint32()), DestinationPort: uint16(rng.Uint32())}
		ours := build(f, payload, testSrc, testDst)
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP,
			SrcIP: net.IP(testSrc[:]), DstIP: net.IP(testDst[:])}
		u := &layers.UDP{SrcPort: layers.UDPPort(f.SourcePort), DstPort: layers.UDPPort(f.DestinationPort)}
		u.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			u, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), ours) {
			// gopacket sends a computed zero as zero; RFC 768 says 0xffff.
			if binary.BigEndian.Uint16(ours[6:8]) == 0xffff && binary.BigEndian.Uint16(buf.Bytes()[6:8]) == 0 {
				continue
			}
			t.Fatalf("ours % x\ngopacket % x", ours[:8], buf.Bytes()[:8])
		}
	}
}

// FuzzParse: Parse never panics, accepts only what it documents, and an
// accepted datagram re-encoded from its fields gives the same bytes.
//
//	go test -fuzz FuzzParse ./udp
func FuzzParse(f *testing.F) {
	f.Add(build(HeaderFields{SourcePort: 1234, DestinationPort: 7}, []byte("hi"), testSrc, testDst))
	f.Add([]byte{0, 1, 0, 2, 0, 8, 0, 0})
	f.Add([]byte{0, 1, 0, 2, 0, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrTooShort) && !errors.Is(err, ErrLength) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if h.Length() < HeaderLen || h.Length() > len(b) || len(h.Bytes()) != h.Length() ||
			len(h.Payload()) != h.Length()-HeaderLen {
			t.Fatalf("inconsistent view: %v over %d bytes", h, len(b))
		}
		_ = h.ChecksumValid(testSrc, testDst)
		_ = h.String()
		re := bytes.Clone(h.Bytes())
		HeaderFields{SourcePort: h.SourcePort(), DestinationPort: h.DestinationPort(),
			NoChecksum: !h.HasChecksum()}.Encode(re, testSrc, testDst)
		if h.HasChecksum() && h.ChecksumValid(testSrc, testDst) && !bytes.Equal(re, h.Bytes()) {
			// A valid checksum of 0xffff may also be written as... no:
			// Encode always writes the one value a valid sum allows.
			t.Fatalf("re-encoded % x, was % x", re, h.Bytes())
		}
		if rh, _ := Parse(re); !rh.ChecksumValid(testSrc, testDst) {
			t.Fatal("re-encoded datagram has a bad checksum")
		}
	})
}

func BenchmarkEncode1472(b *testing.B) {
	buf := make([]byte, HeaderLen+1472)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		HeaderFields{SourcePort: 1, DestinationPort: 2}.Encode(buf, testSrc, testDst)
	}
}

func BenchmarkParseAndVerify1472(b *testing.B) {
	buf := build(HeaderFields{SourcePort: 1, DestinationPort: 2}, make([]byte, 1472), testSrc, testDst)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		h, _ := Parse(buf)
		if !h.ChecksumValid(testSrc, testDst) {
			b.Fatal("bad")
		}
	}
}
