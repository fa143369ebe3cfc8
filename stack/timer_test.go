package stack

import (
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/tundra-net/tundra/tcp"
)

// A connection's one clock timer never fires later than the tcp.Conn's
// next deadline, but may fire earlier: a deadline that moved later (here:
// data arms the delayed ACK, the answer clears it and arms the
// retransmission timer) leaves the timer where it was. The early firing
// sends nothing and only arms the timer again; what is due is still sent
// exactly when it is due.
func TestTimerFiresEarlyAndSendsOnTime(t *testing.T) {
	w := newFuzzWorld(t)
	c := w.conn
	noneSent := func() {
		t.Helper()
		if n, _ := w.peer.PollPackets(w.outBatch[:1]); n != 0 {
			t.Fatalf("at %v the stack sent a packet: % x", w.clk.Now(), w.outBatch[0].Data[:min(40, len(w.outBatch[0].Data))])
		}
	}
	timer := func() (armed, due time.Time) {
		c.mu.Lock()
		defer c.mu.Unlock()
		due, _ = c.tcb.Deadline()
		return c.timerAt, due
	}
	// The peer sends a request; the stack delays its ACK.
	req := []byte("request")
	w.deliver(w.tcpPacket(tcp.HeaderFields{SrcPort: fuzzRemotePort, DstPort: fuzzLocalPort,
		Seq: w.peerMax, Ack: w.stackISS + 1, Flags: tcp.FlagACK | tcp.FlagPSH, Window: 1024}, nil, req))
	noneSent()
	if armed, due := timer(); armed.IsZero() || !armed.Equal(due) {
		t.Fatalf("after data: timer at %v, deadline %v; want the delayed ACK's deadline", armed, due)
	}
	// The application answers: the answer carries the ACK, and the
	// retransmission timer, due later than the delayed ACK was, is armed.
	buf := make([]byte, 64)
	if n, err := c.Read(buf); err != nil || n != len(req) {
		t.Fatalf("Read = %d, %v", n, err)
	}
	if _, err := c.Write([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	answer := w.readOne()
	armed, due := timer()
	if !armed.Before(due) {
		t.Fatalf("timer at %v, deadline %v: want the timer left at the earlier delayed-ACK time", armed, due)
	}
	// The early firing sends nothing and arms the timer for the deadline.
	w.clk.AdvanceTo(armed)
	noneSent()
	if again, due2 := timer(); !again.Equal(due) || !due2.Equal(due) {
		t.Fatalf("after the early firing: timer at %v, deadline %v; want both at %v", again, due2, due)
	}
	// Just before the deadline nothing goes out; at it, the answer is sent
	// again (a tail loss probe or a retransmission, whichever is due).
	w.clk.AdvanceTo(due.Add(-time.Microsecond))
	noneSent()
	w.clk.AdvanceTo(due)
	resent := w.readOne()
	if resent.Seq != answer.Seq || string(resent.Payload) != "answer" {
		t.Fatalf("at the deadline: sent seq %v %q, want the answer (seq %v) again", resent.Seq, resent.Payload, answer.Seq)
	}
}

// A reader in use (it read data, or wrote) watches for its next data
// before parking (busy polling), but one whose watch finds nothing backs
// off: the next active wait parks at once, so a slow or idle peer costs
// little CPU. A connection that carried no data never watches.
func TestBusyPollBacksOff(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2)) // no reader watches with one
	}
	a, s := stackPair(t, nil, Options{})
	c1, c2 := connPair(t, a, s)
	defer c1.Close()
	defer c2.Close()
	state := func() (active bool, skip, back uint8) {
		c2.mu.Lock()
		defer c2.mu.Unlock()
		return c2.active, c2.spinSkip, c2.spinBack
	}
	// waitParked waits until c2's reader has given up watching.
	waitParked := func(wantSkip, wantBack uint8) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			active, skip, back := state()
			if !active && skip == wantSkip && back == wantBack {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("reader state: active %v, skip %d, backoff %d; want false, %d, %d", active, skip, back, wantSkip, wantBack)
			}
		}
	}
	read := func() chan error {
		done := make(chan error, 1)
		go func() {
			buf := make([]byte, 8)
			_, err := c2.Read(buf)
			done <- err
		}()
		return done
	}
	if active, _, _ := state(); active {
		t.Fatal("active before any data")
	}
	// An idle reader parks without watching: no backoff is recorded.
	done := read()
	time.Sleep(5 * time.Millisecond) // far past a watch's budget
	if active, skip, back := state(); active || skip != 0 || back != 0 {
		t.Fatalf("idle reader: active %v, skip %d, backoff %d; want false, 0, 0", active, skip, back)
	}
	c1.Write([]byte("q"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if active, _, _ := state(); !active {
		t.Fatal("not active after a Read returned data")
	}
	// The peer sends nothing more: the watch runs out and backs off by one.
	done = read()
	waitParked(1, 1)
	c1.Write([]byte("q"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The next active wait parks without watching, using up the skip.
	if _, err := c2.Write([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	if active, _, _ := state(); !active {
		t.Fatal("not active after a Write")
	}
	done = read()
	waitParked(0, 1)
	c1.Write([]byte("q"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestBusyPollOff: with a negative Options.BusyPoll an active reader
// parks at once: it never watches, so no backoff is ever recorded.
func TestBusyPollOff(t *testing.T) {
	a, s := stackPair(t, nil, Options{BusyPoll: -1})
	c1, c2 := connPair(t, a, s)
	defer c1.Close()
	defer c2.Close()
	buf := make([]byte, 8)
	for range 3 {
		if _, err := c2.Write([]byte("answer")); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, err := c2.Read(buf); done <- err }()
		time.Sleep(5 * time.Millisecond) // far past a watch's budget
		c2.mu.Lock()
		skip, back := c2.spinSkip, c2.spinBack
		c2.mu.Unlock()
		if skip != 0 || back != 0 {
			t.Fatalf("busy poll off, yet a watch ran out: skip %d, backoff %d", skip, back)
		}
		c1.Write([]byte("q"))
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c1, make([]byte, 6)); err != nil {
			t.Fatal(err)
		}
	}
}
