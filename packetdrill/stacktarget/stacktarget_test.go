package stacktarget

import (
	"errors"
	"fmt"
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
	return runProfile(t, packetdrill.FreeBSD(), script)
}

// runProfile runs a script with the given starting profile.
func runProfile(t *testing.T, p packetdrill.Profile, script string) error {
	t.Helper()
	s, err := packetdrill.Parse(t.Name()+".pkt", script, packetdrill.ParseOptions{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var trace strings.Builder
	err = packetdrill.Run(s, packetdrill.RunOptions{NewTarget: New, Trace: &trace, Profile: &p})
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

// TestKeepAliveOptions sets and reads back TCP_KEEPIDLE, TCP_KEEPINTVL,
// TCP_KEEPCNT and TCP_KEEPINIT on a socket before connect (they go into
// the configuration of the connection to come) and on the open connection
// (they go to the stack's connection), each distinct, so that an option
// read from or written to another's place shows.
func TestKeepAliveOptions(t *testing.T) {
	// keepAlive returns the lines that set the four options to idle,
	// interval, count and init, and those that check them.
	keepAlive := func(idle, interval, count, init int) (set, check string) {
		for _, o := range []struct {
			name  string
			value int
		}{{"TCP_KEEPIDLE", idle}, {"TCP_KEEPINTVL", interval}, {"TCP_KEEPCNT", count}, {"TCP_KEEPINIT", init}} {
			set += fmt.Sprintf("+0 setsockopt(3, IPPROTO_TCP, %s, [%d], 4) = 0\n", o.name, o.value)
			check += fmt.Sprintf("+0 getsockopt(3, IPPROTO_TCP, %s, [%d], [4]) = 0\n", o.name, o.value)
		}
		return set, check
	}
	setBefore, checkBefore := keepAlive(30, 10, 3, 20)
	setOpen, checkOpen := keepAlive(60, 20, 5, 40)
	err := run(t, "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"+
		setBefore+
		"+0 setsockopt(3, IPPROTO_TCP, TCP_KEEPCNT, [0], 4) = -1 EINVAL (Invalid argument)\n"+
		checkBefore+`+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <...>
`+checkBefore+`+0.1 < S. 0:0(0) ack 1 win 5000 <mss 1460>
+0 > . 1:1(0) ack 1 <...>
`+setOpen+
		"+0 setsockopt(3, IPPROTO_TCP, TCP_KEEPIDLE, [0], 4) = -1 EINVAL (Invalid argument)\n"+
		checkOpen+`+0 close(3) = 0
+0 > F. 1:1(0) ack 1 <...>
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

// TestPollAfterReset: tundra's stack seen through poll on Linux's rules
// (the tundra profile). A socket that never connected is CLOSED to Linux
// (POLLOUT, POLLHUP); in SYN-SENT nothing is ready. A RST in ESTABLISHED ends the connection (RFC 9293
// 3.10.7.4): both directions are shut (POLLIN, POLLOUT, POLLHUP,
// POLLRDHUP) and ECONNRESET is pending (POLLERR) until SO_ERROR reads it.
func TestPollAfterReset(t *testing.T) {
	err := runProfile(t, packetdrill.Tundra(), `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLOUT|POLLHUP}], 1, 0) = 1
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <...>
+0 poll([{fd=3, events=POLLIN|POLLOUT|POLLRDHUP, revents=0}], 1, 0) = 0
+0.1 < S. 0:0(0) ack 1 win 5000 <mss 1460>
+0 > . 1:1(0) ack 1 <...>
+0 poll([{fd=3, events=POLLIN|POLLOUT|POLLRDHUP, revents=POLLOUT}], 1, 0) = 1
+0.1 < R. 1:1(0) ack 1 win 0
+0 poll([{fd=3, events=POLLIN|POLLOUT|POLLRDHUP, revents=POLLIN|POLLOUT|POLLERR|POLLHUP|POLLRDHUP}], 1, 0) = 1
+0 poll([{fd=3, events=POLLIN|POLLOUT|POLLRDHUP, revents=POLLIN|POLLOUT|POLLERR|POLLHUP|POLLRDHUP}], 1, 0) = 1
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0
+0 poll([{fd=3, events=POLLIN|POLLOUT|POLLRDHUP, revents=POLLIN|POLLOUT|POLLHUP|POLLRDHUP}], 1, 0) = 1
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
+0 read(3, ..., 10) = -1 ECONNRESET (Connection reset by peer)
+0 close(3) = 0
`)
	if err != nil {
		t.Fatal(err)
	}
}

// TestPollAfterFIN: a listener is readable while a connection waits to be
// accepted (not while the handshake is under way). The peer's FIN shuts
// receiving only (CLOSE-WAIT:
// POLLIN and POLLRDHUP, still POLLOUT, no POLLHUP); our FIN shuts sending,
// and once both are shut poll reports POLLHUP. No error is ever pending
// on a graceful close.
func TestPollAfterFIN(t *testing.T) {
	err := runProfile(t, packetdrill.Tundra(), `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 poll([{fd=3, events=POLLIN, revents=0}], 1, 0) = 0
+0.1 < S 0:0(0) win 32792 <mss 1000>
+0 > S. 0:0(0) ack 1 <...>
+0 poll([{fd=3, events=POLLIN, revents=0}], 1, 0) = 0
+0.1 < . 1:1(0) ack 1 win 32792
+0 poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLIN}], 1, 0) = 1
+0 accept(3, ..., ...) = 4
+0 poll([{fd=3, events=POLLIN, revents=0}], 1, 0) = 0
+0 fcntl(4, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 poll([{fd=4, events=POLLIN|POLLOUT|POLLRDHUP, revents=POLLOUT}], 1, 0) = 1
+0.1 < F. 1:1(0) ack 1 win 32792
* > . 1:1(0) ack 2 <...>
+0 poll([{fd=4, events=POLLIN|POLLOUT|POLLRDHUP, revents=POLLIN|POLLOUT|POLLRDHUP}], 1, 0) = 1
+0 poll([{fd=4, events=POLLOUT, revents=POLLOUT}], 1, 0) = 1
+0 shutdown(4, SHUT_WR) = 0
+0 > F. 1:1(0) ack 2 <...>
+0 poll([{fd=4, events=POLLIN|POLLOUT|POLLRDHUP, revents=POLLIN|POLLOUT|POLLHUP|POLLRDHUP}], 1, 0) = 1
+0.1 < . 2:2(0) ack 2 win 32792
+0 poll([{fd=4, events=POLLIN|POLLOUT|POLLRDHUP, revents=POLLIN|POLLOUT|POLLHUP|POLLRDHUP}], 1, 0) = 1
+0 getsockopt(4, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
+0 close(4) = 0
+0 close(3) = 0
`)
	if err != nil {
		t.Fatal(err)
	}
}

// TestPollHalfClose: shutdown(SHUT_WR) in ESTABLISHED shuts sending
// (FIN-WAIT-1, then FIN-WAIT-2): POLLOUT, as a write fails at once, and
// no POLLHUP until the peer's FIN shuts receiving too (TIME-WAIT).
func TestPollHalfClose(t *testing.T) {
	err := runProfile(t, packetdrill.Tundra(), `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <...>
+0.1 < S. 0:0(0) ack 1 win 5000 <mss 1460>
+0 > . 1:1(0) ack 1 <...>
+0 shutdown(3, SHUT_WR) = 0
+0 > F. 1:1(0) ack 1 <...>
+0 poll([{fd=3, events=POLLIN|POLLOUT|POLLRDHUP, revents=POLLOUT}], 1, 0) = 1
+0.1 < . 1:1(0) ack 2 win 5000
+0 poll([{fd=3, events=POLLIN|POLLOUT|POLLRDHUP, revents=POLLOUT}], 1, 0) = 1
+0 write(3, ..., 10) = -1 EPIPE (Broken pipe)
+0.1 < F. 1:1(0) ack 2 win 5000
+0 > . 2:2(0) ack 2 <...>
+0 poll([{fd=3, events=POLLIN|POLLOUT|POLLRDHUP, revents=POLLIN|POLLOUT|POLLHUP|POLLRDHUP}], 1, 0) = 1
+0 read(3, ..., 10) = 0
+0 close(3) = 0
`)
	if err != nil {
		t.Fatal(err)
	}
}
