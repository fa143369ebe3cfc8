package stack

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/pipe"
)

// gatedPump is a pipe end whose WaitPackets, once the gate is shut, does
// not return until it opens again: the pump cannot read while it is shut,
// so only a reader that polls the link can.
type gatedPump struct {
	*pipe.Endpoint
	shut   atomic.Bool
	opened chan struct{}
}

func (g *gatedPump) WaitPackets() error {
	err := g.Endpoint.WaitPackets()
	if err == nil && g.shut.Load() {
		<-g.opened
	}
	return err
}

// A reader that busy-polls reads the link itself: with the pump held off,
// requests that arrive while the echoing reader watches are taken from the
// endpoint and delivered on its own goroutine (BusyPollRxPackets), in
// order and complete.
func TestBusyPollReadsTheLink(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	gate := &gatedPump{opened: make(chan struct{})}
	wrap := func(x, y link.Endpoint) (link.Endpoint, link.Endpoint) {
		gate.Endpoint = y.(*pipe.Endpoint)
		return x, gate
	}
	// A budget far above any round trip, so that every request after the
	// first arrives while the echoing reader watches.
	a, b := stackPairWrapped(t, wrap, Options{}, Options{BusyPoll: 10 * time.Second})
	client, server := connPair(t, a, b)
	defer client.Close()
	defer func() {
		if gate.shut.Swap(false) {
			close(gate.opened)
		}
	}()
	// The reader must run without a read deadline, which turns the busy
	// poll off; a watchdog that closes the connection bounds the test.
	defer time.AfterFunc(30*time.Second, func() { client.Close() }).Stop()
	go func() {
		io.Copy(server, server)
		server.Close()
	}()
	const trips = 200
	buf := make([]byte, 16)
	for i := range trips {
		req := fmt.Appendf(nil, "request %06d", i)
		if _, err := client.Write(req); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(client, buf[:len(req)]); err != nil {
			t.Fatalf("trip %d: %v (BusyPollRxPackets %d)", i, err, b.Stats().TCP.BusyPollRxPackets)
		}
		if !bytes.Equal(buf[:len(req)], req) {
			t.Fatalf("trip %d: echoed %q, want %q", i, buf[:len(req)], req)
		}
		if i == 0 {
			// The echoing reader has answered once and now watches:
			// from here on the pump is held off.
			gate.shut.Store(true)
		}
	}
	if n := b.Stats().TCP.BusyPollRxPackets; n < trips-1 {
		t.Errorf("BusyPollRxPackets = %d after %d round trips with the pump held off, want at least %d", n, trips, trips-1)
	}
}

// countingPoller is a pipe end that counts how many goroutines are inside
// PollPackets at once, and how often packets were taken.
type countingPoller struct {
	*pipe.Endpoint
	inside, most atomic.Int32
}

func (c *countingPoller) PollPackets(pkts []link.Packet) (int, error) {
	in := c.inside.Add(1)
	for {
		m := c.most.Load()
		if in <= m || c.most.CompareAndSwap(m, in) {
			break
		}
	}
	runtime.Gosched() // widen the window a second poller would need
	n, err := c.Endpoint.PollPackets(pkts)
	c.inside.Add(-1)
	return n, err
}

// The pump and polling readers take turns on the link: never two in
// PollPackets at once (the batch and the order of delivery depend on it),
// and a bulk transfer in both directions under heavy polling arrives whole
// and in order.
func TestPollersTakeTurns(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	var pa, pb *countingPoller
	wrap := func(x, y link.Endpoint) (link.Endpoint, link.Endpoint) {
		pa = &countingPoller{Endpoint: x.(*pipe.Endpoint)}
		pb = &countingPoller{Endpoint: y.(*pipe.Endpoint)}
		return pa, pb
	}
	a, b := stackPair(t, wrap, Options{BusyPoll: time.Second})
	const conns, size = 4, 256 << 10
	done := make(chan error, 2*conns)
	for range conns {
		c1, c2 := connPair(t, a, b)
		// Each side writes a numbered stream and, answering, reads the
		// other's: both readers poll the link while the pumps run.
		for _, c := range []*TCPConn{c1, c2} {
			go func() {
				defer c.Close()
				want := make([]byte, size)
				for i := range want {
					want[i] = byte(i * 7)
				}
				errc := make(chan error, 1)
				go func() {
					_, err := c.Write(want)
					errc <- err
				}()
				got := make([]byte, size)
				// A watchdog, not a read deadline, which would turn the
				// busy poll off.
				defer time.AfterFunc(30*time.Second, func() { c.Close() }).Stop()
				if _, err := io.ReadFull(c, got); err != nil {
					done <- err
					return
				}
				if err := <-errc; err != nil {
					done <- err
					return
				}
				if !bytes.Equal(got, want) {
					done <- fmt.Errorf("stream arrived changed")
					return
				}
				done <- nil
			}()
		}
	}
	for range 2 * conns {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := a.Stats().TCP.BusyPollRxPackets + b.Stats().TCP.BusyPollRxPackets; n == 0 {
		t.Error("no reader polled the link")
	}
	if m := max(pa.most.Load(), pb.most.Load()); m != 1 {
		t.Errorf("%d goroutines were in PollPackets at once, want 1", m)
	}
}

// At most GOMAXPROCS-1 readers busy-poll at once (none with one
// processor); a reader
// that finds every slot taken parks without a watch, and without the
// backoff of a watch that found nothing.
func TestBusyPollSlots(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	a, b := stackPair(t, nil, Options{})
	if !b.startSpin() || !b.startSpin() {
		t.Fatal("with 3 processors, two readers may watch")
	}
	if b.startSpin() {
		t.Fatal("with 3 processors, a third reader watched")
	}
	b.spinners.Add(-2)
	runtime.GOMAXPROCS(1)
	if b.startSpin() {
		t.Fatal("with 1 processor, a reader watched")
	}
	runtime.GOMAXPROCS(3)
	b.startSpin()
	b.startSpin()
	client, server := connPair(t, a, b)
	defer client.Close()
	defer server.Close()
	// The server's reader is active (it wrote) but finds no slot: it
	// parks at once, keeping its state.
	if _, err := server.Write([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := server.Read(make([]byte, 8))
		done <- err
	}()
	time.Sleep(5 * time.Millisecond) // far past a watch's budget, had it watched
	server.mu.Lock()
	skip, back := server.spinSkip, server.spinBack
	server.mu.Unlock()
	if skip != 0 || back != 0 {
		t.Errorf("a reader without a slot backed off: skip %d, backoff %d; want 0, 0", skip, back)
	}
	client.Write([]byte("q"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	b.spinners.Add(-2)
	if !b.startSpin() {
		t.Fatal("no slot after the watchers gave theirs back")
	}
	b.spinners.Add(-1)
}
