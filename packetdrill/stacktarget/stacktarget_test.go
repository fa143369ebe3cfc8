package stacktarget

import (
	"errors"
	"strings"
	"testing"

	"github.com/tundra-net/tundra/packetdrill"
)

// run parses and runs a script against tundra's stack. The scripts here
// leave out what is a choice of the stack (options, windows) with "<...>"
// and no "win", and check what RFC 9293 fixes: flags, sequence and
// acknowledgment numbers, states and the socket calls' results.
func run(t *testing.T, script string) error {
	t.Helper()
	s, err := packetdrill.Parse(t.Name()+".pkt", script, packetdrill.ParseOptions{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var trace strings.Builder
	err = packetdrill.Run(s, packetdrill.RunOptions{NewTarget: New, Trace: &trace})
	if err != nil {
		t.Logf("trace:\n%s", trace.String())
	}
	return err
}

func TestPassiveOpenDataAndClose(t *testing.T) {
	err := run(t, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 accept(3, ..., ...) = -1 EAGAIN (Resource temporarily unavailable)
+0 %{ assert tcpi_state == TCPI_LISTEN }%
+0.1 < S 0:0(0) win 32792 <mss 1000>
+0 > S. 0:0(0) ack 1 <...>
+0 `+"`sockstat -4 -P tcp -s | grep -c SYN_RCVD | grep 1`"+`
+0.1 < . 1:1(0) ack 1 win 32792
+0 accept(3, ..., ...) = 4
+0 %{ assert tcpi_state == TCPI_ESTABLISHED }%
+0 fcntl(4, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 read(4, ..., 100) = -1 EAGAIN (Resource temporarily unavailable)
+0 write(4, ..., 100) = 100
+0 > P. 1:101(100) ack 1 <...>
+0.1 < . 1:1(0) ack 101 win 32792
+0 < P. 1:11(10) ack 101 win 32792
* > . 101:101(0) ack 11 <...>
+0 read(4, ..., 100) = 10
+0.1 < F. 11:11(0) ack 101 win 32792
+0 > . 101:101(0) ack 12 <...>
+0 %{ assert tcpi_state == TCPI_CLOSE_WAIT }%
+0 read(4, ..., 100) = 0
+0 close(4) = 0
+0 > F. 101:101(0) ack 12 <...>
+0 `+"`sockstat -4 -P tcp -s | grep -c LAST_ACK | grep 1`"+`
+0.1 < . 12:12(0) ack 102 win 32792
+0 `+"`sockstat -4 -P tcp -s | grep -c ESTABLISHED | grep 0`"+`
+0 close(3) = 0
`)
	if err != nil {
		t.Fatal(err)
	}
}

func TestActiveOpenNonBlocking(t *testing.T) {
	err := run(t, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <...>
+0 %{ assert tcpi_state == TCPI_SYN_SENT }%
+0 read(3, ..., 10) = -1 EAGAIN (Resource temporarily unavailable)
+0.1 < S. 0:0(0) ack 1 win 5000 <mss 1460>
+0 > . 1:1(0) ack 1 <...>
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
+0 %{ assert tcpi_state == TCPI_ESTABLISHED }%
+0.1 < R. 1:1(0) ack 1 win 0
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0
+0 %{ assert tcpi_state == TCPI_CLOSED }%
+0 close(3) = 0
`)
	if err != nil {
		t.Fatal(err)
	}
}

func TestConnectRefusedAndBlocking(t *testing.T) {
	err := run(t, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <...>
+0.1 < R. 0:0(0) ack 1 win 0
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0
+0 close(3) = 0
+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0...0.2 connect(3, ..., ...) = 0
+0 > S 0:0(0) <...>
+0.2 < S. 0:0(0) ack 1 win 5000 <mss 1460>
+0 > . 1:1(0) ack 1 <...>
+0 close(3) = 0
+0 > F. 1:1(0) ack 1 <...>
`)
	if err != nil {
		t.Fatal(err)
	}
}

// TestSYNRetransmissionsOnVirtualClock: the stack's retransmission timer
// runs on the runner's clock; RFC 6298 section 5.5 doubles the timeout,
// and the FreeBSD profile adds its rexmit_slop (200 ms) to the backed-off
// value (tcp.Config.RTOSlop).
func TestSYNRetransmissionsOnVirtualClock(t *testing.T) {
	err := run(t, `
--tolerance_usecs=1000
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <...>
+1 > S 0:0(0) <...>
+2.2 > S 0:0(0) <...>
+0 close(3) = 0
`)
	if err != nil {
		t.Fatal(err)
	}
}

// TestFailureIsReported: a wrong expectation fails with the line.
func TestFailureIsReported(t *testing.T) {
	err := run(t, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S. 0:0(0) <...>
`)
	var f *packetdrill.Failure
	if !errors.As(err, &f) || f.Pos.Line != 5 || !strings.Contains(f.Msg, "flags: expected S., got S") {
		t.Fatalf("got %v", err)
	}
}

// TestRefusedInSimultaneousOpen: a RST in SYN-RECEIVED reached from
// SYN-SENT refuses the connection (RFC 9293 3.10.7.4).
func TestRefusedInSimultaneousOpen(t *testing.T) {
	err := run(t, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <...>
+0.1 < S 0:0(0) win 5000 <mss 1460>
+0 > S. 0:0(0) ack 1 <...>
+0 %{ assert tcpi_state == TCPI_SYN_RECEIVED }%
+0.1 < R 1:1(0) win 0
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0
+0 %{ assert tcpi_state == TCPI_CLOSED }%
`)
	if err != nil {
		t.Fatal(err)
	}
}
