package packetdrill

import (
	"net/netip"
	"syscall"

	"github.com/tundra-net/tundra/clock"
)

// Target is the stack under test, as the runner drives it. It is built
// fresh for every script by a TargetFactory and lives in memory: packets
// go in through Inject and come out through Outbound, and time moves only
// when the runner advances the virtual clock it handed the factory.
//
// Every method returns at once and runs on the runner's goroutine. Socket
// calls have the semantics of calls on a non-blocking BSD socket: where a
// blocking socket would wait, they return EAGAIN (accept, read, write) or
// EINPROGRESS (connect). The runner itself gives scripts blocking sockets
// on top of that: it keeps such a call pending, as packetdrill keeps the
// call on its own thread, and retries it after every packet and every
// clock step until it completes, which makes its completion time exact on
// the virtual clock.
//
// Sockets are named by handles the target chooses; the runner maps them to
// the descriptor numbers a script uses (3, 4, ...).
type Target interface {
	// Configure applies the profile: buffer sizes, window scaling, MSS,
	// timers and the other defaults the script was written for. It is
	// called before the first socket call or packet, and again before the
	// next one whenever a sysctl line of the script has changed the
	// profile. It returns an error for a setting the target cannot
	// honour, which fails the script as unsupported.
	Configure(p Profile) error

	// Inject hands the stack one inbound IPv4 packet and returns after the
	// stack has processed it completely, including any packets it sends
	// in answer.
	Inject(packet []byte) error
	// Outbound returns the IPv4 packets the stack has sent since the last
	// call, oldest first, and forgets them. The runner owns the slices.
	Outbound() [][]byte

	// Socket creates a TCP socket (socket(AF_INET, SOCK_STREAM, 0)).
	Socket() (handle int, errno syscall.Errno)
	// Bind binds the socket to a local address.
	Bind(h int, addr netip.AddrPort) syscall.Errno
	// Listen makes the socket a listener with the given backlog.
	Listen(h int, backlog int) syscall.Errno
	// Accept takes a connection from a listener's queue, or EAGAIN.
	Accept(h int) (handle int, errno syscall.Errno)
	// Connect starts an active open; it returns EINPROGRESS once the SYN
	// is on its way, or an error such as ECONNREFUSED.
	Connect(h int, addr netip.AddrPort) syscall.Errno
	// Read reads up to len(buf) bytes: n > 0, 0 at end of stream, or
	// EAGAIN when nothing is ready.
	Read(h int, buf []byte) (n int, errno syscall.Errno)
	// Write queues up to len(data) bytes for sending, or EAGAIN when the
	// send buffer is full.
	Write(h int, data []byte) (n int, errno syscall.Errno)
	// Shutdown shuts down reading (SHUT_RD), writing (SHUT_WR) or both.
	Shutdown(h int, how ShutdownHow) syscall.Errno
	// Close releases the socket's handle; the connection may live on
	// (FIN-WAIT, TIME-WAIT) as TCP requires.
	Close(h int) syscall.Errno
	// GetSockOpt reads a socket option as an integer; for SO_ERROR it
	// returns the pending error and clears it.
	GetSockOpt(h int, opt SockOpt) (value int, errno syscall.Errno)
	// SetSockOpt sets a socket option.
	SetSockOpt(h int, opt SockOpt, value int) syscall.Errno
	// Poll reports the socket's readiness, as poll(2) would. It reads
	// nothing and clears nothing: PollEvents.Error stays set until
	// GetSockOpt(SO_ERROR) takes the error.
	Poll(h int) PollEvents

	// Info reports the socket's connection state and negotiated options,
	// like getsockopt(TCP_INFO), for a script's tcpi_state and
	// tcpi_options assertions.
	Info(h int) TCPInfo
	// Connections lists the state of every TCP endpoint the stack knows:
	// sockets with a handle (listening, connecting, connected or closed)
	// and connections that outlived their handle (TIME-WAIT, FIN-WAIT-2,
	// SYN-RECEIVED entries of a listen queue). It backs the scripts'
	// sockstat lines.
	Connections() []TCPState

	// Release tears the target down after the script.
	Release()
}

// TargetConfig is what a TargetFactory is given for one script.
type TargetConfig struct {
	// Clock is the virtual clock the target must use for all its timers.
	// The runner advances it; timers run synchronously inside Advance.
	Clock *clock.Virtual
	// Local is the stack's own address; Remote is the scripted peer's.
	// Both come from 198.18.0.0/15 and never leave the process.
	Local, Remote netip.Addr
	// MTU is the link MTU of the in-memory link (--mtu, else 1500).
	MTU int
	// Profile holds the defaults the script assumes; Configure is called
	// with it (and later changes) before the first socket call.
	Profile Profile
}

// TargetFactory builds a fresh Target for one script.
type TargetFactory func(TargetConfig) (Target, error)

// ShutdownHow is the second argument of shutdown(2).
type ShutdownHow int

// Shutdown directions.
const (
	ShutRD ShutdownHow = iota
	ShutWR
	ShutRDWR
)

// PollEvents is a socket's readiness, the facts from which a kernel's
// poll(2) builds revents (PollKernel.Revents).
type PollEvents struct {
	// Readable: data, end of stream or a pending connection can be taken.
	Readable bool
	// Writable: a write would not wait: the send buffer of a connected
	// socket has room, or sending is shut (by shutdown, close, the
	// peer's RST or a failed connect) and a write fails at once. After a
	// non-blocking connect it says the handshake has ended, one way or
	// the other (see SO_ERROR).
	Writable bool
	// Error: an error is pending: getsockopt(SO_ERROR) would return it,
	// and clears it.
	Error bool
	// ReadHangUp: receiving is shut: the peer's FIN or RST has arrived,
	// the connection ended, or the application shut the read side.
	ReadHangUp bool
	// HangUp: both directions are shut.
	HangUp bool
	// Unconnected: a socket that has neither connected nor listened.
	// Linux's tcp_poll sees it as CLOSED (POLLOUT and POLLHUP); FreeBSD
	// reports nothing.
	Unconnected bool
}

// SockOpt names a socket option a script reads or sets.
type SockOpt int

// Socket options used by the scripts.
const (
	SoRcvBuf SockOpt = iota + 1
	SoSndBuf
	SoError
	SoReuseAddr
	SoKeepAlive
	TCPNoDelay
	TCPMaxSeg
	TCPNoOpt
	TCPKeepIdle
	TCPKeepIntvl
	TCPKeepCnt
	TCPKeepInit
	TCPMD5Sig
	IPTOS
	IPTTL
)

// sockOpts maps (level, name) as scripts write them to options.
var sockOpts = map[[2]string]SockOpt{
	{"SOL_SOCKET", "SO_RCVBUF"}:      SoRcvBuf,
	{"SOL_SOCKET", "SO_SNDBUF"}:      SoSndBuf,
	{"SOL_SOCKET", "SO_ERROR"}:       SoError,
	{"SOL_SOCKET", "SO_REUSEADDR"}:   SoReuseAddr,
	{"SOL_SOCKET", "SO_KEEPALIVE"}:   SoKeepAlive,
	{"IPPROTO_TCP", "TCP_NODELAY"}:   TCPNoDelay,
	{"IPPROTO_TCP", "TCP_MAXSEG"}:    TCPMaxSeg,
	{"IPPROTO_TCP", "TCP_NOOPT"}:     TCPNoOpt,
	{"IPPROTO_TCP", "TCP_KEEPIDLE"}:  TCPKeepIdle,
	{"IPPROTO_TCP", "TCP_KEEPINTVL"}: TCPKeepIntvl,
	{"IPPROTO_TCP", "TCP_KEEPCNT"}:   TCPKeepCnt,
	{"IPPROTO_TCP", "TCP_KEEPINIT"}:  TCPKeepInit,
	{"IPPROTO_TCP", "TCP_MD5SIG"}:    TCPMD5Sig,
	{"IPPROTO_IP", "IP_TOS"}:         IPTOS,
	{"IPPROTO_IP", "IP_TTL"}:         IPTTL,
}

// String returns the option's C name.
func (o SockOpt) String() string {
	for k, v := range sockOpts {
		if v == o {
			return k[1]
		}
	}
	return "SockOpt(?)"
}

// TCPInfo is the part of struct tcp_info the scripts assert on.
type TCPInfo struct {
	// State is the connection state (RFC 9293 section 3.3.2); Closed for
	// a socket without a connection.
	State TCPState
	// Options negotiated on the connection: timestamps and window scaling
	// (RFC 7323), SACK (RFC 2018) and ECN (RFC 3168).
	Timestamps, WindowScale, SACK, ECN bool
}

// optionBits encodes the negotiated options as tcpi_options does, with
// FreeBSD's TCPI_OPT_* values.
func (i TCPInfo) optionBits() int64 {
	var bits int64
	for _, o := range []struct {
		on  bool
		bit int64
	}{{i.Timestamps, 0x01}, {i.SACK, 0x02}, {i.WindowScale, 0x04}, {i.ECN, 0x08}} {
		if o.on {
			bits |= o.bit
		}
	}
	return bits
}

// tcpiOptionBits names the tcpi_options bits.
var tcpiOptionBits = map[string]int64{
	"TCPI_OPT_TIMESTAMPS": 0x01, "TCPI_OPT_SACK": 0x02,
	"TCPI_OPT_WSCALE": 0x04, "TCPI_OPT_ECN": 0x08,
}

// TCPState is a connection state of RFC 9293 section 3.3.2.
type TCPState int

// The states of RFC 9293, plus Closed for a socket with no connection.
const (
	Closed TCPState = iota
	Listen
	SynSent
	SynReceived
	Established
	FinWait1
	FinWait2
	CloseWait
	Closing
	LastAck
	TimeWait
)

var stateNames = [...]string{"CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED",
	"FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"}

// String returns the RFC name, such as "SYN-RECEIVED".
func (s TCPState) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "TCPState(?)"
}

// tcpiStates maps the TCPI_* names of tcp_info assertions to states.
var tcpiStates = map[string]TCPState{
	"TCPI_CLOSED": Closed, "TCPI_LISTEN": Listen, "TCPI_SYN_SENT": SynSent,
	"TCPI_SYN_RECEIVED": SynReceived, "TCPI_ESTABLISHED": Established,
	"TCPI_FIN_WAIT_1": FinWait1, "TCPI_FIN_WAIT_2": FinWait2,
	"TCPI_CLOSE_WAIT": CloseWait, "TCPI_CLOSING": Closing,
	"TCPI_LAST_ACK": LastAck, "TCPI_TIME_WAIT": TimeWait,
}

// sockstatStates maps the state names FreeBSD's sockstat prints.
var sockstatStates = map[string]TCPState{
	"CLOSED": Closed, "LISTEN": Listen, "SYN_SENT": SynSent,
	"SYN_RCVD": SynReceived, "ESTABLISHED": Established,
	"FIN_WAIT_1": FinWait1, "FIN_WAIT_2": FinWait2, "CLOSE_WAIT": CloseWait,
	"CLOSING": Closing, "LAST_ACK": LastAck, "TIME_WAIT": TimeWait,
}

// errnos maps the errno names scripts use to values.
var errnos = map[string]syscall.Errno{
	"EAGAIN":        syscall.EAGAIN,
	"EWOULDBLOCK":   syscall.EWOULDBLOCK,
	"EINPROGRESS":   syscall.EINPROGRESS,
	"EALREADY":      syscall.EALREADY,
	"EISCONN":       syscall.EISCONN,
	"ENOTCONN":      syscall.ENOTCONN,
	"ECONNREFUSED":  syscall.ECONNREFUSED,
	"ECONNRESET":    syscall.ECONNRESET,
	"ECONNABORTED":  syscall.ECONNABORTED,
	"ETIMEDOUT":     syscall.ETIMEDOUT,
	"EHOSTUNREACH":  syscall.EHOSTUNREACH,
	"ENETUNREACH":   syscall.ENETUNREACH,
	"EHOSTDOWN":     syscall.EHOSTDOWN,
	"ENETDOWN":      syscall.ENETDOWN,
	"EPIPE":         syscall.EPIPE,
	"EADDRINUSE":    syscall.EADDRINUSE,
	"EADDRNOTAVAIL": syscall.EADDRNOTAVAIL,
	"EINVAL":        syscall.EINVAL,
	"EBADF":         syscall.EBADF,
	"ENOTSOCK":      syscall.ENOTSOCK,
	"EOPNOTSUPP":    syscall.EOPNOTSUPP,
	"ENOPROTOOPT":   syscall.ENOPROTOOPT,
	"EMSGSIZE":      syscall.EMSGSIZE,
	"ENOBUFS":       syscall.ENOBUFS,
	"EPERM":         syscall.EPERM,
	"EACCES":        syscall.EACCES,
	"EINTR":         syscall.EINTR,
}

// errnoName returns the conventional name of an errno value.
func errnoName(e syscall.Errno) string {
	if e == 0 {
		return "0"
	}
	best := ""
	for name, v := range errnos {
		// EAGAIN and EWOULDBLOCK share a value; prefer the shorter
		// traditional name deterministically.
		if v == e && (best == "" || name < best) {
			best = name
		}
	}
	if best == "" {
		return e.Error()
	}
	return best
}
