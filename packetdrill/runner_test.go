package packetdrill

import (
	"errors"
	"strings"
	"testing"
)

// runScript parses src and runs it against a fresh fakeTarget.
func runScript(t *testing.T, src string, opts RunOptions) error {
	t.Helper()
	s, err := Parse("test.pkt", src, ParseOptions{Defines: []string{"STANDARD"}})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if opts.NewTarget == nil {
		opts.NewTarget = newFakeTarget
	}
	return Run(s, opts)
}

const passiveOpen = `
--tolerance_usecs=10000
0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 %{ assert tcpi_state == TCPI_LISTEN }%
+0.1 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop>
+0 > S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,eol,eol>
+0.1 < . 1:1(0) ack 1 win 32792
+0 accept(3, ..., ...) = 4
+0 %{ assert tcpi_state == TCPI_ESTABLISHED }%
+0 write(4, ..., 1000) = 1000
+0 > P. 1:1001(1000) ack 1 win 65535
+0.1 < . 1:1(0) ack 1001 win 32792
+0.1 < F. 1:1(0) ack 1001 win 32792
+0 > . 1001:1001(0) ack 2 win 65535
+0 read(4, ..., 10) = 0
+0 close(4) = 0
+0 > F. 1001:1001(0) ack 2 win 65535
+0.1 < . 2:2(0) ack 1002 win 32792
+0 ` + "`sockstat -4 -P tcp -s | grep packetdril | grep -c LAST_ACK | grep 0`" + `
+0 ` + "`sockstat -4 -P tcp -s | grep -c LISTEN | grep 1`" + `
`

func TestPassiveOpenPasses(t *testing.T) {
	if err := runScript(t, passiveOpen, RunOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestRemoteISNIsApplied runs the same script with the scripted peer
// starting at another ISN: relative numbers must still line up.
func TestRemoteISNIsApplied(t *testing.T) {
	for _, isn := range []uint32{1, 123456789, 0xfffffff0} {
		if err := runScript(t, passiveOpen, RunOptions{RemoteISN: isn}); err != nil {
			t.Errorf("remote ISN %#x: %v", isn, err)
		}
	}
}

const activeOpen = `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 fcntl(3, F_GETFL) = 0x06
+0 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [65536], [4]) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>
+0 %{ assert tcpi_state == TCPI_SYN_SENT }%
+0.2 < S. 0:0(0) ack 1 win 32767 <mss 1460,nop,wscale 7,sackOK,TS val 500 ecr 100>
+0 > . 1:1(0) ack 1 win 65535
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
+0 %{ assert tcpi_state == TCPI_ESTABLISHED }%
+0 %{ assert tcpi_options == (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE) }%
`

// TestActiveOpenTranslatesTimestamps: the fake only accepts a SYN-ACK that
// echoes the TS value it really sent, so this passes only if the runner
// mapped "ecr 100" onto the fake's timestamp clock.
func TestActiveOpenTranslatesTimestamps(t *testing.T) {
	if err := runScript(t, activeOpen, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	// With an absolute ecr ("100!") the echo is wrong, the fake drops the
	// SYN-ACK, and the expected ACK never comes.
	bad := strings.Replace(activeOpen, "ecr 100>", "ecr 100!>", 1)
	err := runScript(t, bad, RunOptions{})
	wantFailure(t, err, 11, "none was sent")
}

// wantFailure checks that err is a *Failure at the line with text in its
// message.
func wantFailure(t *testing.T, err error, line int, text string) {
	t.Helper()
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("got %v, want a *Failure", err)
	}
	if f.Pos.Line != line || !strings.Contains(f.Msg, text) {
		t.Fatalf("got failure at line %d: %q; want line %d containing %q", f.Pos.Line, f.Msg, line, text)
	}
}

func TestSYNRetransmissionTiming(t *testing.T) {
	const script = `
--tolerance_usecs=20000
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <...>
+1 > S 0:0(0) <...>
+2 > S 0:0(0) <...>
+4 > S 0:0(0) <...>
+8.1 getsockopt(3, SOL_SOCKET, SO_ERROR, [ETIMEDOUT], [4]) = 0
`
	if err := runScript(t, script, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	// The second retransmission comes 2 s after the first, not 1.5 s.
	early := strings.Replace(script, "+2 > S", "+1.5 > S", 1)
	wantFailure(t, runScript(t, early, RunOptions{}), 8, "none was sent")
	// Expecting it later than it comes: the packet is too early.
	late := strings.Replace(script, "+2 > S", "+2.5 > S", 1)
	wantFailure(t, runScript(t, late, RunOptions{}), 8, "too early")
	// A tolerance wide enough accepts the 0.5 s shift.
	if err := runScript(t, late, RunOptions{Tolerance: 600_000_000}); err != nil {
		t.Fatalf("with 0.6 s tolerance: %v", err)
	}
	// "*" accepts the packet whenever it comes.
	anyTime := strings.Replace(script, "+2 > S", "* > S", 1)
	if err := runScript(t, anyTime, RunOptions{}); err != nil {
		t.Fatalf("with *: %v", err)
	}
	// A range covers it too.
	ranged := strings.Replace(script, "+2 > S", "+1.5~+2.5 > S", 1)
	if err := runScript(t, ranged, RunOptions{}); err != nil {
		t.Fatalf("with a range: %v", err)
	}
}

func TestBlockingConnectTimesOut(t *testing.T) {
	const script = `
--tolerance_usecs=10000
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
0.000...15.000 connect(3, ..., ...) = -1 ETIMEDOUT (Operation timed out)
0 > S 0:0(0) <...>
1 > S 0:0(0) <...>
3 > S 0:0(0) <...>
7 > S 0:0(0) <...>
`
	if err := runScript(t, script, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	wrongTime := strings.Replace(script, "...15.000", "...14.000", 1)
	wantFailure(t, runScript(t, wrongTime, RunOptions{}), 4, "still blocked")
	wrongErrno := strings.Replace(script, "ETIMEDOUT (Operation timed out)", "ECONNREFUSED", 1)
	wantFailure(t, runScript(t, wrongErrno, RunOptions{}), 4, "errno ETIMEDOUT, script expects ECONNREFUSED")
	notBlocking := strings.Replace(script, "0.000...15.000 connect", "0 connect", 1)
	wantFailure(t, runScript(t, notBlocking, RunOptions{}), 4, "call blocked")
}

func TestBlockingConnectSucceeds(t *testing.T) {
	const script = `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
0.000...0.100 connect(3, ..., ...) = 0
0 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 1 ecr 0>
0.1 < S. 0:0(0) ack 1 win 5000 <mss 1460,sackOK,TS val 2 ecr 1>
0.1 > . 1:1(0) ack 1 win 65535
`
	if err := runScript(t, script, RunOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestMismatchesAreReported(t *testing.T) {
	cases := []struct {
		name, from, to string
		line           int
		msg            string
	}{
		{"flags", "+0 > S 0:0(0) win 65535", "+0 > S. 0:0(0) win 65535", 8, "flags: expected S., got S"},
		{"window", "+0 > . 1:1(0) ack 1 win 65535", "+0 > . 1:1(0) ack 1 win 1000", 11, "window: expected 1000, got 65535"},
		{"ack", "+0 > . 1:1(0) ack 1 win 65535", "+0 > . 1:1(0) ack 2 win 65535", 11, "ack: expected 2, got 1"},
		{"seq", "+0 > . 1:1(0) ack 1 win 65535", "+0 > . 2:2(0) ack 1 win 65535", 11, "seq: expected 2, got 1"},
		{"length", "+0 > . 1:1(0) ack 1 win 65535", "+0 > . 1:11(10) ack 1 win 65535", 11, "payload length: expected 10, got 0"},
		{"options", "<mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>", "<mss 1460,sackOK,eol,eol>", 8, "options: expected <mss 1460,sackOK,eol,eol>, got <mss 1460,nop,wscale 6,sackOK,TS val ... ecr 0>"},
		{"sockopt value", "SO_RCVBUF, [65536]", "SO_RCVBUF, [1234]", 6, "SO_RCVBUF is 65536, script expects [1234]"},
		{"return value", "F_GETFL) = 0x06", "F_GETFL) = 0x02", 5, "returned 6, script expects 0x2"},
		{"errno", "= -1 EINPROGRESS (Operation now in progress)", "= -1 ECONNREFUSED (Connection refused)", 7, "errno EINPROGRESS, script expects ECONNREFUSED"},
		{"success expected", "= -1 EINPROGRESS (Operation now in progress)", "= 0", 7, "returned -1 EINPROGRESS, script expects 0"},
		{"state", "assert tcpi_state == TCPI_SYN_SENT", "assert tcpi_state == TCPI_ESTABLISHED", 9, "tcpi_state is SYN-SENT, script expects ESTABLISHED"},
		{"tcpi_options", "TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK", "TCPI_OPT_ECN | TCPI_OPT_SACK", 14, "tcpi_options is 0x7"},
		{"unexpected packet", "+0 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>\n", "", 8, "unexpected packet"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			script := strings.Replace(activeOpen, c.from, c.to, 1)
			if script == activeOpen {
				t.Fatalf("replacement %q not found", c.from)
			}
			wantFailure(t, runScript(t, script, RunOptions{}), c.line, c.msg)
		})
	}
}

func TestResetAndClosedPort(t *testing.T) {
	const refused = `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <...>
+0.1 < R. 0:0(0) ack 1 win 0
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
+0 close(3) = 0
+0 close(3) = -1 EBADF (Bad file descriptor)
`
	if err := runScript(t, refused, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	// A segment to a port nobody listens on draws a RST whose sequence
	// number is 0 (RFC 9293 section 3.10.7.1): absolute, since the stack
	// never sent a SYN to learn an ISN from.
	const closedPort = `
0 < S 0:0(0) win 1000
+0 > R. 0:0(0)! ack 1 win 65535
+0.1 < . 1:1(0) ack 7 win 1000
+0 > R 7:7(0)! win 65535
`
	if err := runScript(t, closedPort, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	// Until the stack sends a SYN its ISN counts as 0, so relative and
	// absolute numbers agree.
	relative := strings.ReplaceAll(closedPort, ")!", ")")
	if err := runScript(t, relative, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	wrong := strings.Replace(relative, "R 7:7(0)", "R 8:8(0)", 1)
	wantFailure(t, runScript(t, wrong, RunOptions{}), 5, "seq: expected 8, got 7")
}

func TestUnsupportedFeaturesAreFlagged(t *testing.T) {
	for name, script := range map[string]string{
		"udp encapsulation": "--udp_encapsulation=tcp\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n",
		"shell command":     "0 `rm -rf /tmp/nothing`\n",
		"python":            "0 %{ print(tcpi_rtt) }%\n",
		"unknown sysctl":    "0 `sysctl -w net.inet.tcp.nonsense=1`\n",
		"ipv6":              "--ip_version=ipv6\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n",
		"syscall":           "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 epoll_create(1) = 4\n",
	} {
		err := runScript(t, script, RunOptions{})
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: got %v, want an ErrUnsupported failure", name, err)
		}
	}
}

// TestSysctlReachesTarget: a sysctl line changes the profile, and the
// target is reconfigured before the next socket call.
func TestSysctlReachesTarget(t *testing.T) {
	var fake *fakeTarget
	factory := func(cfg TargetConfig) (Target, error) {
		tg, err := newFakeTarget(cfg)
		fake = tg.(*fakeTarget)
		return tg, err
	}
	script := "0 `sysctl -w net.inet.tcp.recvspace=1000`\n" +
		"+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n" +
		"+0 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [1000], [4]) = 0\n"
	if err := runScript(t, script, RunOptions{NewTarget: factory}); err != nil {
		t.Fatal(err)
	}
	if fake.configured != 1 || fake.profile.ReceiveBuffer != 1000 || !fake.released {
		t.Fatalf("configured %d times, receive buffer %d, released %v", fake.configured, fake.profile.ReceiveBuffer, fake.released)
	}
}

// TestNonFatalSyscall: with --non_fatal=syscall the script goes on after
// a wrong return value but still fails.
func TestNonFatalSyscall(t *testing.T) {
	script := "--non_fatal=syscall\n" +
		"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n" +
		"+0 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [1], [4]) = 0\n" +
		"+0 %{ assert tcpi_state == TCPI_LISTEN }%\n"
	// The getsockopt failure on line 3 is recorded and the script goes
	// on; the tcpi_state failure on line 4 is fatal. The first is
	// reported, counting the other.
	err := runScript(t, script, RunOptions{})
	wantFailure(t, err, 3, "SO_RCVBUF is 65536")
	if f := err.(*Failure); f.Later != 1 {
		t.Errorf("later = %d, want 1", f.Later)
	}
	script = strings.Replace(script, "TCPI_LISTEN", "TCPI_CLOSED", 1)
	err = runScript(t, script, RunOptions{})
	wantFailure(t, err, 3, "SO_RCVBUF is 65536")
	if f := err.(*Failure); f.Later != 0 {
		t.Errorf("later = %d, want 0", f.Later)
	}

	// --non_fatal=packet: a wrong window on line 11 is recorded, the rest
	// of the script runs (and would fail on its own at line 13).
	pkt := "--non_fatal=packet" + strings.Replace(activeOpen, "> . 1:1(0) ack 1 win 65535", "> . 1:1(0) ack 1 win 9", 1)
	wantFailure(t, runScript(t, pkt, RunOptions{}), 11, "window: expected 9")
	pkt = strings.Replace(pkt, "TCPI_ESTABLISHED", "TCPI_CLOSING", 1)
	err = runScript(t, pkt, RunOptions{})
	wantFailure(t, err, 11, "window: expected 9")
	if f := err.(*Failure); f.Later != 1 {
		t.Errorf("later = %d, want 1 (the fatal tcpi_state failure)", f.Later)
	}
}

func TestICMPInjection(t *testing.T) {
	var fake *fakeTarget
	var injected [][]byte
	factory := func(cfg TargetConfig) (Target, error) {
		tg, err := newFakeTarget(cfg)
		fake = tg.(*fakeTarget)
		return recordingTarget{fake, &injected}, err
	}
	script := activeOpen + "+0 < icmp unreachable frag_needed mtu 1234 [1:1(0)]\n"
	if err := runScript(t, script, RunOptions{NewTarget: factory}); err != nil {
		t.Fatal(err)
	}
	last := injected[len(injected)-1]
	ip, err := parseIPv4(last)
	if err != nil || ip.protocol() != protoICMP || !ip.checksumOK() {
		t.Fatalf("not a valid ICMP packet: %v %x", err, last)
	}
	msg := ip.payload()
	if msg[0] != 3 || msg[1] != 4 || msg[6] != 0x04 || msg[7] != 0xd2 || checksum(msg, 0) != 0 {
		t.Fatalf("ICMP header % x: want type 3 code 4 mtu 1234 and a valid checksum", msg[:8])
	}
	// The quote is the stack's IPv4 header and the first 8 bytes of TCP
	// (RFC 792), so its total length field exceeds what is present.
	if len(msg) != 8+20+8 || msg[8]>>4 != 4 || msg[8+9] != protoTCP {
		t.Fatalf("quoted packet % x: want an IPv4 header and 8 bytes of TCP", msg[8:])
	}
	tcp := msg[8+20:]
	if seq := uint32(tcp[4])<<24 | uint32(tcp[5])<<16 | uint32(tcp[6])<<8 | uint32(tcp[7]); seq != fakeISN+1 {
		t.Fatalf("quoted seq %#x, want the stack's ISN+1 %#x", seq, fakeISN+1)
	}
	if fake.socks[101].state != Established {
		t.Fatalf("fake state %v", fake.socks[101].state)
	}
}

// recordingTarget keeps a copy of every injected packet.
type recordingTarget struct {
	*fakeTarget
	log *[][]byte
}

func (r recordingTarget) Inject(p []byte) error {
	*r.log = append(*r.log, append([]byte(nil), p...))
	return r.fakeTarget.Inject(p)
}

// TestBlockingAcceptAndRead: calls on blocking sockets stay pending while
// later events run, and return when a packet makes them ready.
func TestBlockingAcceptAndRead(t *testing.T) {
	const script = `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0...0.200 accept(3, ..., ...) = 4
+0.1 < S 0:0(0) win 32792 <mss 1000>
+0 > S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,eol,eol>
+0.1 < . 1:1(0) ack 1 win 32792
0.200...0.500 read(4, ..., 1000) = 1000
0.5 < P. 1:1001(1000) ack 1 win 32792
+0 > . 1:1(0) ack 1001 win 65535
`
	if err := runScript(t, script, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	early := strings.Replace(script, "0.200...0.500 read", "0.200...0.400 read", 1)
	wantFailure(t, runScript(t, early, RunOptions{}), 9, "call still blocked at 404.000001ms, expected to return at 400ms")
	short := strings.Replace(script, "read(4, ..., 1000) = 1000", "read(4, ..., 1000) = 999", 1)
	wantFailure(t, runScript(t, short, RunOptions{}), 9, "returned 1000, script expects 999")
}

// TestKeepGoing: every difference is counted, the first is reported.
func TestKeepGoing(t *testing.T) {
	script := strings.Replace(activeOpen, "> . 1:1(0) ack 1 win 65535", "> . 1:1(0) ack 1 win 9", 1)
	script = strings.Replace(script, "SO_ERROR, [0]", "SO_ERROR, [1]", 1)
	script = strings.Replace(script, "TCPI_ESTABLISHED", "TCPI_CLOSING", 1)
	err := runScript(t, script, RunOptions{KeepGoing: true})
	wantFailure(t, err, 11, "window: expected 9")
	var f *Failure
	errors.As(err, &f)
	if f.Later != 2 || !strings.HasSuffix(err.Error(), "(and 2 later failures)") {
		t.Fatalf("later = %d: %v", f.Later, err)
	}
	// Unsupported features still stop the script.
	err = runScript(t, "0 `tcpdrop -s TIME_WAIT`\n+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4\n", RunOptions{KeepGoing: true})
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("got %v", err)
	}
}

// TestPacketsAfterTheLastEvent: a script that ends at close() without the
// FIN close() sends passes by default, as under packetdrill, which stops
// reading at the last event; the FIN shows in the trace. With StrictEnd
// the same script fails at its last line.
func TestPacketsAfterTheLastEvent(t *testing.T) {
	endsAtClose := passiveOpen[:strings.Index(passiveOpen, "+0 > F. 1001:1001(0)")]
	var trace strings.Builder
	if err := runScript(t, endsAtClose, RunOptions{Trace: &trace}); err != nil {
		t.Fatalf("default: %v", err)
	}
	if !strings.Contains(trace.String(), "F. 1001:1001(0) ack 2") || !strings.Contains(trace.String(), "not checked") {
		t.Errorf("the trace does not show the unchecked FIN:\n%s", trace.String())
	}
	wantFailure(t, runScript(t, endsAtClose, RunOptions{StrictEnd: true}), 19, "unexpected packet after the last event")
}
