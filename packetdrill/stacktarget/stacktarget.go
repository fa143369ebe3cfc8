// Package stacktarget runs packetdrill scripts against tundra's own stack:
// it implements packetdrill.Target on a stack.Stack in manual mode, with an
// in-memory link whose writes the runner collects and a virtual clock the
// runner advances.
//
// The stack gives programs Go sockets (net.Conn, net.Listener), which
// block; the runner needs socket calls that return at once, as on a
// non-blocking BSD socket. This package bridges the two without guessing
// at timing:
//
//   - Read and Write run with a deadline equal to the virtual "now", so they
//     take what is ready and return os.ErrDeadlineExceeded (EAGAIN)
//     instead of waiting.
//   - The stack's tcp.Observer hook reports every state change, on the
//     goroutine that causes it. From it the target knows each connection's
//     state (for Info, Poll, SO_ERROR and sockstat) and how many
//     connections wait in a listener's accept queue, so Accept is called
//     only when it cannot block.
//   - Connect runs DialTCP on its own goroutine (packetdrill runs blocking
//     calls on a thread of their own too). The target waits until that
//     goroutine has sent its SYN and armed its retransmission timer, and
//     later collects its result only once the observer has seen the
//     handshake end, when DialTCP is about to return. No result depends on
//     goroutine scheduling or the wall clock; a 10 s wall-clock bound only
//     turns a stack that never arms its timer into an error.
package stacktarget

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/packetdrill"
	"github.com/tundra-net/tundra/stack"
	"github.com/tundra-net/tundra/tcp"
)

// New is a packetdrill.TargetFactory for tundra's stack.
func New(cfg packetdrill.TargetConfig) (packetdrill.Target, error) {
	if !cfg.Local.Is4() || !cfg.Remote.Is4() {
		return nil, errors.New("stacktarget: IPv4 addresses required")
	}
	t := &Target{
		cfg:    cfg,
		link:   &captureLink{mtu: cfg.MTU, closed: make(chan struct{})},
		socks:  map[int]*socket{},
		states: map[tcp.FourTuple]tcp.State{},
		next:   100,
	}
	t.obs = &observer{t: t}
	return t, nil
}

// Target is tundra's stack seen by the packetdrill runner. Create it with
// New; the runner calls its methods from one goroutine.
type Target struct {
	cfg   packetdrill.TargetConfig
	link  *captureLink
	obs   *observer
	st    *stack.Stack
	tcpCf tcp.Config // the configuration the stack was created with
	socks map[int]*socket
	next  int

	// mu guards the fields the observer updates: it runs on whichever
	// goroutine drives the connection (the runner's, or a dial's).
	mu       sync.Mutex
	states   map[tcp.FourTuple]tcp.State // connections the stack holds
	passive  map[tcp.FourTuple]bool      // connections a listener created
	queued   map[uint16]int              // per listening port: established, not accepted
	resetErr map[tcp.FourTuple]syscall.Errno
	synSent  chan tcp.FourTuple // a dial's SYN, while Connect waits for it
}

// socket is one handle of the script.
type socket struct {
	port     uint16 // bound port
	listener *stack.TCPListener
	conn     *stack.TCPConn
	dial     *dialing
	soErr    syscall.Errno
	reuse    int
}

// dialing is a DialTCP running on its own goroutine.
type dialing struct {
	id     tcp.FourTuple
	cancel context.CancelFunc
	done   chan struct{}
	conn   *stack.TCPConn
	err    error
}

// tcpConfig maps the profile onto the stack's TCP configuration. Profile
// fields the stack has no setting for (SACK, ECN, RFC 5961 switches,
// SYN cookies, ...) are left to show in the packets it sends: the scripts
// check those, so nothing is hidden by ignoring them here.
func tcpConfig(p packetdrill.Profile) tcp.Config {
	c := tcp.DefaultConfig()
	c.MSS = p.MSS()
	c.ReceiveBufferSize = p.ReceiveBuffer
	c.ReassemblyLimit = p.ReceiveBuffer
	c.SendBufferSize = p.SendBuffer
	c.WindowScale = p.WindowScaleAndTimestamps
	c.InitialRTO = p.InitialRTO
	c.MSL = p.MSL
	c.DelayedAck = p.DelayedACK
	c.KeepAliveIdle = p.KeepIdle
	c.KeepAliveInterval = p.KeepIntvl
	c.KeepAliveCount = p.KeepCnt
	return c
}

// Configure creates the stack on the first call. The stack takes its TCP
// configuration when it is created, so a later change of a setting it
// uses is reported as an error.
func (t *Target) Configure(p packetdrill.Profile) error {
	cf := tcpConfig(p)
	if t.st != nil {
		if cf != t.tcpCf {
			return errors.New("the stack's TCP configuration cannot change after the first socket call")
		}
		return nil
	}
	st, err := stack.New(t.link, stack.Options{
		Addresses: []netip.Addr{t.cfg.Local},
		Clock:     t.cfg.Clock,
		TCP:       cf,
		Observer:  t.obs,
		Manual:    true,
	})
	if err != nil {
		return err
	}
	t.st, t.tcpCf = st, cf
	return nil
}

// Inject delivers one packet synchronously.
func (t *Target) Inject(pkt []byte) error {
	if t.st == nil {
		return errors.New("stacktarget: Inject before Configure")
	}
	buf := append([]byte(nil), pkt...)
	t.st.DeliverPackets([]link.Packet{{Data: buf}})
	return nil
}

// Outbound returns what the stack wrote to the link.
func (t *Target) Outbound() [][]byte { return t.link.take() }

// Socket creates a handle; the stack has no socket until bind+listen or
// connect.
func (t *Target) Socket() (int, syscall.Errno) {
	t.next++
	t.socks[t.next] = &socket{}
	return t.next, 0
}

func (t *Target) sock(h int) (*socket, syscall.Errno) {
	s, ok := t.socks[h]
	if !ok {
		return nil, syscall.EBADF
	}
	return s, 0
}

// Bind records the port; the stack binds when Listen is called.
func (t *Target) Bind(h int, addr netip.AddrPort) syscall.Errno {
	s, e := t.sock(h)
	if e != 0 {
		return e
	}
	if s.port != 0 || s.listener != nil || s.conn != nil || s.dial != nil {
		return syscall.EINVAL
	}
	if addr.Addr() != t.cfg.Local {
		return syscall.EADDRNOTAVAIL
	}
	s.port = addr.Port()
	return 0
}

// Listen opens a stack listener on the bound port.
func (t *Target) Listen(h int, backlog int) syscall.Errno {
	s, e := t.sock(h)
	if e != 0 {
		return e
	}
	if s.listener != nil {
		return 0
	}
	if s.conn != nil || s.dial != nil {
		return syscall.EINVAL
	}
	l, err := t.st.ListenTCP(netip.AddrPortFrom(t.cfg.Local, s.port), backlog)
	if err != nil {
		return errnoOf(err)
	}
	s.listener = l
	return 0
}

// Accept takes a connection the observer saw complete its handshake.
func (t *Target) Accept(h int) (int, syscall.Errno) {
	s, e := t.sock(h)
	if e != 0 {
		return -1, e
	}
	if s.listener == nil {
		return -1, syscall.EINVAL
	}
	t.mu.Lock()
	ready := t.queued[s.port] > 0
	if ready {
		t.queued[s.port]--
	}
	t.mu.Unlock()
	if !ready {
		return -1, syscall.EAGAIN
	}
	c, err := s.listener.AcceptTCP() // does not block: the queue holds one
	if err != nil {
		return -1, errnoOf(err)
	}
	t.next++
	t.socks[t.next] = &socket{conn: c}
	return t.next, 0
}

// Connect starts DialTCP on a goroutine and returns EINPROGRESS once that
// goroutine has sent its SYN and armed the retransmission timer, so that
// nothing it does afterwards can change what the runner sees; or the
// dial's own result if it ended first.
func (t *Target) Connect(h int, addr netip.AddrPort) syscall.Errno {
	s, e := t.sock(h)
	if e != 0 {
		return e
	}
	switch {
	case s.conn != nil:
		return syscall.EISCONN
	case s.dial != nil:
		return syscall.EALREADY
	case s.listener != nil:
		return syscall.EINVAL
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &dialing{cancel: cancel, done: make(chan struct{})}
	synSent := make(chan tcp.FourTuple, 1)
	t.mu.Lock()
	t.synSent = synSent
	t.mu.Unlock()
	timers := t.cfg.Clock.Pending()
	go func() {
		d.conn, d.err = t.st.DialTCP(ctx, addr)
		close(d.done)
	}()
	defer func() {
		t.mu.Lock()
		t.synSent = nil
		t.mu.Unlock()
	}()
	select {
	case d.id = <-synSent:
	case <-d.done:
		cancel()
		if d.err != nil {
			return errnoOf(d.err)
		}
		s.conn = d.conn
		return 0
	}
	// The SYN is out (the observer heard SYN-SENT, which the stack reports
	// from inside Connect); wait for the timer DialTCP arms right after.
	// This is a handful of instructions away; the bound only turns a stack
	// bug into an error instead of a hang.
	limit := time.Now().Add(dialBound)
	for t.cfg.Clock.Pending() <= timers {
		select {
		case <-d.done:
		default:
			if time.Now().After(limit) {
				cancel()
				return syscall.EIO
			}
			runtime.Gosched()
			continue
		}
		break
	}
	s.dial = d
	return syscall.EINPROGRESS
}

// settleDial collects a dial whose handshake has ended: the observer saw
// the connection leave SYN-SENT and SYN-RECEIVED, so DialTCP is returning.
func (t *Target) settleDial(s *socket) {
	d := s.dial
	if d == nil {
		return
	}
	t.mu.Lock()
	state, known := t.states[d.id]
	t.mu.Unlock()
	if known && (state == tcp.SynSent || state == tcp.SynReceived) {
		return
	}
	if !awaitDial(d) {
		s.dial, s.soErr = nil, syscall.EIO
		return
	}
	d.cancel()
	s.dial = nil
	if d.err != nil {
		s.soErr = errnoOf(d.err)
		return
	}
	s.conn = d.conn
}

// dialBound bounds, in wall-clock time, a wait for DialTCP to return once
// it must; it only turns a stack bug into an error instead of a hang.
const dialBound = 10 * time.Second

// awaitDial waits for a dial that is returning; false means it did not.
func awaitDial(d *dialing) bool {
	select {
	case <-d.done:
		return true
	case <-time.After(dialBound):
		return false
	}
}

// Read reads what is ready, without waiting.
func (t *Target) Read(h int, buf []byte) (int, syscall.Errno) {
	s, e := t.sock(h)
	if e != 0 {
		return -1, e
	}
	t.settleDial(s)
	if s.conn == nil {
		if s.dial != nil {
			return -1, syscall.EAGAIN
		}
		return -1, syscall.ENOTCONN
	}
	s.conn.SetReadDeadline(t.cfg.Clock.Now())
	n, err := s.conn.Read(buf)
	s.conn.SetReadDeadline(time.Time{})
	switch {
	case err == nil, n > 0:
		return n, 0
	case errors.Is(err, io.EOF):
		return 0, 0
	}
	return -1, errnoOf(err)
}

// Write queues what fits, without waiting.
func (t *Target) Write(h int, data []byte) (int, syscall.Errno) {
	s, e := t.sock(h)
	if e != 0 {
		return -1, e
	}
	t.settleDial(s)
	if s.conn == nil {
		if s.dial != nil {
			return -1, syscall.EAGAIN
		}
		return -1, syscall.ENOTCONN
	}
	s.conn.SetWriteDeadline(t.cfg.Clock.Now())
	n, err := s.conn.Write(data)
	s.conn.SetWriteDeadline(time.Time{})
	if err == nil || n > 0 {
		return n, 0
	}
	return -1, errnoOf(err)
}

// Shutdown maps to CloseRead and CloseWrite.
func (t *Target) Shutdown(h int, how packetdrill.ShutdownHow) syscall.Errno {
	s, e := t.sock(h)
	if e != 0 {
		return e
	}
	t.settleDial(s)
	if s.conn == nil {
		return syscall.ENOTCONN
	}
	if how == packetdrill.ShutRD || how == packetdrill.ShutRDWR {
		if err := s.conn.CloseRead(); err != nil {
			return errnoOf(err)
		}
	}
	if how == packetdrill.ShutWR || how == packetdrill.ShutRDWR {
		if err := s.conn.CloseWrite(); err != nil {
			return errnoOf(err)
		}
	}
	return 0
}

// Close closes the handle. A connect still in progress is abandoned, as
// close() in SYN-SENT does (RFC 9293 section 3.10.4).
func (t *Target) Close(h int) syscall.Errno {
	s, e := t.sock(h)
	if e != 0 {
		return e
	}
	delete(t.socks, h)
	t.settleDial(s)
	if d := s.dial; d != nil {
		d.cancel()
		if !awaitDial(d) {
			return syscall.EIO
		}
		if d.conn != nil {
			s.conn = d.conn
		}
	}
	var err error
	switch {
	case s.listener != nil:
		err = s.listener.Close()
	case s.conn != nil:
		err = s.conn.Close()
	}
	if err != nil {
		return errnoOf(err)
	}
	return 0
}

// GetSockOpt reports buffer sizes from the stack's configuration and the
// pending error from what the observer saw.
func (t *Target) GetSockOpt(h int, opt packetdrill.SockOpt) (int, syscall.Errno) {
	s, e := t.sock(h)
	if e != 0 {
		return 0, e
	}
	t.settleDial(s)
	switch opt {
	case packetdrill.SoRcvBuf:
		return t.tcpCf.ReceiveBufferSize, 0
	case packetdrill.SoSndBuf:
		return t.tcpCf.SendBufferSize, 0
	case packetdrill.SoReuseAddr:
		return s.reuse, 0
	case packetdrill.SoError:
		errno := s.soErr
		s.soErr = 0
		if errno == 0 && s.conn != nil {
			errno = t.takeResetErr(s.conn)
		}
		return int(errno), 0
	}
	return 0, syscall.ENOPROTOOPT
}

// SetSockOpt supports the options the stack has.
func (t *Target) SetSockOpt(h int, opt packetdrill.SockOpt, value int) syscall.Errno {
	s, e := t.sock(h)
	if e != 0 {
		return e
	}
	switch opt {
	case packetdrill.SoReuseAddr:
		s.reuse = value
		return 0
	case packetdrill.TCPNoDelay:
		if s.conn == nil {
			return syscall.EINVAL
		}
		return errnoOf(s.conn.SetNoDelay(value != 0))
	}
	return syscall.ENOPROTOOPT
}

// Poll reports readiness from the observed state.
func (t *Target) Poll(h int) packetdrill.PollEvents {
	s, e := t.sock(h)
	if e != 0 {
		return packetdrill.PollEvents{Error: true}
	}
	t.settleDial(s)
	switch {
	case s.dial != nil:
		return packetdrill.PollEvents{}
	case s.listener != nil:
		t.mu.Lock()
		defer t.mu.Unlock()
		return packetdrill.PollEvents{Readable: t.queued[s.port] > 0}
	case s.conn == nil:
		return packetdrill.PollEvents{Error: s.soErr != 0, HangUp: true}
	}
	st := s.conn.Stats()
	return packetdrill.PollEvents{
		Readable: st.ReceiveBuffered > 0 || st.State == tcp.CloseWait || st.State == tcp.Closed,
		Writable: st.State == tcp.Established || st.State == tcp.CloseWait,
		Error:    s.soErr != 0,
		HangUp:   st.State == tcp.Closed,
	}
}

// Info reports state and negotiated options. The stack reports window
// scaling; it does not report timestamps, SACK or ECN as negotiated.
func (t *Target) Info(h int) packetdrill.TCPInfo {
	s, e := t.sock(h)
	if e != 0 {
		return packetdrill.TCPInfo{}
	}
	t.settleDial(s)
	switch {
	case s.listener != nil:
		return packetdrill.TCPInfo{State: packetdrill.Listen}
	case s.dial != nil:
		t.mu.Lock()
		defer t.mu.Unlock()
		return packetdrill.TCPInfo{State: convertState(t.states[s.dial.id])}
	case s.conn == nil:
		return packetdrill.TCPInfo{State: packetdrill.Closed}
	}
	st := s.conn.Stats()
	return packetdrill.TCPInfo{
		State:       convertState(st.State),
		WindowScale: st.SendWindowShift >= 0 && st.RecvWindowShift >= 0,
	}
}

// Connections lists every connection the stack holds, every listener, and
// every handle without a live connection (as CLOSED, the way sockstat
// shows such sockets).
func (t *Target) Connections() []packetdrill.TCPState {
	var out []packetdrill.TCPState
	t.mu.Lock()
	for _, st := range t.states {
		out = append(out, convertState(st))
	}
	t.mu.Unlock()
	for _, s := range t.socks {
		t.settleDial(s)
		switch {
		case s.listener != nil:
			out = append(out, packetdrill.Listen)
		case s.dial == nil && (s.conn == nil || s.conn.State() == tcp.Closed):
			out = append(out, packetdrill.Closed)
		}
	}
	return out
}

// Release closes the stack.
func (t *Target) Release() {
	for _, s := range t.socks {
		if s.dial != nil {
			s.dial.cancel()
		}
	}
	if t.st != nil {
		t.st.Close()
	}
	for _, s := range t.socks {
		if s.dial != nil {
			awaitDial(s.dial)
		}
	}
}

// takeResetErr returns (once) the error a reset or timeout left on an
// established connection.
func (t *Target) takeResetErr(c *stack.TCPConn) syscall.Errno {
	id := fourTuple(c)
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.resetErr[id]
	delete(t.resetErr, id)
	return e
}

func fourTuple(c *stack.TCPConn) tcp.FourTuple {
	l := c.LocalAddr().(*net.TCPAddr).AddrPort()
	r := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	return tcp.FourTuple{LocalAddr: l.Addr().As4(), RemoteAddr: r.Addr().As4(), LocalPort: l.Port(), RemotePort: r.Port()}
}

// observer mirrors connection states as the stack reports them.
type observer struct{ t *Target }

// StateChanged records the new state; it counts connections entering a
// listener's accept queue and remembers why a connection failed.
func (o *observer) StateChanged(id tcp.FourTuple, from, to tcp.State, cause tcp.Event) {
	t := o.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.passive == nil {
		t.passive = map[tcp.FourTuple]bool{}
		t.queued = map[uint16]int{}
		t.resetErr = map[tcp.FourTuple]syscall.Errno{}
	}
	if to == tcp.SynReceived && (from == tcp.Listen || from == tcp.Closed) {
		t.passive[id] = true
	}
	// A passive connection joins the accept queue when it leaves
	// SYN-RECEIVED for a live state (the stack's afterEvent does the same).
	if t.passive[id] && from == tcp.SynReceived && to != tcp.Closed && to != tcp.Listen {
		t.queued[id.LocalPort]++
		delete(t.passive, id)
	}
	if to == tcp.Closed {
		delete(t.states, id)
		delete(t.passive, id)
		switch cause {
		case tcp.EventRecvRST:
			if from == tcp.SynSent {
				t.resetErr[id] = syscall.ECONNREFUSED
			} else {
				t.resetErr[id] = syscall.ECONNRESET
			}
		case tcp.EventRetransmitTimeout, tcp.EventKeepAliveTimeout:
			t.resetErr[id] = syscall.ETIMEDOUT
		}
		return
	}
	t.states[id] = to
	if from == tcp.Closed && to == tcp.SynSent && t.synSent != nil {
		select {
		case t.synSent <- id:
		default: // Connect has its SYN already
		}
	}
}

// SegmentSent is part of tcp.Observer; the runner sees segments on the
// link.
func (o *observer) SegmentSent(tcp.FourTuple, *tcp.HeaderFields, int, bool) {}

// SegmentReceived is part of tcp.Observer.
func (o *observer) SegmentReceived(tcp.FourTuple, *tcp.Segment) {}

// convertState maps the stack's states to the runner's (both RFC 9293).
func convertState(s tcp.State) packetdrill.TCPState {
	switch s {
	case tcp.Listen:
		return packetdrill.Listen
	case tcp.SynSent:
		return packetdrill.SynSent
	case tcp.SynReceived:
		return packetdrill.SynReceived
	case tcp.Established:
		return packetdrill.Established
	case tcp.FinWait1:
		return packetdrill.FinWait1
	case tcp.FinWait2:
		return packetdrill.FinWait2
	case tcp.CloseWait:
		return packetdrill.CloseWait
	case tcp.Closing:
		return packetdrill.Closing
	case tcp.LastAck:
		return packetdrill.LastAck
	case tcp.TimeWait:
		return packetdrill.TimeWait
	}
	return packetdrill.Closed
}

// errnoOf finds the errno inside an error from the stack: syscall errors,
// tcp.Error, deadlines (EAGAIN) and closed sockets (EBADF).
func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var errno syscall.Errno
	var te *tcp.Error
	switch {
	case errors.As(err, &errno):
		return errno
	case errors.As(err, &te):
		return te.Errno()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return syscall.EAGAIN
	case errors.Is(err, net.ErrClosed):
		return syscall.EBADF
	case errors.Is(err, context.Canceled):
		return syscall.ECONNABORTED
	}
	return syscall.EIO
}

// captureLink is the in-memory link: the stack writes to it, the runner
// takes what was written. Nothing is ever read from it (the stack is in
// manual mode and packets come in through DeliverPackets).
type captureLink struct {
	mtu    int
	mu     sync.Mutex
	out    [][]byte
	closed chan struct{}
	once   sync.Once
}

// MTU is the MTU the script asked for (1500 by default).
func (l *captureLink) MTU() int { return l.mtu }

// MaxPacketSize is the MTU: the link takes no super-packets.
func (l *captureLink) MaxPacketSize() int { return l.mtu }

// Offloads reports none.
func (l *captureLink) Offloads() link.Offloads { return link.Offloads{} }

// Close unblocks ReadPackets.
func (l *captureLink) Close() error { l.once.Do(func() { close(l.closed) }); return nil }

// ReadPackets waits for Close: inbound packets go through DeliverPackets.
func (l *captureLink) ReadPackets([]link.Packet) (int, error) {
	<-l.closed
	return 0, link.ErrClosed
}

// WritePackets keeps a copy of each packet for the runner.
func (l *captureLink) WritePackets(pkts []link.Packet) (int, error) {
	select {
	case <-l.closed:
		return 0, link.ErrClosed
	default:
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range pkts {
		if p.Offload != (link.Offload{}) {
			return 0, fmt.Errorf("stacktarget: offloaded packet on a link without offloads")
		}
		l.out = append(l.out, append([]byte(nil), p.Data...))
	}
	return len(pkts), nil
}

func (l *captureLink) take() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.out
	l.out = nil
	return out
}

// The stack runs on the runner's virtual clock.
var _ clock.Clock = (*clock.Virtual)(nil)
