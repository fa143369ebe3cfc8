package stack

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/tcp"
)

// TCPConn is a TCP connection of the stack. It implements net.Conn, and
// also CloseRead, CloseWrite and the socket options of *net.TCPConn.
//
// A TCPConn owns no goroutine: received segments are handled on the stack's
// pump goroutine, timers fire from the stack's Clock, and Read and Write
// run on the caller's goroutine. All three meet under the connection's
// mutex, around a tcp.Conn that holds the protocol state.
type TCPConn struct {
	s  *Stack
	t  *tcpTransport
	id tcp.FourTuple

	mu       sync.Mutex
	tcb      *tcp.Conn
	timer    clock.Timer
	timerAt  time.Time
	changes  changeSignal // for anyone waiting on the next change
	listener *TCPListener // set until the connection is handed to Accept
	queued   bool         // handed to the listener's accept queue
	estab    bool         // counted in CurrEstab
	closed   bool         // the application called Close
	gone     bool         // removed from the demultiplexer
	// Busy polling of a reader in use (see wait and spinForWake):
	active   bool          // Read returned data or Write sent some since the reader last parked
	spinSkip uint8         // active waits still to park without a spin (backoff)
	spinBack uint8         // the next backoff after a spin that finds nothing: 1, 2, 4 ... 64
	lingerAt time.Duration // SetLinger's positive value: how long Close waits
	errTaken bool          // PendingError has reported why the connection ended
	tos, ttl uint8         // IP header fields of its packets (SetTOS, SetTTL; ttl 0: Options.TTL)

	readDeadline, writeDeadline deadline
}

func newTCPConn(s *Stack, id tcp.FourTuple) *TCPConn {
	return newTCPConnISS(s, id, nil, s.tcpConfig())
}

// newTCPConnISS is newTCPConn with a floor for the initial sequence
// number (for a connection reopened from TIME-WAIT) and the connection's
// own configuration.
func newTCPConnISS(s *Stack, id tcp.FourTuple, minISS *tcp.Seq, cfg tcp.Config) *TCPConn {
	c := &TCPConn{s: s, t: s.tcp, id: id}
	iss := s.tcp.isn.ISN(id, s.clock.Now())
	if minISS != nil && iss.LessThan(*minISS) {
		iss = *minISS
	}
	c.tcb = tcp.NewConn(cfg, id, iss, (*connOutput)(c))
	c.ready()
	return c
}

// connOutput is the tcp.Output of one connection: its segments leave with
// its own TOS byte and TTL. It is the TCPConn itself under another type, so
// that SendSegment is not in TCPConn's method set.
type connOutput TCPConn

// SendSegment implements tcp.Output (called with the connection's lock
// held, from its tcp.Conn).
func (o *connOutput) SendSegment(id tcp.FourTuple, fields tcp.HeaderFields, payload tcp.Payload) {
	c := (*TCPConn)(o)
	c.t.sendSegment(id, fields, payload, c.tos, c.s.ttlOr(c.ttl), c)
}

// ready finishes a new connection once its tcp.Conn is set: the observer
// and the deadlines.
func (c *TCPConn) ready() {
	c.tcb.SetObserver(c)
	c.readDeadline.init(&c.mu, c.s.clock, c.wake)
	c.writeDeadline.init(&c.mu, c.s.clock, c.wake)
	c.readDeadline.wake = make(chan struct{}, 1)
	// The writer's token channel is made when a Write first has to wait
	// (most never do), so that an idle connection does not carry it.
}

// handleSegment gives the connection a received segment (pump goroutine).
func (c *TCPConn) handleSegment(seg tcp.Segment) {
	c.mu.Lock()
	c.tcb.HandleSegment(seg, c.s.clock.Now())
	c.afterEvent()
	c.mu.Unlock()
}

// retireForReopen ends a connection in TIME-WAIT that a new SYN with
// sequence number seq may reopen (RFC 1122 4.2.2.13): seq must lie beyond
// everything received on it, and the application must have closed the
// socket. A connection whose socket is still open (it only shut down its
// sending side) belongs to that socket until it is closed: the SYN is
// then handled by the connection like any other (RFC 9293 3.10.7.4,
// fourth step). It returns the smallest ISS the new incarnation may use:
// well past anything the old one sent.
func (c *TCPConn) retireForReopen(seq tcp.Seq) (minISS tcp.Seq, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone || !c.closed || c.tcb.State() != tcp.TimeWait {
		return 0, false
	}
	sndMax, rcvNxt := c.tcb.SequenceNumbers()
	if !seq.GreaterThan(rcvNxt) {
		return 0, false
	}
	c.finish()
	c.wake()
	return sndMax.Add(1 << 16), true
}

// onTimer runs when the connection's timer fires. The timer may fire
// before anything is due (armTimer leaves it early rather than moving it
// later); then it is only armed again.
func (c *TCPConn) onTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return
	}
	c.timerAt = time.Time{}
	now := c.s.clock.Now()
	if at, ok := c.tcb.Deadline(); !ok || now.Before(at) {
		c.armTimer()
		return
	}
	c.tcb.HandleTimer(now)
	c.afterEvent()
}

// afterEvent is called, with mu held, after anything that may have changed
// the tcp.Conn: it re-arms the timer, hands a newly established passive
// connection to its listener, forgets a closed one and wakes waiters.
func (c *TCPConn) afterEvent() {
	state := c.tcb.State()
	if state == tcp.Closed {
		c.finish()
	} else {
		c.armTimer()
	}
	if c.listener != nil && !c.queued && state != tcp.SynReceived && state != tcp.Listen {
		c.queued = true
		l := c.listener
		if state == tcp.Closed {
			// Reset before it was ever accepted: the listener forgets it.
			l.forget(c)
		} else {
			l.enqueue(c)
		}
	}
	c.wake()
}

// armTimer makes sure the connection's one clock timer fires no later
// than the tcp.Conn's next deadline. It only ever moves the timer earlier:
// a deadline that moved later, or went away, leaves the timer where it
// is, to fire early and be armed again by onTimer. Segments move the
// deadlines all the time (each one sent arms the retransmission timer,
// each ACK stops or moves it, data starts the delayed ACK that the
// answer clears), and every move of a runtime timer costs locks and, when
// it becomes the earliest, a wake-up of the thread waiting in the network
// poller; an early firing costs a callback once per deadline instead of
// once per segment. Linux's TCP does the same: inet_csk_clear_xmit_timer
// only marks the retransmission or delayed-ACK timer as not pending, and
// leaves it running for its handler to find nothing to do.
func (c *TCPConn) armTimer() {
	at, ok := c.tcb.Deadline()
	if !ok {
		return
	}
	if !c.timerAt.IsZero() && !at.Before(c.timerAt) {
		return
	}
	c.timerAt = at
	d := at.Sub(c.s.clock.Now())
	if c.timer == nil {
		c.timer = c.s.clock.AfterFunc(d, c.onTimer)
	} else {
		c.timer.Reset(d)
	}
}

// finish removes a CLOSED connection from the stack.
func (c *TCPConn) finish() {
	if c.gone {
		return
	}
	c.gone = true
	if c.timer != nil {
		c.timer.Stop()
	}
	c.t.unregister(c)
}

// wake releases every goroutine waiting for a change: a token for the
// reader and one for the writer (kept channels, so waking allocates
// nothing), and a broadcast for anyone else.
func (c *TCPConn) wake() {
	for _, ch := range [2]chan struct{}{c.readDeadline.wake, c.writeDeadline.wake} {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	c.changes.broadcast()
}

// changed returns a channel closed at the next change (mu held).
func (c *TCPConn) changed() <-chan struct{} { return c.changes.changed() }

// StateChanged implements tcp.Observer: it keeps the stack's counters.
func (c *TCPConn) StateChanged(id tcp.FourTuple, from, to tcp.State, cause tcp.Event) {
	ctr := &c.s.counters.tcp
	switch {
	case to == tcp.Established || to == tcp.CloseWait:
		if !c.estab {
			c.estab = true
			ctr.currEstab.add(1)
		}
	case from == tcp.Established || from == tcp.CloseWait:
		if c.estab {
			c.estab = false
			ctr.currEstab.add(^uint64(0))
		}
		if to == tcp.Closed {
			ctr.estabResets.inc()
		}
	case (from == tcp.SynSent || from == tcp.SynReceived) && to == tcp.Closed:
		ctr.attemptFails.inc()
	}
	if o := c.s.opts.Observer; o != nil {
		o.StateChanged(id, from, to, cause)
	}
}

// SegmentSent implements tcp.Observer.
func (c *TCPConn) SegmentSent(id tcp.FourTuple, f *tcp.HeaderFields, n int, retransmission bool) {
	if retransmission {
		c.s.counters.tcp.retransSegs.inc()
	}
	if f.Flags&tcp.FlagRST != 0 {
		c.s.counters.tcp.outRsts.inc()
	}
	if o := c.s.opts.Observer; o != nil {
		o.SegmentSent(id, f, n, retransmission)
	}
}

// SegmentReceived implements tcp.Observer.
func (c *TCPConn) SegmentReceived(id tcp.FourTuple, seg *tcp.Segment) {
	if o := c.s.opts.Observer; o != nil {
		o.SegmentReceived(id, seg)
	}
}

// Read reads data from the connection. It returns io.EOF after the peer's
// FIN, and a *net.OpError after a reset (wrapping syscall.ECONNRESET), a
// timeout (syscall.ETIMEDOUT) or a deadline (os.ErrDeadlineExceeded).
func (c *TCPConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.closed {
			return 0, c.opError("read", net.ErrClosed)
		}
		// A passed deadline fails the call even when data is waiting, as
		// the net package's sockets do.
		if c.readDeadline.expired() {
			return 0, c.opError("read", os.ErrDeadlineExceeded)
		}
		if len(p) == 0 {
			return 0, nil
		}
		n, err := c.tcb.Read(p, c.s.clock.Now())
		if n > 0 {
			c.active = true
		}
		if n > 0 || err != nil {
			c.afterEvent()
			if err == io.EOF {
				return n, io.EOF
			}
			if err != nil {
				return n, c.opError("read", err)
			}
			return n, nil
		}
		if err := c.wait(&c.readDeadline); err != nil {
			return 0, c.opError("read", err)
		}
	}
}

// waitReadable waits (mu held) until Read would not block, and returns
// how many bytes it would return now (0 at EOF or on an error, which Read
// then reports).
func (c *TCPConn) waitReadable() (int, error) {
	for {
		if c.closed {
			return 0, c.opError("read", net.ErrClosed)
		}
		if c.readDeadline.expired() {
			return 0, c.opError("read", os.ErrDeadlineExceeded)
		}
		if c.tcb.ReadReady() {
			return c.tcb.Readable(), nil
		}
		if err := c.wait(&c.readDeadline); err != nil {
			return 0, c.opError("read", err)
		}
	}
}

// copyBuffers lend WriteTo a buffer only while it has data to move.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// WriteTo writes everything the connection receives to w, until EOF or an
// error; io.Copy uses it when reading from a TCPConn. Unlike io.Copy's own
// loop it holds no buffer while the connection is idle: a buffer is
// borrowed from a pool only once data is waiting, so a server with many
// idle connections in io.Copy costs little memory per connection. The
// loop itself keeps a small stack frame (the copying is in moveTo), so
// that a goroutine parked here stays in the runtime's smallest stack.
func (c *TCPConn) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		c.mu.Lock()
		n, err := c.waitReadable()
		c.mu.Unlock()
		if err != nil {
			return total, err
		}
		k, done, err := c.moveTo(w, n)
		total += k
		if done || err != nil {
			return total, err
		}
	}
}

// moveTo reads what is waiting (n bytes; 0 at EOF or on an error) and
// writes it to w, for WriteTo. done reports the end of the stream: EOF,
// which WriteTo returns as a nil error.
func (c *TCPConn) moveTo(w io.Writer, n int) (moved int64, done bool, err error) {
	if n == 0 {
		// EOF or an error: let Read say which.
		var one [1]byte
		k, err := c.Read(one[:])
		if k > 0 {
			if _, werr := w.Write(one[:k]); werr != nil {
				return 0, true, werr
			}
			return int64(k), false, nil
		}
		if err == io.EOF {
			return 0, true, nil
		}
		return 0, true, err
	}
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	k, err := c.Read(*bp)
	if k > 0 {
		wk, werr := w.Write((*bp)[:k])
		moved = int64(wk)
		if werr == nil && wk < k {
			werr = io.ErrShortWrite
		}
		if werr != nil {
			return moved, true, werr
		}
	}
	if err == io.EOF {
		return moved, true, nil
	}
	return moved, err != nil, err
}

// Write writes all of p, waiting for room in the send buffer as needed.
func (c *TCPConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	written := 0
	for {
		if c.closed {
			return written, c.opError("write", net.ErrClosed)
		}
		if c.writeDeadline.expired() {
			return written, c.opError("write", os.ErrDeadlineExceeded)
		}
		if written == len(p) {
			return written, nil
		}
		n, err := c.tcb.Write(p[written:], c.s.clock.Now())
		written += n
		if n > 0 || err != nil {
			c.afterEvent()
		}
		if n > 0 {
			c.active = true
		}
		if err != nil {
			return written, c.opError("write", err)
		}
		if written == len(p) {
			return written, nil
		}
		if c.writeDeadline.wake == nil {
			c.writeDeadline.wake = make(chan struct{}, 1)
		}
		if err := c.wait(&c.writeDeadline); err != nil {
			return written, c.opError("write", err)
		}
	}
}

// wait blocks, with mu held on entry and exit, until the connection changes
// or the deadline passes.
func (c *TCPConn) wait(d *deadline) error {
	if d.expired() {
		return os.ErrDeadlineExceeded
	}
	if d.wake == nil || d.done() != nil {
		return c.waitSelect(d)
	}
	if c.active && d == &c.readDeadline && !c.s.opts.Manual && c.s.opts.BusyPoll > 0 {
		if woken := c.spin(d); woken {
			return nil
		}
	}
	// No deadline: wait for the token alone. A plain receive, in a
	// function without a select, needs much less stack than a select,
	// which keeps the goroutine of an idle connection (parked here in
	// io.Copy) within the runtime's smallest stack: the runtime starts
	// goroutines with the average stack in use, so this is also what
	// every new connection's goroutine gets. Stack.Close needs no case of
	// its own: it aborts every registered connection, which wakes this.
	c.mu.Unlock()
	<-d.wake
	c.mu.Lock()
	return nil
}

// spin is wait's busy poll (mu held on entry and exit): a reader in use -
// its last Read returned data, or it has written since - is likely in a
// request-response exchange or a stream, so it watches for its next data
// for up to Options.BusyPoll before parking, reading the link itself
// meanwhile. It reports whether the wake token came. A watch that runs out
// makes the next 1, 2, 4 ... 64 active waits park at once, so that a peer
// slower than the budget costs little CPU; a token that comes while
// watching resets that backoff. A connection that has carried no data
// since its reader last parked (an idle one) never watches.
func (c *TCPConn) spin(d *deadline) bool {
	if c.spinSkip > 0 {
		c.spinSkip--
		c.active = false
		return false
	}
	if !c.s.startSpin() {
		return false // enough readers watch already: park, no backoff
	}
	c.mu.Unlock()
	woken, waited := c.s.spinForWake(d.wake, c.s.opts.BusyPoll)
	c.s.spinners.Add(-1)
	c.mu.Lock()
	switch {
	case woken && waited:
		c.spinBack = 0
	case !woken:
		c.active = false
		c.spinBack = min(max(2*c.spinBack, 1), 64)
		c.spinSkip = c.spinBack
	}
	// A token taken at the first look is the reader's own Write's: the
	// reader looks again and, still active, watches once more.
	return woken
}

// startSpin takes one of the stack's watching slots, if one is free: at
// most GOMAXPROCS-1 readers watch at once, so that busy polling never
// holds every processor, however many connections are in use - and with
// one processor none watches, for the pump could not run meanwhile (the
// network is polled when a processor has nothing else to do). The watcher
// gives its slot back with spinners.Add(-1).
func (s *Stack) startSpin() bool {
	limit := int32(runtime.GOMAXPROCS(0) - 1)
	if s.spinners.Add(1) > limit {
		s.spinners.Add(-1)
		return false
	}
	return true
}

// spinProcessorOnly is how long a busy poll yields only the processor
// before it also yields the CPU: a peer in the same process (two stacks
// over link/pipe) answers within a few microseconds, and a sched_yield(2)
// per look would only delay its answer being seen.
const spinProcessorOnly = 10 * time.Microsecond

// spinForWake watches wake for at most budget, reading the link itself
// between looks (pollLink) and yielding the processor to other goroutines
// and the CPU to other threads. woken reports that it took the token;
// waited, that it was not there at the first look.
//
// A goroutine parked in a channel receive is made runnable by the pump's
// send, and the Go runtime then wakes a second thread to look for work
// (runtime.ready -> wakep -> futexwakeup), which finds none and sleeps
// again; and a thread that sleeps lets its CPU halt, which in a virtual
// machine makes the next wake-up an interrupt through the hypervisor
// (docs/performance.md: half of a round trip on the benchmark machine). A
// reader that is still running when its data arrives takes it with none
// of that, and one that reads the link itself does not even wait for the
// pump to be woken: the request is read, delivered and handed over on one
// goroutine. This is Linux's busy polling (SO_BUSY_POLL, which polls the
// device's queue from the socket's system call) at the level of
// goroutines; sched_yield(2) between looks lets the peer, if it shares
// this CPU, answer meanwhile. The caller holds a watching slot
// (startSpin).
func (s *Stack) spinForWake(wake <-chan struct{}, budget time.Duration) (woken, waited bool) {
	start := time.Now()
	for {
		select {
		case <-wake:
			return true, waited
		default:
		}
		spun := time.Since(start)
		if spun > budget {
			return false, true
		}
		waited = true
		if s.pollLink() {
			continue // look for the token at once
		}
		runtime.Gosched()
		if spun > spinProcessorOnly {
			yieldCPU()
		}
	}
}

// waitSelect is wait with a deadline, or without a token channel of its
// own (Close's linger).
func (c *TCPConn) waitSelect(d *deadline) error {
	var ch <-chan struct{} = d.wake
	if d.wake == nil {
		ch = c.changed()
	}
	dl := d.done()
	c.mu.Unlock()
	select {
	case <-ch:
	case <-dl:
	case <-c.s.closed:
	}
	c.mu.Lock()
	if d.expired() {
		return os.ErrDeadlineExceeded
	}
	return nil
}

// Close closes the connection. By default the close is graceful: a FIN
// follows the data still buffered, which the stack keeps sending after
// Close returns. After SetLinger(0) it resets the connection instead; after
// SetLinger(d) with d > 0 it waits up to d for the data to be acknowledged.
func (c *TCPConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opError("close", net.ErrClosed)
	}
	c.closed = true
	c.tcb.Close(c.s.clock.Now())
	c.afterEvent()
	if c.lingerAt > 0 {
		var d deadline
		d.init(&c.mu, c.s.clock, c.wake)
		d.set(c.s.clock.Now().Add(c.lingerAt))
		for c.tcb.Stats().SendBuffered > 0 && c.tcb.State() != tcp.Closed {
			if c.wait(&d) != nil {
				break
			}
		}
		d.set(time.Time{})
	}
	c.readDeadline.set(time.Time{})
	c.writeDeadline.set(time.Time{})
	return nil
}

// CloseRead shuts down the reading side: Read returns io.EOF, arriving
// data is acknowledged and discarded.
func (c *TCPConn) CloseRead() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opError("close", net.ErrClosed)
	}
	c.tcb.Shutdown(tcp.ShutdownRead, c.s.clock.Now())
	c.afterEvent()
	return nil
}

// CloseWrite shuts down the writing side: a FIN follows the buffered data
// (a half-close), and the connection can still read.
func (c *TCPConn) CloseWrite() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opError("close", net.ErrClosed)
	}
	c.tcb.Shutdown(tcp.ShutdownWrite, c.s.clock.Now())
	c.afterEvent()
	return nil
}

// abort resets the connection from the stack's side (Stack.Close, a failed
// or cancelled dial).
func (c *TCPConn) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tcb.Abort(c.s.clock.Now())
	c.afterEvent()
}

// LocalAddr returns the local address, a *net.TCPAddr (a new one each
// call: a connection does not keep them, to stay small while idle).
func (c *TCPConn) LocalAddr() net.Addr { return c.localTCPAddr() }

// RemoteAddr returns the peer's address, a *net.TCPAddr (a new one each
// call).
func (c *TCPConn) RemoteAddr() net.Addr { return c.remoteTCPAddr() }

func (c *TCPConn) localTCPAddr() *net.TCPAddr {
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4(c.id.LocalAddr), c.id.LocalPort))
}

func (c *TCPConn) remoteTCPAddr() *net.TCPAddr {
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4(c.id.RemoteAddr), c.id.RemotePort))
}

// SetDeadline sets both the read and the write deadline.
func (c *TCPConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline for Read calls, pending ones included;
// zero means none.
func (c *TCPConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opError("set", net.ErrClosed)
	}
	c.readDeadline.set(t)
	return nil
}

// SetWriteDeadline sets the deadline for Write calls; zero means none.
func (c *TCPConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opError("set", net.ErrClosed)
	}
	c.writeDeadline.set(t)
	return nil
}

// SetNoDelay turns the Nagle algorithm off (true: small writes go out at
// once; the default, as for Go's own TCP connections, unless
// Options.Nagle is set) or on (false).
func (c *TCPConn) SetNoDelay(noDelay bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tcb.SetNoDelay(noDelay, c.s.clock.Now())
	c.afterEvent()
	return nil
}

// SetKeepAlive turns keepalive probes on or off.
func (c *TCPConn) SetKeepAlive(on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tcb.SetKeepAlive(on, 0, 0, 0, c.s.clock.Now())
	c.afterEvent()
	return nil
}

// SetKeepAlivePeriod sets both the idle time before the first probe and
// the interval between probes, as *net.TCPConn does.
func (c *TCPConn) SetKeepAlivePeriod(d time.Duration) error {
	if d <= 0 {
		return c.opError("set", syscall.EINVAL)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg := c.tcb.Config()
	c.tcb.SetKeepAlive(cfg.KeepAlive, d, d, 0, c.s.clock.Now())
	c.afterEvent()
	return nil
}

// SetLinger sets what Close does, as *net.TCPConn.SetLinger: sec < 0 (the
// default) closes gracefully in the background; sec == 0 resets the
// connection, discarding unsent data; sec > 0 makes Close wait up to sec
// seconds for unsent data to be acknowledged, then close gracefully.
func (c *TCPConn) SetLinger(sec int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case sec < 0:
		c.tcb.SetLinger(-1)
		c.lingerAt = 0
	case sec == 0:
		c.tcb.SetLinger(0)
		c.lingerAt = 0
	default:
		c.tcb.SetLinger(-1)
		c.lingerAt = time.Duration(sec) * time.Second
	}
	return nil
}

// State returns the connection's RFC 9293 state.
func (c *TCPConn) State() tcp.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcb.State()
}

// Stats returns the connection's counters and estimates (like `ss -ti`).
func (c *TCPConn) Stats() tcp.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcb.Stats()
}

// opError wraps err the way the net package does: errno values inside an
// *os.SyscallError, all inside a *net.OpError.
func (c *TCPConn) opError(op string, err error) error {
	var te *tcp.Error
	if errors.As(err, &te) {
		err = os.NewSyscallError(op, te.Errno())
	} else if errno, ok := err.(syscall.Errno); ok {
		err = os.NewSyscallError(op, errno)
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.localTCPAddr(), Addr: c.remoteTCPAddr(), Err: err}
}
