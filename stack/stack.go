// Package stack is where the layers meet: a Stack reads IPv4 packets from a
// link.Endpoint, checks them, hands them to ICMP, TCP or UDP, and writes
// what those answer back to the link. It also gives programs the socket API
// (Dial, Listen, ListenPacket) with ordinary net.Conn and net.Listener
// values.
//
// A packet's way in, for a student reading along:
//
//  1. the pump goroutine reads a batch of packets from the link (pump.go),
//     or a TCP reader busy-polling for its next request does (pollLink);
//  2. DeliverPackets checks each IPv4 header (ipv4input.go): version,
//     lengths, checksum, that the destination is one of ours, TTL; every
//     reason to drop has its own counter (stats.go);
//  3. ICMP is answered here (icmp.go): echo requests get replies; packets
//     for a protocol no one serves get "protocol unreachable", rate-limited;
//  4. TCP and UDP segments go to their demultiplexers, which find the socket
//     by its four-tuple.
//
// Time comes from the Clock in Options: the real clock by default, a
// clock.Virtual in tests, so that timers can be stepped.
package stack

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/tcp"
)

// Options configure a Stack. Every limit has a default, applied when the
// field is zero.
type Options struct {
	// Addresses are the stack's own IPv4 addresses; at least one is
	// required. Packets to any other destination are dropped. Give the
	// stack an address of its own, not the one the kernel side of the TUN
	// has: the two are different hosts on the same link.
	Addresses []netip.Addr
	// Clock is the stack's time source; default clock.Real{}.
	Clock clock.Clock
	// TTL of packets the stack sends; default 64 (RFC 1700's recommended
	// value, Linux's default).
	TTL uint8
	// ICMPErrorRate is how many ICMP error messages the stack may send per
	// second, with bursts of up to ICMPErrorBurst (RFC 1812 section
	// 4.3.2.8; defaults 1000 and 50, Linux's icmp_msgs_per_sec and
	// icmp_msgs_burst). Echo replies are not limited. A negative rate
	// turns ICMP errors off entirely.
	ICMPErrorRate  int
	ICMPErrorBurst int
	// ReadBatch is how many packets the pump reads from the link at once;
	// default 64.
	ReadBatch int
	// BusyPoll is how long a TCP reader in use (its last Read returned
	// data, or it has written since) watches for its next data before it
	// parks, instead of sleeping at once: Linux's busy polling
	// (SO_BUSY_POLL). While it watches, a link that can be polled
	// (link.Pollable: tun, pipe, and impair or the pcap tee around them)
	// is read by the watching goroutine itself, so
	// a request or the next segment of a stream is read, delivered and
	// handed to its reader without waking the pump or the reader
	// (Stats().TCP.BusyPollRxPackets counts those packets). On the
	// benchmark machine (docs/performance.md) it takes 1-byte round trips
	// from 1.6x to over 3x gVisor's and bulk receive from half the
	// kernel's rate to about three quarters, for some CPU: up to BusyPoll
	// per wait while data comes within it, and about one such watch per 64
	// waits for a slower peer; an idle connection never watches, and at
	// most GOMAXPROCS-1 readers watch at once, so busy polling never holds
	// every processor. Only without a read deadline, with GOMAXPROCS >= 2
	// and without Manual.
	// Default DefaultBusyPoll; a negative value turns it off (Linux's
	// default), for hosts that count CPU time or power.
	BusyPoll time.Duration
	// TCP configures every TCP connection: buffer sizes, timeouts,
	// retries, delayed ACK, keepalive and the rest (see tcp.Config). A zero
	// value means tcp.DefaultConfig(). The MSS is always derived from the
	// link's MTU (MTU - 40) unless set lower here.
	TCP tcp.Config
	// Nagle turns the Nagle algorithm on for new TCP connections. Like Go's
	// own sockets (TCP_NODELAY is Go's default), tundra's connections send
	// small writes at once unless this is set; TCPConn.SetNoDelay changes
	// it per connection. It overrides TCP.NoDelay.
	Nagle bool
	// Observer, if set, hears every TCP state change and segment, for
	// traces and teaching (the demo's ladder).
	Observer tcp.Observer

	// TCPForwarder, if set, receives every SYN that no listener takes,
	// and decides to accept, refuse or drop it (see TCPForwardRequest).
	// Handlers run on their own goroutines; at most ForwarderMaxPending
	// (default 1024) wait at once, each for at most ForwarderTimeout
	// (default 10 s) before it is dropped for them.
	TCPForwarder        func(*TCPForwardRequest)
	ForwarderTimeout    time.Duration
	ForwarderMaxPending int
	// AcceptAnyDestination makes the stack take TCP and UDP packets for
	// any destination address, not only its own: with TCPForwarder, this
	// terminates every connection routed into the TUN (VPN-style use).
	AcceptAnyDestination bool

	// UDPReceiveBuffer is how many bytes of data a UDP socket queues
	// unread (default 212992, Linux's net.core.rmem_default), and
	// UDPReceiveQueueLength how many datagrams (default 1024). A datagram
	// arriving past either limit is dropped and counted (Stats.UDP
	// RcvbufErrors). UDPConn.SetReadBuffer changes the first per socket.
	UDPReceiveBuffer      int
	UDPReceiveQueueLength int
	// Reassembly bounds the reassembly of fragmented datagrams (see
	// ipv4.ReassemblyLimits): by default a 30 s timeout, 65535-byte
	// datagrams, 4 MiB in all and 1024 datagrams at once.
	Reassembly ipv4.ReassemblyLimits

	// DisableSYNCookies turns off SYN cookies (RFC 4987): a listener whose
	// backlog is full then drops SYNs instead of answering them with a
	// cookie (see TCPListener).
	DisableSYNCookies bool
	// MaxTCPConnections caps the TCP connections the stack holds at once,
	// in every state; past it SYNs to listeners are refused with a RST and
	// Dial fails with an error wrapping syscall.ENOBUFS.
	// Default DefaultMaxTCPConnections.
	MaxTCPConnections int

	// Manual, when true, starts no pump: the caller feeds received packets
	// through DeliverPackets itself. Tests and the packetdrill runner use
	// this to step the stack deterministically.
	Manual bool
}

// Defaults for Options.
const (
	DefaultTTL            = 64
	DefaultICMPErrorRate  = 1000
	DefaultICMPErrorBurst = 50
	DefaultReadBatch      = 64
	// DefaultBusyPoll is the default of Options.BusyPoll: a little more
	// than a request-response peer on the same machine takes to answer.
	DefaultBusyPoll = 200 * time.Microsecond

	DefaultUDPReceiveBuffer      = 212992
	DefaultUDPReceiveQueueLength = 1024
)

// Stack is a userspace TCP/IP host on one link. It is safe for concurrent
// use.
type Stack struct {
	ep       link.Endpoint
	observer link.DropObserver // the endpoint's, if it wants drop reasons
	opts     Options
	clock    clock.Clock
	addrs    []netip.Addr
	addrs4   [][4]byte
	counters stackCounters
	icmpRate tokenBucket
	bufs     sync.Pool // *outBuf, for packets we build

	ipID atomic.Uint32 // IP identification counter (RFC 6864: unique only for fragmentable datagrams)

	tcpDefaults atomic.Pointer[tcp.Config] // Options.TCP, then SetTCPConfig's

	transports [256]transport // by IP protocol number; nil = not served
	tcp        *tcpTransport
	forwarder  *tcpForwarder
	udp        *udpTransport
	frag       *fragmentation // reassembly and fragmentation state

	closeOnce sync.Once
	closed    chan struct{}
	pumpDone  chan struct{}
	pumpErr   error

	link     linkReader   // the pump's batch, shared with polling readers
	spinners atomic.Int32 // readers busy-polling now (startSpin)
}

// transport is what a transport protocol (TCP, UDP) offers the IPv4 layer.
type transport interface {
	// deliver handles one packet whose IPv4 header has been checked.
	deliver(ip ipv4.Header, pkt *link.Packet) DropReason
	// deliverICMPError handles an ICMP error quoting a packet of this
	// protocol that we sent.
	deliverICMPError(typ, code uint8, rest [4]byte, quoted ipv4.Header)
}

// Errors returned by New.
var (
	ErrNoAddress  = errors.New("stack: no address given (Options.Addresses is empty)")
	ErrBadAddress = errors.New("stack: not a usable IPv4 host address")
	ErrClosed     = errors.New("stack: closed")
)

// New makes a Stack on ep and, unless opts.Manual is set, starts the pump
// that reads from it.
func New(ep link.Endpoint, opts Options) (*Stack, error) {
	if ep == nil {
		return nil, errors.New("stack: nil link endpoint")
	}
	if len(opts.Addresses) == 0 {
		return nil, ErrNoAddress
	}
	s := &Stack{ep: ep, opts: opts, closed: make(chan struct{}), pumpDone: make(chan struct{})}
	for _, a := range opts.Addresses {
		if !a.Is4() || a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() ||
			a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return nil, fmt.Errorf("%w: %v", ErrBadAddress, a)
		}
		s.addrs = append(s.addrs, a)
		s.addrs4 = append(s.addrs4, a.As4())
	}
	if s.opts.Clock == nil {
		s.opts.Clock = clock.Real{}
	}
	s.clock = s.opts.Clock
	if s.opts.TTL == 0 {
		s.opts.TTL = DefaultTTL
	}
	if s.opts.ICMPErrorRate == 0 {
		s.opts.ICMPErrorRate = DefaultICMPErrorRate
	}
	if s.opts.ICMPErrorBurst <= 0 {
		s.opts.ICMPErrorBurst = DefaultICMPErrorBurst
	}
	if s.opts.ForwarderTimeout <= 0 {
		s.opts.ForwarderTimeout = DefaultForwarderTimeout
	}
	if s.opts.ForwarderMaxPending <= 0 {
		s.opts.ForwarderMaxPending = DefaultForwarderMaxPending
	}
	if s.opts.ReadBatch <= 0 {
		s.opts.ReadBatch = DefaultReadBatch
	}
	if s.opts.BusyPoll == 0 {
		s.opts.BusyPoll = DefaultBusyPoll
	}
	if s.opts.MaxTCPConnections <= 0 {
		s.opts.MaxTCPConnections = DefaultMaxTCPConnections
	}
	if s.opts.UDPReceiveBuffer <= 0 {
		s.opts.UDPReceiveBuffer = DefaultUDPReceiveBuffer
	}
	if s.opts.UDPReceiveQueueLength <= 0 {
		s.opts.UDPReceiveQueueLength = DefaultUDPReceiveQueueLength
	}
	s.icmpRate = tokenBucket{rate: float64(s.opts.ICMPErrorRate), burst: float64(s.opts.ICMPErrorBurst),
		tokens: float64(s.opts.ICMPErrorBurst), last: s.clock.Now()}
	size := ep.MaxPacketSize()
	s.bufs.New = func() any { return &outBuf{data: make([]byte, size)} }
	if o, ok := ep.(link.DropObserver); ok {
		s.observer = o
	}
	s.SetTCPConfig(s.opts.TCP)
	s.initTransports()
	if s.opts.Manual {
		close(s.pumpDone)
	} else {
		s.link.init(ep, s.opts.ReadBatch)
		go s.pump()
	}
	return s, nil
}

// Addresses returns the stack's addresses.
func (s *Stack) Addresses() []netip.Addr { return append([]netip.Addr(nil), s.addrs...) }

// Clock returns the stack's clock.
func (s *Stack) Clock() clock.Clock { return s.clock }

// MTU returns the link's MTU.
func (s *Stack) MTU() int { return s.ep.MTU() }

// Done returns a channel that is closed when the pump stops reading the
// link: after Close, or when the link fails (Err says why). A Manual stack's
// channel is closed from the start.
func (s *Stack) Done() <-chan struct{} { return s.pumpDone }

// Err returns why the pump stopped, once Done is closed: nil after Close,
// the link's error otherwise.
func (s *Stack) Err() error {
	select {
	case <-s.pumpDone:
		select {
		case <-s.closed:
			return nil
		default:
			return s.pumpErr
		}
	default:
		return nil
	}
}

// Stats returns a snapshot of the stack's counters.
func (s *Stack) Stats() Stats { return s.counters.snapshot() }

// Close stops the pump, closes the link endpoint, and waits for the pump to
// finish. Open connections are aborted.
func (s *Stack) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		s.closeTransports()
		err = s.ep.Close()
		<-s.pumpDone
	})
	return err
}

// isOurs reports whether dst is one of the stack's addresses.
func (s *Stack) isOurs(dst [4]byte) bool {
	for _, a := range s.addrs4 {
		if a == dst {
			return true
		}
	}
	return false
}

// outBuf is a pooled buffer for one packet the stack builds, with the batch
// of one that carries it to the link (kept here so that sending it does
// not allocate).
type outBuf struct {
	data []byte // MaxPacketSize bytes
	pkts [1]link.Packet
}

// getBuf returns a pooled buffer of the link's MaxPacketSize.
func (s *Stack) getBuf() *outBuf { return s.bufs.Get().(*outBuf) }

func (s *Stack) putBuf(b *outBuf) {
	b.pkts[0] = link.Packet{}
	s.bufs.Put(b)
}

// send writes the first n bytes of b, one complete IPv4 packet, to the link.
func (s *Stack) send(b *outBuf, n int) {
	b.pkts[0].Data = b.data[:n]
	s.writePackets(b.pkts[:])
}

// writePackets sends complete IPv4 packets in one batch.
func (s *Stack) writePackets(pkts []link.Packet) {
	n, err := s.ep.WritePackets(pkts)
	s.counters.ip.outRequests.add(uint64(len(pkts)))
	if err != nil || n < len(pkts) {
		s.counters.ip.outDiscards.add(uint64(len(pkts) - n))
	}
}

// ttlOr returns a socket's TTL setting as its packets carry it: 0 means
// Options.TTL.
func (s *Stack) ttlOr(ttl uint8) uint8 {
	if ttl == 0 {
		return s.opts.TTL
	}
	return ttl
}

// nextIPID returns an IP identification value (RFC 6864 section 4: a
// counter is enough; atomic datagrams may even repeat it).
func (s *Stack) nextIPID() uint16 {
	return uint16(s.ipID.Add(1))
}
