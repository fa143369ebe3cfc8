package stack

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
)

// UDPConn is a UDP socket of the stack. It implements net.PacketConn
// (ReadFrom, WriteTo) and, once connected by Dial, net.Conn (Read, Write),
// with the netip forms of *net.UDPConn (ReadFromUDPAddrPort,
// WriteToUDPAddrPort) that do not allocate.
//
// A UDPConn owns no goroutine. Arriving datagrams are queued by the
// stack's pump, up to Options.UDPReceiveBuffer bytes and
// Options.UDPReceiveQueueLength datagrams; past either they are dropped and
// counted (Stats.UDP.RcvbufErrors), as a kernel socket drops them. Writes
// go straight to the link: UDP never waits for room.
//
// A connected socket takes datagrams only from its peer, and hears ICMP
// errors about what it sent: the next Read or Write returns the error once
// (syscall.ECONNREFUSED after a port unreachable), as on Linux.
type UDPConn struct {
	s         *Stack
	t         *udpTransport
	local     netip.AddrPort // address may be unspecified: all of the stack's
	remote    netip.AddrPort // the peer, if connected
	connected bool

	localAddr, remoteAddr *net.UDPAddr

	mu       sync.Mutex
	queue    []queuedDatagram // a ring: head, then count entries
	head     int
	count    int
	bytes    int // data bytes queued
	maxBytes int
	maxCount int
	err      syscall.Errno // an ICMP error not yet reported
	closed   bool
	changes  changeSignal // for anyone waiting on the next change

	readDeadline, writeDeadline deadline
}

// queuedDatagram is one received datagram waiting for ReadFrom. Its buffer
// stays with the ring slot and is reused by later datagrams, so a socket in
// steady state allocates nothing per datagram.
type queuedDatagram struct {
	from netip.AddrPort
	n    int
	buf  []byte
}

// ListenPacket opens a UDP socket on address, like net.ListenPacket.
// network is "udp" or "udp4"; address is "[ip]:port", where an empty ip
// means every address of the stack and port 0 an ephemeral port.
func (s *Stack) ListenPacket(network, address string) (net.PacketConn, error) {
	switch network {
	case "udp", "udp4":
	default:
		return nil, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
	}
	ap, err := parseLocalAddrPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	c, err := s.ListenUDP(ap)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ListenUDP opens a UDP socket bound to addr: one of the stack's addresses
// or the unspecified address 0.0.0.0 for all of them, and a port (0 picks
// an ephemeral one).
func (s *Stack) ListenUDP(addr netip.AddrPort) (*UDPConn, error) {
	laddr := net.UDPAddrFromAddrPort(addr)
	opErr := func(err error) error { return &net.OpError{Op: "listen", Net: "udp", Source: laddr, Err: err} }
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	if !addr.Addr().Is4() {
		return nil, opErr(errAddrNotAvailable)
	}
	if !addr.Addr().IsUnspecified() && !s.isOurs(addr.Addr().As4()) {
		return nil, opErr(errAddrNotAvailable)
	}
	select {
	case <-s.closed:
		return nil, opErr(net.ErrClosed)
	default:
	}
	c := s.newUDPConn(addr)
	if err := s.udp.bind(c); err != nil {
		return nil, opErr(err)
	}
	c.localAddr = net.UDPAddrFromAddrPort(c.local)
	return c, nil
}

// DialUDP opens a connected UDP socket to remote, from the stack's first
// address and an ephemeral port. Nothing is sent: UDP has no handshake, so
// a closed port shows only when the peer answers a datagram with ICMP port
// unreachable, as ECONNREFUSED from the next Read or Write.
func (s *Stack) DialUDP(remote netip.AddrPort) (*UDPConn, error) {
	raddr := net.UDPAddrFromAddrPort(remote)
	opErr := func(err error) error { return &net.OpError{Op: "dial", Net: "udp", Addr: raddr, Err: err} }
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	if !remote.Addr().Is4() || remote.Port() == 0 || remote.Addr().IsUnspecified() {
		return nil, opErr(os.NewSyscallError("connect", syscall.EINVAL))
	}
	select {
	case <-s.closed:
		return nil, opErr(net.ErrClosed)
	default:
	}
	c := s.newUDPConn(netip.AddrPortFrom(netip.AddrFrom4(s.addrs4[0]), 0))
	c.remote, c.connected = remote, true
	c.remoteAddr = net.UDPAddrFromAddrPort(remote)
	if err := s.udp.bind(c); err != nil {
		return nil, opErr(err)
	}
	c.localAddr = net.UDPAddrFromAddrPort(c.local)
	return c, nil
}

func (s *Stack) newUDPConn(local netip.AddrPort) *UDPConn {
	c := &UDPConn{s: s, t: s.udp, local: local,
		maxBytes: s.opts.UDPReceiveBuffer, maxCount: s.opts.UDPReceiveQueueLength}
	c.readDeadline.init(&c.mu, s.clock, c.wake)
	c.writeDeadline.init(&c.mu, s.clock, c.wake)
	return c
}

// enqueue queues a received datagram (pump goroutine). It reports false,
// and drops the datagram, when the queue is full or the socket closed.
func (c *UDPConn) enqueue(from netip.AddrPort, data []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.count >= c.maxCount || c.bytes+len(data) > c.maxBytes && c.count > 0 {
		// A datagram larger than the whole buffer still gets in when the
		// queue is empty, as on Linux; otherwise a 64 KiB datagram could
		// never be received with a smaller buffer.
		return false
	}
	if c.count == len(c.queue) {
		c.growQueue()
	}
	slot := &c.queue[(c.head+c.count)%len(c.queue)]
	if cap(slot.buf) < len(data) {
		slot.buf = make([]byte, max(len(data), 2048))
	}
	slot.n = copy(slot.buf[:cap(slot.buf)], data)
	slot.from = from
	c.count++
	c.bytes += len(data)
	c.wake()
	return true
}

// growQueue doubles the ring, up to maxCount slots, keeping the order.
func (c *UDPConn) growQueue() {
	size := min(max(2*len(c.queue), 8), c.maxCount)
	q := make([]queuedDatagram, size)
	for i := range c.count {
		q[i] = c.queue[(c.head+i)%len(c.queue)]
	}
	// Keep the free slots' buffers too, for reuse.
	for i := c.count; i < len(c.queue); i++ {
		q[i] = c.queue[(c.head+i)%len(c.queue)]
	}
	c.queue, c.head = q, 0
}

// setError records an ICMP error for the next Read or Write (pump
// goroutine).
func (c *UDPConn) setError(errno syscall.Errno) {
	c.mu.Lock()
	c.err = errno
	c.wake()
	c.mu.Unlock()
}

// takeError returns and clears the pending ICMP error (mu held).
func (c *UDPConn) takeError() error {
	if c.err == 0 {
		return nil
	}
	err := c.err
	c.err = 0
	return err
}

// ReadFromUDPAddrPort reads one datagram into p and returns its length and
// sender. A datagram longer than p is cut to fit, the rest discarded (as a
// kernel socket does). It waits until a datagram arrives, the read
// deadline passes (os.ErrDeadlineExceeded) or the socket is closed. It does
// not allocate.
func (c *UDPConn) ReadFromUDPAddrPort(p []byte) (int, netip.AddrPort, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.closed {
			return 0, netip.AddrPort{}, c.opError("read", c.remoteAddr, net.ErrClosed)
		}
		if err := c.takeError(); err != nil {
			return 0, netip.AddrPort{}, c.opError("read", c.remoteAddr, err)
		}
		if c.count > 0 {
			slot := &c.queue[c.head]
			n := copy(p, slot.buf[:slot.n])
			from := slot.from
			c.bytes -= slot.n
			c.head = (c.head + 1) % len(c.queue)
			c.count--
			return n, from, nil
		}
		if err := c.wait(&c.readDeadline); err != nil {
			return 0, netip.AddrPort{}, c.opError("read", c.remoteAddr, err)
		}
	}
}

// ReadFrom reads one datagram; see ReadFromUDPAddrPort. The address is a
// *net.UDPAddr.
func (c *UDPConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromUDPAddrPort(p)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// Read reads one datagram (from the peer, on a connected socket).
func (c *UDPConn) Read(p []byte) (int, error) {
	n, _, err := c.ReadFromUDPAddrPort(p)
	return n, err
}

// WriteToUDPAddrPort sends p as one datagram to addr, in fragments if it
// is larger than the MTU. It fails with EMSGSIZE over 65507 bytes, with
// net.ErrWriteToConnected on a connected socket, and with a pending ICMP
// error or an expired deadline. It does not allocate for datagrams that fit
// the MTU.
func (c *UDPConn) WriteToUDPAddrPort(p []byte, addr netip.AddrPort) (int, error) {
	if c.connected {
		return 0, c.opError("write", net.UDPAddrFromAddrPort(addr), net.ErrWriteToConnected)
	}
	return c.write(p, addr)
}

// WriteTo sends p as one datagram to addr, a *net.UDPAddr; see
// WriteToUDPAddrPort.
func (c *UDPConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, c.opError("write", addr, syscall.EINVAL)
	}
	ap := ua.AddrPort()
	return c.WriteToUDPAddrPort(p, ap)
}

// Write sends p as one datagram to the peer of a connected socket.
func (c *UDPConn) Write(p []byte) (int, error) {
	if !c.connected {
		return 0, c.opError("write", nil, syscall.EDESTADDRREQ)
	}
	return c.write(p, c.remote)
}

// write checks the socket's state and sends one datagram to dst.
func (c *UDPConn) write(p []byte, dst netip.AddrPort) (int, error) {
	raddr := c.remoteAddr
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return 0, c.opError("write", raddr, net.ErrClosed)
	case c.writeDeadline.expired():
		c.mu.Unlock()
		return 0, c.opError("write", raddr, os.ErrDeadlineExceeded)
	}
	if err := c.takeError(); err != nil {
		c.mu.Unlock()
		return 0, c.opError("write", raddr, err)
	}
	c.mu.Unlock()
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	if !dst.Addr().Is4() || dst.Port() == 0 || dst.Addr().IsUnspecified() {
		return 0, c.opError("write", net.UDPAddrFromAddrPort(dst), syscall.EINVAL)
	}
	src := c.local
	if src.Addr().IsUnspecified() {
		src = netip.AddrPortFrom(netip.AddrFrom4(c.s.addrs4[0]), src.Port())
	}
	if err := c.t.send(src, dst, p); err != nil {
		return 0, c.opError("write", net.UDPAddrFromAddrPort(dst), err)
	}
	return len(p), nil
}

// wait blocks, with mu held on entry and exit, until the socket changes or
// the deadline passes.
func (c *UDPConn) wait(d *deadline) error {
	if d.expired() {
		return os.ErrDeadlineExceeded
	}
	ch, dl := c.changed(), d.done()
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
	select {
	case <-c.s.closed:
		c.closeLocked()
	default:
	}
	return nil
}

// wake releases every goroutine waiting for a change (mu held).
func (c *UDPConn) wake() {
	c.changes.broadcast()
}

// changed returns a channel closed at the next change (mu held).
func (c *UDPConn) changed() <-chan struct{} { return c.changes.changed() }

// Close closes the socket: pending and later reads and writes fail with
// net.ErrClosed, and its port is free again.
func (c *UDPConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opError("close", c.remoteAddr, net.ErrClosed)
	}
	c.closeLocked()
	return nil
}

// closeLocked does Close's work (mu held).
func (c *UDPConn) closeLocked() {
	if c.closed {
		return
	}
	c.closed = true
	c.t.unbind(c)
	c.queue, c.count, c.bytes = nil, 0, 0
	c.readDeadline.set(time.Time{})
	c.writeDeadline.set(time.Time{})
	c.wake()
}

// LocalAddr returns the local address, a *net.UDPAddr.
func (c *UDPConn) LocalAddr() net.Addr { return c.localAddr }

// RemoteAddr returns the peer's address, a *net.UDPAddr, for a connected
// socket, and nil otherwise.
func (c *UDPConn) RemoteAddr() net.Addr {
	if !c.connected {
		return nil
	}
	return c.remoteAddr
}

// SetDeadline sets both the read and the write deadline.
func (c *UDPConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline for reads, pending ones included; zero
// means none.
func (c *UDPConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opError("set", c.remoteAddr, net.ErrClosed)
	}
	c.readDeadline.set(t)
	return nil
}

// SetWriteDeadline sets the deadline for writes; zero means none. Writes
// never wait, so it only makes writes after it fail.
func (c *UDPConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opError("set", c.remoteAddr, net.ErrClosed)
	}
	c.writeDeadline.set(t)
	return nil
}

// SetReadBuffer sets how many bytes of data the socket queues unread, like
// *net.UDPConn.SetReadBuffer (SO_RCVBUF). Datagrams already queued stay.
func (c *UDPConn) SetReadBuffer(bytes int) error {
	if bytes <= 0 {
		return c.opError("set", c.remoteAddr, syscall.EINVAL)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxBytes = bytes
	return nil
}

// Queued returns how many datagrams, and bytes of data, wait to be read.
func (c *UDPConn) Queued() (datagrams, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count, c.bytes
}

// opError wraps err the way the net package does: an errno inside an
// *os.SyscallError, all inside a *net.OpError.
func (c *UDPConn) opError(op string, addr net.Addr, err error) error {
	if errno, ok := err.(syscall.Errno); ok {
		err = os.NewSyscallError(op, errno)
	}
	if addr == nil || addr == (*net.UDPAddr)(nil) {
		addr = nil
	}
	return &net.OpError{Op: op, Net: "udp", Source: c.localAddr, Addr: addr, Err: err}
}
