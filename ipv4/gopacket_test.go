package ipv4

// Differential tests: the same bytes go through our parser and through
// gopacket's layers.IPv4 and layers.ICMPv4, and the two must agree on
// accepting or rejecting them, on every field, on the payload and on the
// checksum's validity. Where the two differ on purpose, expectedGopacketVerdict
// says how, and why.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// randomPacket returns a random IPv4 packet: mostly well-formed, often with
// one field broken, sometimes cut short or padded. Options are either
// well-formed option lists or random bytes.
func randomPacket(rng *rand.Rand) []byte {
	f := randomFields(rng)
	if rng.IntN(2) == 0 {
		f.Options = wellFormedOptions(rng)
	}
	b := make([]byte, f.Size()+f.PayloadLength)
	f.Encode(b)
	for i := f.Size(); i < len(b); i++ {
		b[i] = byte(rng.Uint32())
	}
	switch rng.IntN(10) {
	case 0: // any version
		b[0] = byte(rng.IntN(16))<<4 | b[0]&0x0f
	case 1: // any IHL
		b[0] = b[0]&0xf0 | byte(rng.IntN(16))
	case 2: // any total length, often a small one
		binary.BigEndian.PutUint16(b[2:4], uint16(rng.IntN(100)))
	case 3: // a total length of 0, which gopacket reads as TSO
		binary.BigEndian.PutUint16(b[2:4], 0)
	case 4: // cut short anywhere
		b = b[:rng.IntN(len(b)+1)]
	case 5: // link-layer padding behind the packet
		b = append(b, make([]byte, 1+rng.IntN(40))...)
	case 6: // a corrupted byte: usually a bad checksum
		b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
	}
	return b
}

// wellFormedOptions returns an option list that follows RFC 791 section 3.1:
// single-byte End of Option List (0) and No Operation (1) options, and
// type-length-value options whose length counts the type and length bytes,
// padded with zeros to a multiple of 4.
func wellFormedOptions(rng *rand.Rand) []byte {
	size := 4 * rng.IntN(11)
	var options []byte
	for len(options) < size {
		room := size - len(options)
		switch t := byte(rng.IntN(256)); {
		case t == 0:
			options = append(options, make([]byte, room)...) // EOL, then padding
		case t == 1 || room < 2:
			options = append(options, 1)
		default:
			length := 2 + rng.IntN(room-1)
			options = append(options, t, byte(length))
			for range length - 2 {
				options = append(options, byte(rng.Uint32()))
			}
		}
	}
	return options
}

// optionsWellFormed reports whether gopacket can walk the option list of
// header b: it rejects a type-length-value option whose length is below 2 or
// runs past the header. ParseHeader accepts such options, since a host may
// ignore options (RFC 1122 section 3.2.1.8); CheckOptions is the check that
// must agree with gopacket's.
func optionsWellFormed(b []byte) bool {
	// A copy of just the header, with version 4 and a Total Length that
	// ParseHeader accepts whatever the original said.
	headerLength := int(b[0]&0x0f) * 4
	header := bytes.Clone(b[:headerLength])
	header[0] = 4<<4 | header[0]&0x0f
	binary.BigEndian.PutUint16(header[2:4], uint16(headerLength))
	h, err := ParseHeader(header)
	if err != nil {
		panic(err) // called only once the IHL is known to be sane
	}
	_, err = h.CheckOptions()
	return err == nil
}

// expectedGopacketVerdict predicts gopacket's verdict from ours. gopacket is
// looser than ParseHeader in three ways, each deliberate on our side:
//
//   - it does not check the version nibble (we must: RFC 1122 section
//     3.2.1.1 says to discard packets whose version is not 4);
//   - it reads a Total Length of 0 as "TCP segmentation offload, use the
//     buffer's length" (a Windows capture quirk); a stack reading a TUN
//     gets GSO as metadata beside the packet instead (link.Offload), so
//     for us 0 is an invalid length;
//   - it accepts a packet shorter than its Total Length and marks it
//     truncated; we reject it (ErrTruncated, Linux's InTruncatedPkts),
//     and ParseQuotedHeader is the tolerant parser for ICMP quotes.
//
// It is stricter in one way: it rejects malformed option lists, which we
// pass through uninterpreted (see optionsWellFormed).
func expectedGopacketVerdict(b []byte) (accepts bool, why string) {
	// Judge the packet as if its version were 4, since gopacket ignores it.
	asVersion4 := bytes.Clone(b)
	if len(asVersion4) > 0 {
		asVersion4[0] = 4<<4 | asVersion4[0]&0x0f
	}
	_, err := ParseHeader(asVersion4)
	switch {
	case err == nil:
	case errors.Is(err, ErrTotalLength) && binary.BigEndian.Uint16(b[2:4]) == 0:
		// TSO reading: the whole buffer is the packet, if the header fits.
		headerLength := int(b[0]&0x0f) * 4
		if headerLength < MinHeaderSize || headerLength > len(b) {
			return false, "TSO length but a bad IHL"
		}
		return optionsWellFormed(asVersion4), "gopacket reads total length 0 as TSO"
	case errors.Is(err, ErrTruncated):
		return optionsWellFormed(asVersion4), "gopacket accepts truncated packets"
	default:
		return false, "both reject: " + err.Error()
	}
	if !optionsWellFormed(asVersion4) {
		return false, "gopacket rejects malformed options"
	}
	return true, "both accept"
}

func TestDifferentialHeaderAgainstGopacket(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	counts := map[string]int{}
	for round := 0; round < 50000; round++ {
		b := randomPacket(rng)
		var ip layers.IPv4
		gopacketErr := ip.DecodeFromBytes(bytes.Clone(b), gopacket.NilDecodeFeedback)
		accepts, why := expectedGopacketVerdict(b)
		counts[why]++
		if (gopacketErr == nil) != accepts {
			t.Fatalf("% x\ngopacket error %v, expected to accept: %v (%s)", b, gopacketErr, accepts, why)
		}

		h, err := ParseHeader(b)
		switch {
		case why == "both accept" && err != nil && !errors.Is(err, ErrVersion):
			t.Fatalf("% x\nrejected a valid packet: %v", b, err)
		case strings.HasPrefix(why, "both reject") && err == nil:
			t.Fatalf("% x\naccepted: %s", b, why)
		}
		if err != nil {
			// Where gopacket accepted a truncated packet, the tolerant
			// parser must see what gopacket sees.
			if errors.Is(err, ErrTruncated) && gopacketErr == nil {
				q, qerr := ParseQuotedHeader(b)
				if qerr != nil || !q.Truncated() {
					t.Fatalf("% x\nParseQuotedHeader: %v", b, qerr)
				}
				compareWithGopacket(t, b, q, &ip)
			}
			continue
		}
		if b[0]>>4 != 4 {
			t.Fatalf("% x\naccepted version %d", b, b[0]>>4)
		}
		if gopacketErr != nil {
			// Both must have rejected, or it is the documented options case.
			if why != "gopacket rejects malformed options" {
				t.Fatalf("% x\nwe accept, gopacket rejects: %v", b, gopacketErr)
			}
			continue
		}
		compareWithGopacket(t, b, h, &ip)
	}
	t.Logf("cases: %v", counts)
	for _, why := range []string{"both accept", "gopacket rejects malformed options",
		"gopacket reads total length 0 as TSO", "gopacket accepts truncated packets"} {
		if counts[why] == 0 {
			t.Errorf("the generator never produced the case %q", why)
		}
	}
}

// compareWithGopacket checks every field of h against gopacket's decode of
// the same bytes.
func compareWithGopacket(t *testing.T, b []byte, h Header, ip *layers.IPv4) {
	t.Helper()
	_, verification := ip.VerifyChecksum()
	switch {
	case h.Version() != ip.Version,
		h.HeaderLength() != int(ip.IHL)*4,
		h.TOS() != ip.TOS,
		h.TotalLength() != int(ip.Length),
		h.ID() != ip.Id,
		h.Flags() != Flags(ip.Flags),
		h.FragmentOffset() != int(ip.FragOffset)*8,
		h.TTL() != ip.TTL,
		h.Protocol() != Protocol(ip.Protocol),
		h.Checksum() != ip.Checksum,
		!bytes.Equal(h.Source().AsSlice(), ip.SrcIP),
		!bytes.Equal(h.Destination().AsSlice(), ip.DstIP),
		!bytes.Equal(h.HeaderBytes(), ip.Contents),
		!bytes.Equal(h.Options(), ip.Contents[MinHeaderSize:]),
		!bytes.Equal(h.Payload(), ip.Payload),
		h.ChecksumValid() != verification.Valid:
		t.Fatalf("% x\nours:     %v checksum valid %v\ngopacket: %+v valid %v",
			b, h, h.ChecksumValid(), ip, verification.Valid)
	}
}

// TestDifferentialEncodeAgainstGopacket decodes what HeaderFields.Encode
// writes with gopacket, serializes it again with gopacket's own builder
// (lengths and checksum recomputed), and expects the same bytes.
func TestDifferentialEncodeAgainstGopacket(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for round := 0; round < 5000; round++ {
		f := randomFields(rng)
		f.Options = wellFormedOptions(rng)
		b := make([]byte, f.Size()+f.PayloadLength)
		f.Encode(b)
		for i := f.Size(); i < len(b); i++ {
			b[i] = byte(rng.Uint32())
		}
		var ip layers.IPv4
		if err := ip.DecodeFromBytes(bytes.Clone(b), gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("%+v\ngopacket cannot decode our header: %v", f, err)
		}
		buf := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
		if err := gopacket.SerializeLayers(buf, opts, &ip, gopacket.Payload(ip.Payload)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), b) {
			t.Fatalf("%+v\nours     % x\ngopacket % x", f, b[:f.Size()], buf.Bytes()[:min(len(buf.Bytes()), f.Size())])
		}
	}
}

func TestDifferentialICMPAgainstGopacket(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for round := 0; round < 20000; round++ {
		b := make([]byte, rng.IntN(80))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if len(b) >= ICMPHeaderSize && rng.IntN(2) == 0 {
			// Give half of them a correct checksum.
			b[2], b[3] = 0, 0
			binary.BigEndian.PutUint16(b[2:4], Fold(Checksum(b, 0)))
		}
		var icmp layers.ICMPv4
		gopacketErr := icmp.DecodeFromBytes(bytes.Clone(b), gopacket.NilDecodeFeedback)
		m, err := ParseICMP(b)
		if (err == nil) != (gopacketErr == nil) {
			t.Fatalf("% x\nours %v, gopacket %v", b, err, gopacketErr)
		}
		if err != nil {
			continue
		}
		_, verification := icmp.VerifyChecksum()
		if m.Type() != ICMPType(icmp.TypeCode.Type()) || m.Code() != icmp.TypeCode.Code() ||
			m.Checksum() != icmp.Checksum || m.Ident() != icmp.Id || m.Sequence() != icmp.Seq ||
			!bytes.Equal(m.Body(), icmp.Payload) || m.ChecksumValid() != verification.Valid {
			t.Fatalf("% x\nours %v valid %v\ngopacket %+v valid %v", b, m, m.ChecksumValid(), icmp, verification.Valid)
		}
	}
}

// TestDifferentialICMPBuildersAgainstGopacket decodes our builders' output
// with gopacket, which must find the same fields and a valid checksum.
func TestDifferentialICMPBuildersAgainstGopacket(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	dst := make([]byte, MaxICMPErrorPacketSize)
	for round := 0; round < 2000; round++ {
		data := make([]byte, rng.IntN(100))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		ident, seq := uint16(rng.Uint32()), uint16(rng.Uint32())
		var n int
		var wantType, wantCode uint8
		switch rng.IntN(3) {
		case 0:
			n = BuildEchoRequest(dst, ident, seq, data)
			wantType = uint8(ICMPEchoRequest)
		case 1:
			n = BuildEchoRequest(dst, ident, seq, data)
			request, _ := ParseICMP(bytes.Clone(dst[:n]))
			n = BuildEchoReply(dst, request)
			wantType = uint8(ICMPEchoReply)
		case 2:
			mtu := uint16(rng.Uint32())
			offending := validHeader(rng.IntN(1000))
			n = BuildFragmentationNeeded(dst, mtu, offending)
			wantType, wantCode = uint8(ICMPDestinationUnreachable), UnreachableFragmentationNeeded
			ident, seq = 0, mtu // gopacket reads the rest of the header as id and seq
			data = offending[:min(len(offending), MaxICMPErrorQuote)]
		}
		var icmp layers.ICMPv4
		if err := icmp.DecodeFromBytes(dst[:n], gopacket.NilDecodeFeedback); err != nil {
			t.Fatal(err)
		}
		_, verification := icmp.VerifyChecksum()
		if icmp.TypeCode.Type() != wantType || icmp.TypeCode.Code() != wantCode ||
			icmp.Id != ident || icmp.Seq != seq || !bytes.Equal(icmp.Payload, data) || !verification.Valid {
			t.Fatalf("gopacket decodes our message as %+v, checksum valid %v", icmp, verification.Valid)
		}
	}
}

// FuzzDifferentialGopacket is TestDifferentialHeaderAgainstGopacket driven
// by the fuzzer: any bytes, the same expected agreement.
//
//	go test -fuzz FuzzDifferentialGopacket ./ipv4
func FuzzDifferentialGopacket(f *testing.F) {
	for _, golden := range []string{goldenEchoReply, goldenPortUnreachable, goldenTCPSyn} {
		f.Add(mustHex(f, golden))
	}
	rng := rand.New(rand.NewPCG(23, 24))
	for range 20 {
		f.Add(randomPacket(rng))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ip layers.IPv4
		gopacketErr := ip.DecodeFromBytes(bytes.Clone(b), gopacket.NilDecodeFeedback)
		accepts, why := expectedGopacketVerdict(b)
		if (gopacketErr == nil) != accepts {
			t.Fatalf("gopacket error %v, expected to accept: %v (%s)", gopacketErr, accepts, why)
		}
		if h, err := ParseHeader(b); err == nil && gopacketErr == nil {
			compareWithGopacket(t, b, h, &ip)
		}
		if q, err := ParseQuotedHeader(b); err == nil && gopacketErr == nil && q.Truncated() {
			compareWithGopacket(t, b, q, &ip)
		}
	})
}

// BenchmarkGopacketChecksum measures gopacket's ComputeChecksum on the same
// sizes as BenchmarkChecksum, for comparison.
func BenchmarkGopacketChecksum(b *testing.B) {
	for _, size := range []int{64, 1500, 9000, 65535} {
		data := make([]byte, size)
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				benchmarkSink = uint32(gopacket.FoldChecksum(gopacket.ComputeChecksum(data, 0)))
			}
		})
	}
}
