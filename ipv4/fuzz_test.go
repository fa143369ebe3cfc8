package ipv4

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParseHeader feeds arbitrary bytes to ParseHeader and ParseQuotedHeader
// and checks that nothing panics, that every accessor stays within the
// input, that errors are only the documented ones, and that rebuilding an
// accepted header from its fields gives back its bytes.
//
//	go test -fuzz FuzzParseHeader ./ipv4
func FuzzParseHeader(f *testing.F) {
	for _, golden := range []string{goldenEchoReply, goldenPortUnreachable, goldenTCPSyn} {
		f.Add(mustHex(f, golden))
	}
	f.Add(validHeader(0))
	f.Add(validHeader(40)[:30])
	f.Add([]byte{0x4f, 0, 0, 60})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			if !errors.Is(err, ErrTooShort) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrHeaderLength) &&
				!errors.Is(err, ErrTotalLength) && !errors.Is(err, ErrTruncated) {
				t.Fatalf("undocumented error %v", err)
			}
		} else {
			checkHeaderInvariants(t, b, h)
			if h.Truncated() {
				t.Fatal("ParseHeader returned a truncated view")
			}
			// Rebuild from the fields: the same header bytes, except that a
			// set reserved flag cannot be encoded.
			if h.Flags()&ReservedFlag == 0 {
				fields := HeaderFields{
					TOS: h.TOS(), ID: h.ID(), Flags: h.Flags(), FragmentOffset: h.FragmentOffset(),
					TTL: h.TTL(), Protocol: h.Protocol(), Src: h.Source(), Dst: h.Destination(),
					Options: h.Options(), PayloadLength: len(h.Payload()),
				}
				rebuilt := make([]byte, fields.Size())
				fields.Encode(rebuilt)
				// Encode writes a correct checksum; the input's may not be.
				want := bytes.Clone(h.HeaderBytes())
				want[10], want[11] = rebuilt[10], rebuilt[11]
				if !bytes.Equal(rebuilt, want) {
					t.Fatalf("rebuilt % x\nwant    % x", rebuilt, want)
				}
				if !h.ChecksumValid() && bytes.Equal(rebuilt, h.HeaderBytes()) {
					t.Fatal("checksum invalid, yet Encode writes the same bytes")
				}
			}
		}

		q, qerr := ParseQuotedHeader(b)
		switch {
		case err == nil && (qerr != nil || !bytes.Equal(q.Bytes(), h.Bytes())):
			t.Fatalf("ParseQuotedHeader disagrees with ParseHeader: %v", qerr)
		case errors.Is(err, ErrTruncated) && qerr != nil:
			t.Fatalf("ParseQuotedHeader rejects a truncated packet: %v", qerr)
		case err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(qerr, err):
			t.Fatalf("ParseQuotedHeader error %v, ParseHeader error %v", qerr, err)
		}
		if qerr == nil {
			checkHeaderInvariants(t, b, q)
		}
	})
}

// checkHeaderInvariants calls every accessor of h, parsed from b, and checks
// the relations between them.
func checkHeaderInvariants(t *testing.T, b []byte, h Header) {
	t.Helper()
	if h.Version() != 4 {
		t.Fatalf("version %d accepted", h.Version())
	}
	hl := h.HeaderLength()
	if hl < MinHeaderSize || hl > MaxHeaderSize || hl%4 != 0 || hl > len(b) {
		t.Fatalf("header length %d out of range (len %d)", hl, len(b))
	}
	if h.TotalLength() < hl {
		t.Fatalf("total length %d below header length %d", h.TotalLength(), hl)
	}
	if len(h.Bytes()) != min(h.TotalLength(), len(b)) || !bytes.Equal(h.Bytes(), b[:len(h.Bytes())]) {
		t.Fatalf("Bytes has %d bytes, total length %d, input %d", len(h.Bytes()), h.TotalLength(), len(b))
	}
	if len(h.Options()) != hl-MinHeaderSize || !bytes.Equal(h.HeaderBytes(), b[:hl]) ||
		len(h.Payload()) != len(h.Bytes())-hl || !bytes.Equal(h.Payload(), b[hl:len(h.Bytes())]) {
		t.Fatal("options, header or payload slices inconsistent")
	}
	if h.FragmentOffset()%8 != 0 || h.FragmentOffset() > 0x1fff*8 {
		t.Fatalf("fragment offset %d", h.FragmentOffset())
	}
	if h.IsFragment() != (h.MoreFragments() || h.FragmentOffset() != 0) {
		t.Fatal("IsFragment disagrees with MF and offset")
	}
	if h.Source().As4() != h.SourceBytes() || h.Destination().As4() != h.DestinationBytes() {
		t.Fatal("addresses disagree")
	}
	_ = h.DSCP() + h.ECN() + h.TOS() + h.TTL() + uint8(h.Protocol())
	_ = h.ID() + h.Checksum()
	_ = h.DontFragment()
	_ = h.String()
	if h.ChecksumValid() != (Fold(referenceSum(b[:hl], 0)) == 0) {
		t.Fatal("ChecksumValid disagrees with the reference sum")
	}
}

// FuzzParseICMP feeds arbitrary bytes to ParseICMP and checks that nothing
// panics, that the views stay within the input, and that echo replies built
// from accepted requests are valid and echo the request.
//
//	go test -fuzz FuzzParseICMP ./ipv4
func FuzzParseICMP(f *testing.F) {
	for _, golden := range []string{goldenEchoReply, goldenPortUnreachable} {
		h, err := ParseHeader(mustHex(f, golden))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(h.Payload())
	}
	f.Add([]byte{8, 0, 0xf7, 0xff, 0, 0, 0, 0})
	f.Add([]byte{3, 4, 0, 0, 0, 0, 5, 0x78, 0x45, 0, 0, 20})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseICMP(b)
		if err != nil {
			if !errors.Is(err, ErrICMPTooShort) || len(b) >= ICMPHeaderSize {
				t.Fatalf("ParseICMP of %d bytes: %v", len(b), err)
			}
			return
		}
		if !bytes.Equal(m.Bytes(), b) || !bytes.Equal(m.Body(), b[ICMPHeaderSize:]) {
			t.Fatal("views inconsistent")
		}
		rest := m.RestOfHeader()
		if !bytes.Equal(rest[:], b[4:8]) {
			t.Fatal("rest of header wrong")
		}
		_ = m.Ident() + m.Sequence() + m.NextHopMTU() + m.Checksum()
		_ = m.Pointer()
		_ = m.Gateway()
		_ = m.String()
		if m.ChecksumValid() != (Fold(referenceSum(b, 0)) == 0) {
			t.Fatal("ChecksumValid disagrees with the reference sum")
		}

		if q, err := m.Quoted(); err == nil {
			if !m.Type().IsError() {
				t.Fatal("Quoted succeeded on a non-error type")
			}
			checkHeaderInvariants(t, m.Body(), q)
		}

		reply := make([]byte, len(b))
		n := BuildEchoReply(reply, m)
		r, err := ParseICMP(reply[:n])
		if err != nil || n != len(b) || r.Type() != ICMPEchoReply || r.Code() != 0 ||
			r.RestOfHeader() != m.RestOfHeader() || !bytes.Equal(r.Body(), m.Body()) || !r.ChecksumValid() {
			t.Fatalf("echo reply %v from %v", r, m)
		}

		if h, err := ParseHeader(b); err == nil && ErrorAllowed(h) {
			errMsg := make([]byte, ICMPErrorSize(b))
			n := BuildDestinationUnreachable(errMsg, UnreachableProtocol, b)
			e, err := ParseICMP(errMsg[:n])
			if err != nil || !e.ChecksumValid() || !bytes.Equal(e.Body(), b[:min(len(b), MaxICMPErrorQuote)]) {
				t.Fatalf("error message about % x invalid", b)
			}
		}
	})
}
