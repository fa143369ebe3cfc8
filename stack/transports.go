package stack

import (
	"math/bits"

	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/tcp"
)

// initTransports registers the transport protocols the stack serves.
func (s *Stack) initTransports() {
	s.tcp = newTCPTransport(s)
	s.forwarder = &tcpForwarder{s: s, pending: make(map[tcp.FourTuple]*TCPForwardRequest)}
	s.transports[ipv4.ProtocolTCP] = s.tcp
	s.frag = newFragmentation(s)
	s.udp = newUDPTransport(s)
	s.transports[ipv4.ProtocolUDP] = s.udp
}

// closeTransports aborts every socket.
func (s *Stack) closeTransports() {
	s.tcp.closeAll()
	s.udp.closeAll()
	s.frag.close()
}

// tcpConfig is the configuration of a new TCP connection: Options.TCP (or
// the defaults) with the MSS the link allows (RFC 9293 3.7.1: the MTU less
// the IPv4 and TCP headers).
func (s *Stack) tcpConfig() tcp.Config {
	return s.connConfig(tcp.Config{})
}

// connConfig is tcpConfig for a connection given its own configuration
// (ConnOptions.TCP; the zero Config means the stack's).
func (s *Stack) connConfig(cfg tcp.Config) tcp.Config {
	if cfg == (tcp.Config{}) {
		cfg = *s.tcpDefaults.Load()
	}
	cfg.NoDelay = !s.opts.Nagle
	linkMSS := s.ep.MTU() - ipv4.MinHeaderSize - tcp.HeaderMinLen
	if cfg.MSS == 0 || cfg.MSS > linkMSS {
		cfg.MSS = linkMSS
	}
	scaleBuffers(&cfg)
	// With TSO the link cuts super-segments itself (link.GSOTCPv4): hand it
	// up to an IPv4 packet's worth at once, less the largest headers.
	if s.ep.Offloads().TSO4 && cfg.GSOMaxSize == 0 {
		cfg.GSOMaxSize = 65535 - ipv4.MaxHeaderSize - tcp.MaxHeaderLen
	}
	return cfg
}

// SetTCPConfig changes the configuration of the TCP connections opened
// from now on, as a sysctl changes a kernel's defaults; open connections
// keep theirs (their own setters, such as TCPConn.SetKeepAliveConfig,
// change them). The zero Config means tcp.DefaultConfig(), as for
// Options.TCP; the MSS is still capped by the link's MTU, and Options.Nagle
// still decides NoDelay.
func (s *Stack) SetTCPConfig(cfg tcp.Config) {
	if cfg == (tcp.Config{}) {
		cfg = tcp.DefaultConfig()
	}
	s.tcpDefaults.Store(&cfg)
}

// TCPConfig returns the configuration a TCP connection opened now gets:
// SetTCPConfig's (or Options.TCP), with the MSS capped by the link's MTU
// and NoDelay from Options.Nagle.
func (s *Stack) TCPConfig() tcp.Config { return s.tcpConfig() }

// Default buffers scale with the MSS: a window is counted in segments as
// much as in bytes, and the 256 KiB that holds 180 segments of 1460 bytes
// holds only four at MTU 65000, too few to keep a sender busy. With
// default options, the send and receive buffers and the reassembly limit
// hold at least bufferSegments full segments, rounded up to a power of two
// (the rings' pool sizes) and at most maxScaledBuffer, and receive
// auto-tuning starts from at least autotuneSegments segments. The rings
// take memory only as data fills them, so the larger sizes cost nothing
// while a connection is idle. A size set to anything but
// tcp.DefaultConfig()'s (in Options.TCP or SetTCPConfig) is kept as set.
const (
	bufferSegments   = 32
	autotuneSegments = 8
	maxScaledBuffer  = 4 << 20
)

// scaleBuffers raises those of cfg's buffer sizes that are the defaults
// to cfg.MSS's scale.
func scaleBuffers(cfg *tcp.Config) {
	def := tcp.DefaultConfig()
	size := min(1<<bits.Len(uint(bufferSegments*cfg.MSS-1)), maxScaledBuffer)
	if cfg.SendBufferSize == def.SendBufferSize {
		cfg.SendBufferSize = max(cfg.SendBufferSize, size)
	}
	if cfg.ReceiveBufferSize == def.ReceiveBufferSize {
		cfg.ReceiveBufferSize = max(cfg.ReceiveBufferSize, size)
	}
	if cfg.ReassemblyLimit == def.ReassemblyLimit {
		cfg.ReassemblyLimit = max(cfg.ReassemblyLimit, size)
	}
	if cfg.ReceiveBufferMin == def.ReceiveBufferMin && cfg.ReceiveBufferMin > 0 {
		start := 1 << bits.Len(uint(autotuneSegments*cfg.MSS-1))
		cfg.ReceiveBufferMin = max(cfg.ReceiveBufferMin, min(start, cfg.ReceiveBufferSize))
	}
}
