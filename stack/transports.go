package stack

import (
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
	cfg := *s.tcpDefaults.Load()
	cfg.NoDelay = !s.opts.Nagle
	linkMSS := s.ep.MTU() - ipv4.MinHeaderSize - tcp.HeaderMinLen
	if cfg.MSS == 0 || cfg.MSS > linkMSS {
		cfg.MSS = linkMSS
	}
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
