package ipv4

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

// parseGoldenICMP parses a golden packet down to its ICMP message.
func parseGoldenICMP(t testing.TB, packet string) (Header, ICMP) {
	t.Helper()
	h, err := ParseHeader(mustHex(t, packet))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseICMP(h.Payload())
	if err != nil {
		t.Fatal(err)
	}
	return h, m
}

func TestParseICMPGoldenEchoReply(t *testing.T) {
	_, m := parseGoldenICMP(t, goldenEchoReply)
	if m.Type() != ICMPEchoReply || m.Code() != 0 || m.Checksum() != 0x06bd ||
		m.Ident() != 0x0bad || m.Sequence() != 1 || !m.ChecksumValid() ||
		string(m.Body()) != "tundra golden ping 0123456789abcdef" {
		t.Fatalf("echo reply parsed as %v, body %q", m, m.Body())
	}
	if m.RestOfHeader() != [4]byte{0x0b, 0xad, 0, 1} {
		t.Errorf("RestOfHeader = %x", m.RestOfHeader())
	}
	if _, err := m.Quoted(); !errors.Is(err, ErrICMPNotError) {
		t.Errorf("Quoted on an echo reply: %v, want ErrICMPNotError", err)
	}
	if got, want := m.String(), "echo reply id 2989 seq 1, 35 bytes"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestParseICMPGoldenPortUnreachable(t *testing.T) {
	_, m := parseGoldenICMP(t, goldenPortUnreachable)
	if m.Type() != ICMPDestinationUnreachable || m.Code() != UnreachablePort || !m.ChecksumValid() {
		t.Fatalf("parsed as %v", m)
	}
	if got, want := m.String(), "destination unreachable (port unreachable)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	q, err := m.Quoted()
	if err != nil {
		t.Fatal(err)
	}
	// The quote is the datagram the capturing program sent: 198.18.0.2:40000
	// to 198.18.0.1:9, "hello?".
	if q.Source() != netip.MustParseAddr("198.18.0.2") || q.Destination() != netip.MustParseAddr("198.18.0.1") ||
		q.Protocol() != ProtocolUDP || q.ID() != 0x1234 || !q.DontFragment() || !q.ChecksumValid() ||
		q.Truncated() || len(q.Payload()) != 14 || string(q.Payload()[8:]) != "hello?" {
		t.Fatalf("quoted header %v, payload %x", q, q.Payload())
	}
}

// TestBuildEchoReplyMatchesKernel turns the echo request the golden reply
// answered into a reply and expects the kernel's bytes.
func TestBuildEchoReplyMatchesKernel(t *testing.T) {
	_, kernelReply := parseGoldenICMP(t, goldenEchoReply)
	data := kernelReply.Body()

	request := make([]byte, ICMPHeaderSize+len(data))
	if n := BuildEchoRequest(request, 0x0bad, 1, data); n != len(request) {
		t.Fatalf("BuildEchoRequest returned %d, want %d", n, len(request))
	}
	req, err := ParseICMP(request)
	if err != nil {
		t.Fatal(err)
	}
	if req.Type() != ICMPEchoRequest || !req.ChecksumValid() || req.Ident() != 0x0bad || req.Sequence() != 1 {
		t.Fatalf("request %v invalid", req)
	}

	reply := make([]byte, 100)
	n := BuildEchoReply(reply, req)
	if !bytes.Equal(reply[:n], kernelReply.Bytes()) {
		t.Fatalf("reply\n %x\nkernel\n %x", reply[:n], kernelReply.Bytes())
	}
	// In place, over the request's own bytes.
	if n := BuildEchoReply(request, req); !bytes.Equal(request[:n], kernelReply.Bytes()) {
		t.Fatalf("in-place reply %x", request[:n])
	}
}

// TestBuildDestinationUnreachableMatchesKernel quotes the golden offending
// datagram as the kernel did and expects the kernel's ICMP message.
func TestBuildDestinationUnreachableMatchesKernel(t *testing.T) {
	_, kernelError := parseGoldenICMP(t, goldenPortUnreachable)
	offending := kernelError.Body()
	dst := make([]byte, ICMPErrorSize(offending))
	n := BuildDestinationUnreachable(dst, UnreachablePort, offending)
	if !bytes.Equal(dst[:n], kernelError.Bytes()) {
		t.Fatalf("built\n %x\nkernel\n %x", dst[:n], kernelError.Bytes())
	}
}

func TestBuildFragmentationNeeded(t *testing.T) {
	offending := validHeader(1400)
	offending[6] |= 0x40 // DF
	dst := make([]byte, MaxICMPErrorPacketSize)
	n := BuildFragmentationNeeded(dst, 1280, offending)
	if n != ICMPHeaderSize+MaxICMPErrorQuote || n+MinHeaderSize != MaxICMPErrorPacketSize {
		t.Fatalf("length %d, want the quote cut to fit 576 bytes", n)
	}
	m, err := ParseICMP(dst[:n])
	if err != nil {
		t.Fatal(err)
	}
	if m.Type() != ICMPDestinationUnreachable || m.Code() != UnreachableFragmentationNeeded ||
		m.NextHopMTU() != 1280 || m.RestOfHeader() != [4]byte{0, 0, 0x05, 0x00} || !m.ChecksumValid() {
		t.Fatalf("built %v", m)
	}
	if got, want := m.String(), "destination unreachable (fragmentation needed and DF set) mtu 1280"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	q, err := m.Quoted()
	if err != nil {
		t.Fatal(err)
	}
	if !q.Truncated() || q.TotalLength() != 1420 || len(q.Payload()) != MaxICMPErrorQuote-20 ||
		!bytes.Equal(q.Payload(), offending[20:MaxICMPErrorQuote]) {
		t.Fatalf("quote %v", q)
	}
}

func TestBuildErrorShortOffending(t *testing.T) {
	// A packet shorter than header + 8 bytes is quoted whole.
	offending := validHeader(3)
	dst := make([]byte, 64)
	n := BuildError(dst, ICMPTimeExceeded, TimeExceededTTL, [4]byte{}, offending)
	if n != ICMPHeaderSize+23 {
		t.Fatalf("length %d, want %d", n, ICMPHeaderSize+23)
	}
	m, _ := ParseICMP(dst[:n])
	q, err := m.Quoted()
	if err != nil || !bytes.Equal(q.Payload(), []byte{0, 1, 2}) || !m.ChecksumValid() {
		t.Fatalf("quote %v %v", q, err)
	}
	if got, want := m.String(), "time exceeded (time to live exceeded in transit)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestBuildPanicsOnShortBuffer(t *testing.T) {
	for name, build := range map[string]func(){
		"echo request": func() { BuildEchoRequest(make([]byte, 10), 1, 1, make([]byte, 3)) },
		"error":        func() { BuildDestinationUnreachable(make([]byte, 30), UnreachablePort, validHeader(8)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic on a short buffer", name)
				}
			}()
			build()
		}()
	}
}

func TestParseICMPErrors(t *testing.T) {
	for n := 0; n < ICMPHeaderSize; n++ {
		if _, err := ParseICMP(make([]byte, n)); !errors.Is(err, ErrICMPTooShort) {
			t.Errorf("ParseICMP of %d bytes: %v, want ErrICMPTooShort", n, err)
		}
	}
	// An error message whose quote is not a whole IPv4 header.
	m, err := ParseICMP([]byte{3, 3, 0, 0, 0, 0, 0, 0, 0x45, 0, 0, 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Quoted(); !errors.Is(err, ErrTooShort) {
		t.Errorf("Quoted of a 4-byte quote: %v, want ErrTooShort", err)
	}
	// A corrupted checksum.
	_, good := parseGoldenICMP(t, goldenEchoReply)
	b := bytes.Clone(good.Bytes())
	b[len(b)-1] ^= 0x01
	if bad, _ := ParseICMP(b); bad.ChecksumValid() {
		t.Error("corrupted body not detected")
	}
}

func TestICMPParameterProblemAndRedirect(t *testing.T) {
	offending := validHeader(8)
	dst := make([]byte, 64)
	n := BuildError(dst, ICMPParameterProblem, ParameterProblemPointer, [4]byte{9}, offending)
	m, _ := ParseICMP(dst[:n])
	if m.Pointer() != 9 || m.String() != "parameter problem (pointer indicates the error)" {
		t.Errorf("parameter problem: %v pointer %d", m, m.Pointer())
	}
	n = BuildError(dst, ICMPRedirect, RedirectHost, [4]byte{198, 18, 0, 254}, offending)
	m, _ = ParseICMP(dst[:n])
	if m.Gateway() != netip.MustParseAddr("198.18.0.254") || m.String() != "redirect (redirect for host)" {
		t.Errorf("redirect: %v gateway %v", m, m.Gateway())
	}
}

func TestICMPNames(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{ICMPEchoRequest.String(), "echo request"},
		{ICMPSourceQuench.String(), "source quench"},
		{ICMPType(42).String(), "ICMP type 42"},
		{ICMPCodeName(ICMPDestinationUnreachable, UnreachableNet), "net unreachable"},
		{ICMPCodeName(ICMPDestinationUnreachable, UnreachableProtocol), "protocol unreachable"},
		{ICMPCodeName(ICMPDestinationUnreachable, UnreachableAdministrativelyProhibited), "communication administratively prohibited"},
		{ICMPCodeName(ICMPDestinationUnreachable, 16), "code 16"},
		{ICMPCodeName(ICMPTimeExceeded, TimeExceededReassembly), "fragment reassembly time exceeded"},
		{ICMPCodeName(ICMPEchoRequest, 0), "code 0"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	for _, typ := range []ICMPType{ICMPDestinationUnreachable, ICMPSourceQuench, ICMPRedirect, ICMPTimeExceeded, ICMPParameterProblem} {
		if !typ.IsError() {
			t.Errorf("%v.IsError() = false", typ)
		}
	}
	for _, typ := range []ICMPType{ICMPEchoReply, ICMPEchoRequest, ICMPTimestampRequest, ICMPTimestampReply, 42} {
		if typ.IsError() {
			t.Errorf("%v.IsError() = true", typ)
		}
	}
}

func TestErrorAllowed(t *testing.T) {
	build := func(mangle func(f *HeaderFields), payload []byte) Header {
		f := HeaderFields{TTL: 64, Protocol: ProtocolUDP, Src: netip.MustParseAddr("198.18.0.2"),
			Dst: netip.MustParseAddr("198.18.0.1"), PayloadLength: len(payload)}
		mangle(&f)
		b := make([]byte, f.Size()+len(payload))
		copy(b[f.Encode(b):], payload)
		h, err := ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	udp := make([]byte, 8)
	tests := []struct {
		name    string
		mangle  func(f *HeaderFields)
		payload []byte
		want    bool
	}{
		{"ordinary UDP", func(f *HeaderFields) {}, udp, true},
		{"first fragment", func(f *HeaderFields) { f.Flags = MoreFragments }, udp, true},
		{"later fragment", func(f *HeaderFields) { f.FragmentOffset = 8 }, udp, false},
		{"echo request", func(f *HeaderFields) { f.Protocol = ProtocolICMP }, []byte{8, 0, 0, 0, 0, 0, 0, 0}, true},
		{"ICMP error", func(f *HeaderFields) { f.Protocol = ProtocolICMP }, []byte{3, 3, 0, 0, 0, 0, 0, 0}, false},
		{"empty ICMP", func(f *HeaderFields) { f.Protocol = ProtocolICMP }, nil, false},
		{"to multicast", func(f *HeaderFields) { f.Dst = netip.MustParseAddr("224.0.0.1") }, udp, false},
		{"to broadcast", func(f *HeaderFields) { f.Dst = netip.MustParseAddr("255.255.255.255") }, udp, false},
		{"from zero", func(f *HeaderFields) { f.Src = netip.MustParseAddr("0.0.0.0") }, udp, false},
		{"from loopback", func(f *HeaderFields) { f.Src = netip.MustParseAddr("127.0.0.1") }, udp, false},
		{"from multicast", func(f *HeaderFields) { f.Src = netip.MustParseAddr("239.1.2.3") }, udp, false},
		{"from broadcast", func(f *HeaderFields) { f.Src = netip.MustParseAddr("255.255.255.255") }, udp, false},
	}
	for _, tt := range tests {
		if got := ErrorAllowed(build(tt.mangle, tt.payload)); got != tt.want {
			t.Errorf("%s: ErrorAllowed = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func BenchmarkBuildEchoReply(b *testing.B) {
	request := make([]byte, ICMPHeaderSize+56)
	BuildEchoRequest(request, 1, 1, make([]byte, 56))
	m, err := ParseICMP(request)
	if err != nil {
		b.Fatal(err)
	}
	reply := make([]byte, len(request))
	b.ReportAllocs()
	for b.Loop() {
		BuildEchoReply(reply, m)
	}
}
