// Package stacktarget runs packetdrill scripts against tundra's own stack:
// it implements packetdrill.Target on a stack.Stack in manual mode, with an
// in-memory link whose writes the runner collects and a virtual clock the
// runner advances.
//
// Everything happens on the runner's goroutine and nothing waits: the
// stack's calls for non-blocking drivers do the work (StartDialTCP sends
// the SYN and returns; TryAcceptTCP takes a queued connection or nothing;
// ReadReady and Writable say whether Read and Write would return at once,
// and they are called only then). SO_ERROR is the connection's pending
// error (stack.TCPConn.PendingError), kept by the stack as a BSD socket
// keeps so_error; Poll reports it without clearing it, so that, as on
// Linux and FreeBSD, it shows until getsockopt(SO_ERROR) reads it.
package stacktarget

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
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
		cfg:   cfg,
		link:  &captureLink{mtu: cfg.MTU, closed: make(chan struct{})},
		socks: map[int]*socket{},
		next:  100,
	}
	return t, nil
}

// Target is tundra's stack seen by the packetdrill runner. Create it with
// New; the runner calls its methods from one goroutine.
type Target struct {
	cfg   packetdrill.TargetConfig
	link  *captureLink
	st    *stack.Stack
	tcpCf tcp.Config // the stack's configuration for new connections
	prof  packetdrill.Profile
	socks map[int]*socket
	next  int
}

// socket is one handle of the script.
type socket struct {
	port      uint16           // bound port
	bound     *stack.TCPSocket // bound, until listen or connect
	listener  *stack.TCPListener
	conn      *stack.TCPConn
	writeShut bool // shutdown(SHUT_WR) was called
	readShut  bool // shutdown(SHUT_RD) was called
	// soError is the socket's so_error once Poll has taken it from the
	// connection (stack.TCPConn.PendingError reports it only once):
	// it stays pending until getsockopt(SO_ERROR) reads it.
	soError syscall.Errno
	reuse   int
	// Options set before connect or listen, for the connection to come:
	// its TCP configuration (nil until a TCP option is set: the stack's)
	// and IP header fields.
	tcpCf    *tcp.Config
	tos, ttl uint8
}

// tcpConfig maps the profile onto the stack's TCP configuration. Profile
// fields the stack has no setting for (ECN, SYN cookies, ...) are left to
// show in the packets it sends: the scripts check those, so nothing is
// hidden by ignoring them here.
func tcpConfig(p packetdrill.Profile) tcp.Config {
	c := tcp.DefaultConfig()
	if p.StackDefaults {
		// tundra's own defaults, with the MSS the link's MTU gives (as
		// stack.New derives it).
		c.MSS = p.MSS()
		return c
	}
	c.MSS = p.MSS()
	c.ReceiveBufferSize = p.ReceiveBuffer
	if p.RoundReceiveBufferToMSS {
		// FreeBSD rounds the receive buffer of an established connection
		// up to a multiple of the MSS (65536 becomes 65700): give the
		// stack's connections that buffer (GetSockOpt reports the
		// unrounded value until the connection has seen the peer's SYN).
		mss := p.MSS()
		c.ReceiveBufferSize = (p.ReceiveBuffer + mss - 1) / mss * mss
	}
	c.ReceiveBufferMin = c.ReceiveBufferSize // the whole buffer from the start, as FreeBSD's recvspace
	c.ReassemblyLimit = c.ReceiveBufferSize
	c.SendBufferSize = p.SendBuffer
	c.WindowScale = p.WindowScaleAndTimestamps
	c.Timestamps = p.WindowScaleAndTimestamps
	c.SACK = p.SACK
	// FreeBSD's option bytes and window scale: how options are laid out
	// and which shift is offered are the sender's choice (RFC 9293 3.2,
	// RFC 7323 2.3); the scripts compare them byte for byte.
	// net.inet.tcp.insecure_rst and insecure_syn: any in-window RST, and
	// any in-window SYN, resets (RFC 793) instead of drawing a challenge
	// ACK (RFC 5961 sections 3 and 4); drop_synfin drops SYN+FIN.
	c.RSTInWindowResets = p.InsecureRST
	c.SYNInWindowResets = p.InsecureSYN
	c.DropSYNFIN = p.DropSynFin
	c.OptionLayout = tcp.LayoutBSD
	c.WindowShift = p.WindowScale()
	// 4.4BSD's choices where RFC 9293 leaves one (tcp.Config documents
	// each).
	c.RepeatFIN = p.RepeatFIN
	c.ProcessOldACKs = p.ProcessOldACKs
	c.ReceiveWindowFromBuffer = p.ReceiveWindowFromBuffer
	c.OfferWholeBuffer = p.OfferWholeBuffer
	c.TimeWaitIgnoresRST = p.TimeWaitIgnoresRST
	c.TimeWaitACKsAll = p.TimeWaitACKsAll
	c.InitialRTO = p.InitialRTO
	c.RTOSlop = p.RexmitSlop
	// net.inet.tcp.ecn.enable: 0 off, 1 request and accept, 2 accept;
	// ecn.maxretries: how many SYN retransmissions still request it.
	c.ECN = map[int]tcp.ECNMode{0: tcp.ECNOff, 1: tcp.ECNRequest, 2: tcp.ECNAccept}[p.ECN]
	c.ECNSetupSYNRetries = p.ECNMaxRetries
	if p.RexmitDropOptions {
		c.SYNOptionsRetries = 2 // FreeBSD drops them on the third retransmission
	}
	c.MSL = p.MSL
	c.DelayedAck = p.DelayedACK
	c.KeepAliveIdle = p.KeepIdle
	c.KeepAliveInterval = p.KeepIntvl
	c.KeepAliveCount = p.KeepCnt
	// net.inet.tcp.keepinit: FreeBSD gives every connection attempt this
	// long (TCP_KEEPINIT).
	c.ConnectTimeout = p.KeepInit
	c.SynRetries, c.MaxRetries = p.MaxRetransmits, p.MaxRetransmits
	c.MaxRTO = p.MaxRTO
	// net.inet.tcp.icmp_may_rst: which ICMP errors end a connection
	// attempt. FreeBSD's tcp_ctlinput drops a SYN-SENT connection on
	// protocol or port unreachable, administratively prohibited and time
	// exceeded in transit when it is set, on none when it is not.
	c.ICMPConnectAbort = tcp.ICMPAbortNever
	if p.ICMPMayRST {
		c.ICMPConnectAbort = tcp.ICMPAbortOnHardErrorsAndTimeExceeded
	}
	return c
}

// Configure creates the stack on the first call. Later changes (a sysctl
// line between socket calls) go to the stack with SetTCPConfig: as on
// FreeBSD, a connection opened after the change gets the new values; one
// already open keeps those it was opened with.
func (t *Target) Configure(p packetdrill.Profile) error {
	cf := tcpConfig(p)
	if t.st != nil {
		if cf != t.tcpCf {
			t.st.SetTCPConfig(cf)
			t.tcpCf = cf
		}
		t.prof = p
		return nil
	}
	st, err := stack.New(t.link, stack.Options{
		Addresses: []netip.Addr{t.cfg.Local},
		Clock:     t.cfg.Clock,
		TCP:       cf,
		Manual:    true,
	})
	if err != nil {
		return err
	}
	if p.StackDefaults {
		// The profile leaves the buffers to the stack: report the stack's.
		p.ReceiveBuffer, p.SendBuffer = cf.ReceiveBufferSize, cf.SendBufferSize
	}
	t.st, t.tcpCf, t.prof = st, cf, p
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

// Bind binds a stack socket (stack.BindTCP): it holds the port and answers
// segments for it with a RST until Listen or Connect takes it over.
func (t *Target) Bind(h int, addr netip.AddrPort) syscall.Errno {
	s, e := t.sock(h)
	if e != 0 {
		return e
	}
	if s.port != 0 || s.listener != nil || s.conn != nil {
		return syscall.EINVAL
	}
	if addr.Addr() != t.cfg.Local {
		return syscall.EADDRNOTAVAIL
	}
	b, err := t.st.BindTCP(addr)
	if err != nil {
		return errnoOf(err)
	}
	b.SetTOS(s.tos)
	b.SetTTL(s.ttl)
	s.port, s.bound = addr.Port(), b
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
	if s.conn != nil {
		return syscall.EINVAL
	}
	var l *stack.TCPListener
	var err error
	if s.bound != nil {
		l, err = s.bound.ListenTCP(backlog) // with the socket's TOS and TTL
	} else {
		l, err = t.st.ListenTCP(netip.AddrPortFrom(t.cfg.Local, s.port), backlog)
		if err == nil {
			l.SetTOS(s.tos)
			l.SetTTL(s.ttl)
		}
	}
	if err != nil {
		return errnoOf(err)
	}
	s.bound, s.listener = nil, l
	return 0
}

// Accept takes a connection from the accept queue, or EAGAIN.
func (t *Target) Accept(h int) (int, syscall.Errno) {
	s, e := t.sock(h)
	if e != 0 {
		return -1, e
	}
	if s.listener == nil {
		return -1, syscall.EINVAL
	}
	c := s.listener.TryAcceptTCP()
	if c == nil {
		return -1, syscall.EAGAIN
	}
	t.next++
	t.socks[t.next] = &socket{conn: c}
	return t.next, 0
}

// Connect sends the SYN and returns EINPROGRESS, as connect(2) on a
// non-blocking socket does; a bound port is used as the local port.
func (t *Target) Connect(h int, addr netip.AddrPort) syscall.Errno {
	s, e := t.sock(h)
	if e != 0 {
		return e
	}
	switch {
	case s.conn != nil && s.conn.State() == tcp.SynSent:
		return syscall.EALREADY
	case s.conn != nil:
		return syscall.EISCONN
	case s.listener != nil:
		return syscall.EINVAL
	}
	o := stack.ConnOptions{TOS: s.tos, TTL: s.ttl}
	if s.tcpCf != nil {
		o.TCP = *s.tcpCf
	}
	if s.bound != nil {
		// The connection takes over the bound port.
		s.bound.Close()
		s.bound = nil
	}
	c, err := t.st.StartDialTCPWith(s.port, addr, o)
	if err != nil {
		return errnoOf(err)
	}
	s.conn = c
	return syscall.EINPROGRESS
}

// Read reads what is ready; it calls the stack only when ReadReady says
// Read returns at once.
func (t *Target) Read(h int, buf []byte) (int, syscall.Errno) {
	s, e := t.sock(h)
	if e != 0 {
		return -1, e
	}
	if s.conn == nil {
		return -1, syscall.ENOTCONN
	}
	if !s.conn.ReadReady() {
		return -1, syscall.EAGAIN
	}
	n, err := s.conn.Read(buf)
	switch {
	case err == nil, n > 0:
		return n, 0
	case errors.Is(err, io.EOF):
		return 0, 0
	}
	return -1, errnoOf(err)
}

// Write queues what fits in the send buffer; with no room it returns
// EAGAIN while the connection can still send, else the stack's error.
func (t *Target) Write(h int, data []byte) (int, syscall.Errno) {
	s, e := t.sock(h)
	if e != 0 {
		return -1, e
	}
	if s.conn == nil {
		return -1, syscall.ENOTCONN
	}
	room := s.conn.Writable()
	if room == 0 {
		switch s.conn.State() {
		case tcp.SynSent, tcp.SynReceived, tcp.Established, tcp.CloseWait:
			if !s.writeShut {
				return -1, syscall.EAGAIN
			}
		}
		// Writing is over: Write returns its error without waiting.
		room = len(data)
	}
	n, err := s.conn.Write(data[:min(len(data), room)])
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
	if s.conn == nil {
		return syscall.ENOTCONN
	}
	if how == packetdrill.ShutRD || how == packetdrill.ShutRDWR {
		if err := s.conn.CloseRead(); err != nil {
			return errnoOf(err)
		}
		s.readShut = true
	}
	if how == packetdrill.ShutWR || how == packetdrill.ShutRDWR {
		if err := s.conn.CloseWrite(); err != nil {
			return errnoOf(err)
		}
		s.writeShut = true
	}
	return 0
}

// Close closes the handle; the connection goes on closing gracefully
// (FIN-WAIT, TIME-WAIT) inside the stack, as RFC 9293 3.10.4 asks.
func (t *Target) Close(h int) syscall.Errno {
	s, e := t.sock(h)
	if e != 0 {
		return e
	}
	delete(t.socks, h)
	var err error
	switch {
	case s.listener != nil:
		err = s.listener.Close()
	case s.conn != nil:
		err = s.conn.Close()
	case s.bound != nil:
		err = s.bound.Close()
	}
	return errnoOf(err)
}

// GetSockOpt reports buffer sizes from the stack's configuration and the
// error a connection ended with.
func (t *Target) GetSockOpt(h int, opt packetdrill.SockOpt) (int, syscall.Errno) {
	s, e := t.sock(h)
	if e != 0 {
		return 0, e
	}
	switch opt {
	case packetdrill.SoRcvBuf:
		// FreeBSD rounds the buffer once it learns the peer's MSS from a
		// SYN (tcp_mss_update): report the rounded size from then on.
		if s.conn == nil || s.conn.State() == tcp.SynSent || s.conn.State() == tcp.Closed {
			return t.prof.ReceiveBuffer, 0
		}
		return t.tcpCf.ReceiveBufferSize, 0
	case packetdrill.SoSndBuf:
		return t.tcpCf.SendBufferSize, 0
	case packetdrill.SoReuseAddr:
		return s.reuse, 0
	case packetdrill.SoError:
		// getsockopt(SO_ERROR) returns the pending error and clears it.
		err := s.pendingError()
		s.soError = 0
		return int(err), 0
	case packetdrill.TCPKeepIdle, packetdrill.TCPKeepIntvl, packetdrill.TCPKeepCnt, packetdrill.TCPKeepInit:
		var ka net.KeepAliveConfig
		var connect time.Duration
		if s.conn != nil {
			ka, connect = s.conn.KeepAliveConfig(), s.conn.ConnectTimeout()
		} else {
			cf := t.socketConfig(s)
			ka, connect = keepAliveConfigOf(cf), cf.ConnectTimeout
		}
		return keepAliveSettingOf(opt, &ka, &connect).get(), 0
	case packetdrill.TCPNoOpt:
		if t.socketConfig(s).NoOptions {
			return 1, 0
		}
		return 0, 0
	case packetdrill.IPTOS:
		if s.conn != nil {
			return int(s.conn.TOS()), 0
		}
		return int(s.tos), 0
	case packetdrill.IPTTL:
		if s.conn != nil {
			return int(s.conn.TTL()), 0
		}
		if s.ttl == 0 {
			return stack.DefaultTTL, 0
		}
		return int(s.ttl), 0
	}
	return 0, syscall.ENOPROTOOPT
}

// socketConfig is the TCP configuration a socket's connection gets: the
// options set on it so far over the stack's configuration.
func (t *Target) socketConfig(s *socket) tcp.Config {
	if s.tcpCf != nil {
		return *s.tcpCf
	}
	return t.st.TCPConfig()
}

// setBeforeOpen changes the configuration a socket's connection will get.
func (t *Target) setBeforeOpen(s *socket, change func(*tcp.Config)) syscall.Errno {
	if s.listener != nil {
		return syscall.EINVAL
	}
	cf := t.socketConfig(s)
	change(&cf)
	s.tcpCf = &cf
	return 0
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
	case packetdrill.IPTOS, packetdrill.IPTTL:
		if value < 0 || value > 255 {
			return syscall.EINVAL
		}
		if opt == packetdrill.IPTOS {
			s.tos = uint8(value)
		} else {
			s.ttl = uint8(value)
		}
		switch {
		case s.conn != nil && opt == packetdrill.IPTOS:
			return errnoOf(s.conn.SetTOS(s.tos))
		case s.conn != nil:
			return errnoOf(s.conn.SetTTL(s.ttl))
		case s.listener != nil && opt == packetdrill.IPTOS:
			return errnoOf(s.listener.SetTOS(s.tos))
		case s.listener != nil:
			return errnoOf(s.listener.SetTTL(s.ttl))
		case s.bound != nil && opt == packetdrill.IPTOS:
			return errnoOf(s.bound.SetTOS(s.tos))
		case s.bound != nil:
			return errnoOf(s.bound.SetTTL(s.ttl))
		}
		return 0
	case packetdrill.TCPKeepIdle, packetdrill.TCPKeepIntvl, packetdrill.TCPKeepCnt, packetdrill.TCPKeepInit:
		// FreeBSD refuses zero.
		if value <= 0 {
			return syscall.EINVAL
		}
		if s.conn != nil {
			// -1 leaves a keepalive value as it is
			// (stack.TCPConn.SetKeepAliveConfig).
			ka := net.KeepAliveConfig{Enable: s.conn.KeepAliveConfig().Enable, Idle: -1, Interval: -1, Count: -1}
			var connect time.Duration
			keepAliveSettingOf(opt, &ka, &connect).set(value)
			if opt == packetdrill.TCPKeepInit {
				return errnoOf(s.conn.SetConnectTimeout(connect))
			}
			return errnoOf(s.conn.SetKeepAliveConfig(ka))
		}
		return t.setBeforeOpen(s, func(cf *tcp.Config) {
			ka := keepAliveConfigOf(*cf)
			keepAliveSettingOf(opt, &ka, &cf.ConnectTimeout).set(value)
			cf.KeepAliveIdle, cf.KeepAliveInterval, cf.KeepAliveCount = ka.Idle, ka.Interval, ka.Count
		})
	case packetdrill.TCPNoOpt:
		if s.conn != nil {
			// The SYN has gone: FreeBSD takes it and it changes nothing.
			return 0
		}
		return t.setBeforeOpen(s, func(cf *tcp.Config) { cf.NoOptions = value != 0 })
	}
	return syscall.ENOPROTOOPT
}

// pendingError is the socket's so_error: the error the network ended its
// connection with, until getsockopt(SO_ERROR) reads it.
func (s *socket) pendingError() syscall.Errno {
	if s.soError == 0 && s.conn != nil {
		s.soError = errnoOf(s.conn.PendingError())
	}
	return s.soError
}

// keepAliveSetting is the value one of FreeBSD's TCP_KEEP* options reads
// and writes: a time, which the option counts in whole seconds, or, for
// TCP_KEEPCNT, a number of probes.
type keepAliveSetting struct {
	time  *time.Duration // nil for TCP_KEEPCNT
	count *int
}

// keepAliveSettingOf says where opt's value is: TCP_KEEPIDLE,
// TCP_KEEPINTVL and TCP_KEEPCNT in ka, TCP_KEEPINIT (the time allowed to
// establish a connection) in connect. It is the one mapping of these
// options, for getsockopt and setsockopt alike.
func keepAliveSettingOf(opt packetdrill.SockOpt, ka *net.KeepAliveConfig, connect *time.Duration) keepAliveSetting {
	switch opt {
	case packetdrill.TCPKeepIdle:
		return keepAliveSetting{time: &ka.Idle}
	case packetdrill.TCPKeepIntvl:
		return keepAliveSetting{time: &ka.Interval}
	case packetdrill.TCPKeepCnt:
		return keepAliveSetting{count: &ka.Count}
	}
	return keepAliveSetting{time: connect}
}

// get returns the value in the option's unit.
func (v keepAliveSetting) get() int {
	if v.time == nil {
		return *v.count
	}
	return int(*v.time / time.Second)
}

// set stores value, given in the option's unit.
func (v keepAliveSetting) set(value int) {
	if v.time == nil {
		*v.count = value
		return
	}
	*v.time = time.Duration(value) * time.Second
}

// keepAliveConfigOf returns the keepalive settings of cf in the form
// stack.TCPConn.KeepAliveConfig reports them.
func keepAliveConfigOf(cf tcp.Config) net.KeepAliveConfig {
	return net.KeepAliveConfig{Enable: cf.KeepAlive, Idle: cf.KeepAliveIdle,
		Interval: cf.KeepAliveInterval, Count: cf.KeepAliveCount}
}

// Poll reports readiness from the stack's own answers and the connection's
// state: sending is shut once our FIN is queued (FIN-WAIT-1 on) or
// shutdown(SHUT_WR) was called, receiving once the peer's FIN has arrived
// (CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT) or shutdown(SHUT_RD) was
// called, and both once the connection is CLOSED, whether by a RST (RFC
// 9293 3.10.7.4: "enter the CLOSED state"), a failed connect or a
// timeout, as Linux's tcp_done and FreeBSD's soisdisconnected shut both.
// The pending error is the one SO_ERROR would return; polling does not
// clear it.
func (t *Target) Poll(h int) packetdrill.PollEvents {
	s, e := t.sock(h)
	if e != 0 {
		return packetdrill.PollEvents{Error: true}
	}
	switch {
	case s.listener != nil:
		// A listener is readable when accept would return a connection.
		return packetdrill.PollEvents{Readable: s.listener.AcceptReady()}
	case s.conn == nil:
		return packetdrill.PollEvents{Unconnected: true}
	}
	state := s.conn.State()
	var sendShut, recvShut bool
	switch state {
	case tcp.FinWait1, tcp.FinWait2:
		sendShut = true
	case tcp.CloseWait:
		recvShut = true
	case tcp.Closing, tcp.LastAck, tcp.TimeWait, tcp.Closed:
		sendShut, recvShut = true, true
	}
	sendShut = sendShut || s.writeShut
	recvShut = recvShut || s.readShut
	connected := state == tcp.Established || state == tcp.CloseWait
	return packetdrill.PollEvents{
		Readable:   s.conn.ReadReady(),
		Writable:   sendShut || connected && s.conn.Writable() > 0,
		Error:      s.pendingError() != 0,
		ReadHangUp: recvShut,
		HangUp:     sendShut && recvShut,
	}
}

// Info reports state and the options the connection negotiated: window
// scaling, timestamps, SACK and ECN.
func (t *Target) Info(h int) packetdrill.TCPInfo {
	s, e := t.sock(h)
	switch {
	case e != 0:
		return packetdrill.TCPInfo{}
	case s.listener != nil:
		return packetdrill.TCPInfo{State: packetdrill.Listen}
	case s.conn == nil:
		return packetdrill.TCPInfo{State: packetdrill.Closed}
	}
	st := s.conn.Stats()
	return packetdrill.TCPInfo{
		State:       convertState(st.State),
		WindowScale: st.SendWindowShift >= 0 && st.RecvWindowShift >= 0,
		Timestamps:  st.Timestamps,
		SACK:        st.SACK,
		ECN:         st.ECN,
	}
}

// Connections lists what sockstat would: every connection the stack holds
// (TIME-WAIT included), every listener, and every handle without a live
// connection, as CLOSED.
func (t *Target) Connections() []packetdrill.TCPState {
	var out []packetdrill.TCPState
	for _, c := range t.st.TCPConnections() {
		out = append(out, convertState(c.State))
	}
	for _, s := range t.socks {
		switch {
		case s.listener != nil:
			out = append(out, packetdrill.Listen)
		case s.conn == nil || s.conn.State() == tcp.Closed:
			out = append(out, packetdrill.Closed)
		}
	}
	return out
}

// Release closes the stack.
func (t *Target) Release() {
	if t.st != nil {
		t.st.Close()
	}
}

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
