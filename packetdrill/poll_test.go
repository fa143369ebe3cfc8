package packetdrill

import (
	"strings"
	"testing"
)

// TestPollRevents checks the two kernels' rules, revents for each
// readiness and request.
func TestPollRevents(t *testing.T) {
	const (
		in, out, err, hup    = 0x1, 0x4, 0x8, 0x10
		rdNorm, linuxWrNorm  = 0x40, 0x100
		linuxRdHup, bsdRdHup = 0x2000, 0x4000
	)
	// After a RST: shut both ways, the error pending.
	reset := PollEvents{Readable: true, Writable: true, Error: true, ReadHangUp: true, HangUp: true}
	// After SO_ERROR has read it.
	resetRead := PollEvents{Readable: true, Writable: true, ReadHangUp: true, HangUp: true}
	// CLOSE-WAIT: the peer's FIN has arrived, the send buffer has room.
	closeWait := PollEvents{Readable: true, Writable: true, ReadHangUp: true}
	cases := []struct {
		name   string
		kernel PollKernel
		ev     PollEvents
		events int
		want   int
	}{
		{"linux reset", PollLinux, reset, in | out | linuxRdHup, in | out | err | hup | linuxRdHup},
		{"linux reset, nothing asked", PollLinux, reset, 0, err | hup},
		{"linux reset, error read", PollLinux, resetRead, in | out, in | out | hup},
		{"linux normal bits", PollLinux, resetRead, rdNorm | linuxWrNorm, rdNorm | linuxWrNorm | hup},
		{"linux close-wait", PollLinux, closeWait, in | out | linuxRdHup, in | out | linuxRdHup},
		{"linux close-wait, RDHUP not asked", PollLinux, closeWait, in, in},
		{"linux error alone", PollLinux, PollEvents{Error: true}, in, err},
		{"linux idle", PollLinux, PollEvents{}, in | out, 0},
		{"linux unconnected", PollLinux, PollEvents{Unconnected: true}, in | out, out | hup},
		{"freebsd unconnected", PollFreeBSD, PollEvents{Unconnected: true}, in | out, 0},
		{"freebsd listener with a connection", PollFreeBSD, PollEvents{Readable: true}, in | out, in},
		{"freebsd reset", PollFreeBSD, reset, in | out | bsdRdHup, in | out | hup | bsdRdHup},
		{"freebsd reset, nothing asked", PollFreeBSD, reset, 0, hup},
		{"freebsd error alone reads and writes", PollFreeBSD, PollEvents{Error: true}, in | out, in | out},
		{"freebsd close-wait", PollFreeBSD, closeWait, in | bsdRdHup, in | bsdRdHup},
		{"freebsd end of stream is readable", PollFreeBSD, PollEvents{ReadHangUp: true}, in | rdNorm, in | rdNorm},
	}
	for _, c := range cases {
		if got := c.kernel.Revents(c.ev, c.events); got != c.want {
			t.Errorf("%s: revents %s, want %s", c.name, pollString(c.kernel, got), pollString(c.kernel, c.want))
		}
	}
	if got := pollString(PollLinux, in|err|hup|linuxRdHup|0x8000); got != "POLLIN|POLLERR|POLLHUP|POLLRDHUP|0x8000" {
		t.Errorf("pollString = %s", got)
	}
	if got := pollString(PollFreeBSD, out); got != "POLLOUT" {
		t.Errorf("FreeBSD POLLOUT (= POLLWRNORM) named %s", got)
	}
	if v, ok := pollSymbol(PollFreeBSD, "POLLRDHUP"); !ok || v != bsdRdHup {
		t.Errorf("FreeBSD POLLRDHUP = %#x, %v", v, ok)
	}
}

const refusedThenPoll = `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <...>
+0 poll([{fd=3, events=POLLIN|POLLOUT, revents=0}], 1, 0) = 0
+0.1 < R. 0:0(0) ack 1 win 0
+0 poll([{fd=3, events=POLLIN|POLLOUT|POLLRDHUP, revents=POLLIN|POLLOUT|POLLERR|POLLHUP|POLLRDHUP}, {fd=7, events=POLLIN, revents=POLLNVAL}, {fd=-1, events=POLLIN, revents=0}], 3, 0) = 2
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0
+0 poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLIN|POLLOUT|POLLHUP}], 1, 0) = 1
+0 close(3) = 0
`

// TestPollCall runs poll calls in a script on the Linux rules: POLLERR
// while the error is pending, gone once SO_ERROR has read it; POLLNVAL for
// a descriptor that is not open; a negative one ignored.
func TestPollCall(t *testing.T) {
	linux := Tundra()
	linux.StackDefaults = false
	if err := runScript(t, refusedThenPoll, RunOptions{Profile: &linux}); err != nil {
		t.Fatal(err)
	}
	// FreeBSD reports the pending error as readable and writable, with no
	// POLLERR.
	bsd := strings.Replace(refusedThenPoll, "revents=POLLIN|POLLOUT|POLLERR|POLLHUP|POLLRDHUP}", "revents=POLLIN|POLLOUT|POLLHUP|POLLRDHUP}", 1)
	bsd = strings.Replace(bsd, "O_RDWR | O_NONBLOCK", "O_NONBLOCK", 1)
	if err := runScript(t, bsd, RunOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestPollMismatches(t *testing.T) {
	linux := Tundra()
	linux.StackDefaults = false
	cases := []struct {
		name, from, to string
		line           int
		msg            string
	}{
		{"error still pending", "revents=POLLIN|POLLOUT|POLLHUP}", "revents=POLLIN|POLLOUT|POLLERR|POLLHUP}", 10,
			"fd 3: revents POLLIN|POLLOUT|POLLHUP, script expects POLLIN|POLLOUT|POLLERR|POLLHUP"},
		{"count", "revents=POLLIN|POLLOUT|POLLHUP}], 1, 0) = 1", "revents=POLLIN|POLLOUT|POLLHUP}], 1, 0) = 0", 10,
			"returned 1, script expects 0"},
		{"nfds", "revents=0}], 1, 0) = 0", "revents=0}], 2, 0) = 0", 6,
			"nfds 2 does not match the 1-element pollfd list"},
		{"field", "{fd=3, events=POLLIN|POLLOUT, revents=0}", "{fd=3, events=POLLIN|POLLOUT}", 6,
			"lacks revents"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			script := strings.Replace(refusedThenPoll, c.from, c.to, 1)
			if script == refusedThenPoll {
				t.Fatalf("replacement %q not found", c.from)
			}
			wantFailure(t, runScript(t, script, RunOptions{Profile: &linux}), c.line, c.msg)
		})
	}
}

// TestBlockingPoll: a poll with a timeout waits for an event, or returns 0
// when the timeout has passed. As in packetdrill, the line after a
// blocking call is timed from the call's start.
func TestBlockingPoll(t *testing.T) {
	linux := Tundra()
	linux.StackDefaults = false
	err := runScript(t, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <...>
+0...0.25 poll([{fd=3, events=POLLIN, revents=0}], 1, 250) = 0
+0.25...0.35 poll([{fd=3, events=POLLIN, revents=POLLIN|POLLERR|POLLHUP}], 1, -1) = 1
+0.1 < R. 0:0(0) ack 1 win 0
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0
`, RunOptions{Profile: &linux})
	if err != nil {
		t.Fatal(err)
	}
}
