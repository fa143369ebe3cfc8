package stack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/tcp"
)

// peerSegment builds a TCP segment from the peer to the stack, as an IPv4
// packet.
func peerSegment(t *testing.T, f tcp.HeaderFields) []byte {
	t.Helper()
	seg := make([]byte, tcp.HeaderMinLen+f.Options.EncodedLen())
	if _, err := f.Encode(seg); err != nil {
		t.Fatal(err)
	}
	tcp.SetChecksum(seg, peerAddr.As4(), stackAddr.As4())
	ipf := ipv4.HeaderFields{TTL: 64, Protocol: ipv4.ProtocolTCP, Src: peerAddr, Dst: stackAddr, PayloadLength: len(seg)}
	b := make([]byte, ipf.Size()+len(seg))
	copy(b[ipf.Encode(b):], seg)
	return b
}

// parseSent splits a packet the stack sent into its IPv4 header and TCP
// segment.
func parseSent(t *testing.T, pkt []byte) (ipv4.Header, tcp.Segment) {
	t.Helper()
	ip, err := ipv4.ParseHeader(pkt)
	if err != nil {
		t.Fatal(err)
	}
	seg, err := tcp.ParseSegment(ip.Payload())
	if err != nil {
		t.Fatal(err)
	}
	return ip, seg
}

// ConnOptions reach the SYN: TOS, TTL and a configuration without options
// (TCP_NOOPT); SetTOS and SetTTL change the packets that follow.
func TestDialWithConnOptions(t *testing.T) {
	w := newErrWorld(t, tcp.Config{})
	cfg := w.s.TCPConfig()
	cfg.NoOptions = true
	c, err := w.s.StartDialTCPWith(40000, netip.AddrPortFrom(peerAddr, 80), ConnOptions{TCP: cfg, TOS: 0x20, TTL: 4})
	if err != nil {
		t.Fatal(err)
	}
	ip, syn := parseSent(t, w.sent())
	if ip.TOS() != 0x20 || ip.TTL() != 4 {
		t.Fatalf("SYN has TOS %#x TTL %d, want 0x20 and 4", ip.TOS(), ip.TTL())
	}
	if syn.Options != (tcp.Options{}) {
		t.Fatalf("SYN options %+v, want none (NoOptions)", syn.Options)
	}
	if c.TOS() != 0x20 || c.TTL() != 4 {
		t.Fatalf("TOS() %#x TTL() %d", c.TOS(), c.TTL())
	}
	c.SetTOS(0xe0)
	c.SetTTL(0) // back to the stack's
	w.s.DeliverPackets([]link.Packet{{Data: peerSegment(t, tcp.HeaderFields{SrcPort: 80, DstPort: 40000,
		Seq: 7000, Ack: syn.Seq + 1, Flags: tcp.FlagSYN | tcp.FlagACK, Window: 65535})}})
	ip, ack := parseSent(t, w.sent())
	if ack.Flags != tcp.FlagACK || ip.TOS() != 0xe0 || ip.TTL() != DefaultTTL {
		t.Fatalf("%v with TOS %#x TTL %d, want an ACK with 0xe0 and %d", ack.Flags, ip.TOS(), ip.TTL(), DefaultTTL)
	}
	if st := c.Stats(); st.SendMSS != 536 || st.SACK || st.Timestamps {
		t.Fatalf("send MSS %d, SACK %v, timestamps %v: want 536 and none", st.SendMSS, st.SACK, st.Timestamps)
	}
}

// A listener's TOS and TTL go to its SYN+ACKs and the connections it
// accepts (IP_TOS and IP_TTL set on a listening socket).
func TestListenerTOSAndTTL(t *testing.T) {
	w := newErrWorld(t, tcp.Config{})
	l, err := w.s.ListenTCP(netip.AddrPortFrom(stackAddr, 80), 4)
	if err != nil {
		t.Fatal(err)
	}
	l.SetTOS(0x20)
	l.SetTTL(4)
	w.s.DeliverPackets([]link.Packet{{Data: peerSegment(t, tcp.HeaderFields{SrcPort: 40000, DstPort: 80,
		Seq: 7000, Flags: tcp.FlagSYN, Window: 65535})}})
	ip, synack := parseSent(t, w.sent())
	if synack.Flags != tcp.FlagSYN|tcp.FlagACK || ip.TOS() != 0x20 || ip.TTL() != 4 {
		t.Fatalf("%v with TOS %#x TTL %d, want a SYN+ACK with 0x20 and 4", synack.Flags, ip.TOS(), ip.TTL())
	}
	w.s.DeliverPackets([]link.Packet{{Data: peerSegment(t, tcp.HeaderFields{SrcPort: 40000, DstPort: 80,
		Seq: 7001, Ack: synack.Seq + 1, Flags: tcp.FlagACK, Window: 65535})}})
	c := l.TryAcceptTCP()
	if c == nil {
		t.Fatal("no connection to accept")
	}
	if c.TOS() != 0x20 || c.TTL() != 4 {
		t.Fatalf("accepted connection has TOS %#x TTL %d, want 0x20 and 4", c.TOS(), c.TTL())
	}
	c.Write([]byte("x"))
	if ip, _ := parseSent(t, w.sent()); ip.TOS() != 0x20 || ip.TTL() != 4 {
		t.Fatalf("data with TOS %#x TTL %d", ip.TOS(), ip.TTL())
	}
}

// SetKeepAliveConfig follows (*net.TCPConn).SetKeepAliveConfig: zero takes
// the stack's value, negative keeps the current one; the probes then go out
// as configured and the connection fails with ETIMEDOUT.
func TestKeepAliveConfig(t *testing.T) {
	cfg := tcp.DefaultConfig()
	cfg.KeepAliveIdle, cfg.KeepAliveInterval, cfg.KeepAliveCount = time.Hour, time.Minute, 5
	w := newErrWorld(t, cfg)
	c, err := w.s.StartDialTCP(40000, netip.AddrPortFrom(peerAddr, 80))
	if err != nil {
		t.Fatal(err)
	}
	_, syn := parseSent(t, w.sent())
	w.s.DeliverPackets([]link.Packet{{Data: peerSegment(t, tcp.HeaderFields{SrcPort: 80, DstPort: 40000,
		Seq: 7000, Ack: syn.Seq + 1, Flags: tcp.FlagSYN | tcp.FlagACK, Window: 65535})}})
	w.sent() // the ACK
	if got := c.KeepAliveConfig(); got != (net.KeepAliveConfig{Idle: time.Hour, Interval: time.Minute, Count: 5}) {
		t.Fatalf("KeepAliveConfig %+v before any change", got)
	}
	c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: -1, Count: 2})
	if got := c.KeepAliveConfig(); got != (net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: time.Minute, Count: 2}) {
		t.Fatalf("KeepAliveConfig %+v", got)
	}
	c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 3 * time.Second, Count: 0})
	if got := c.KeepAliveConfig().Count; got != 5 {
		t.Fatalf("Count %d after 0, want the stack's 5", got)
	}
	c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: 2})
	probes := 0
	for range 3 {
		w.clk.Advance(10 * time.Second)
		pkts := []link.Packet{{Data: make([]byte, 65536)}}
		if n, _ := w.peer.PollPackets(pkts); n == 1 {
			probes++
		}
	}
	if probes != 2 {
		t.Fatalf("%d keepalive probes, want 2", probes)
	}
	if err := c.PendingError(); !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("PendingError %v after unanswered probes, want ETIMEDOUT", err)
	}
}

// The connect timeout (TCP_KEEPINIT) ends a handshake before the SYN
// retries would, for a Dial too.
func TestConnectTimeout(t *testing.T) {
	w := newErrWorld(t, tcp.Config{})
	cfg := w.s.TCPConfig()
	cfg.ConnectTimeout = 2 * time.Second
	c, err := w.s.StartDialTCPWith(40000, netip.AddrPortFrom(peerAddr, 80), ConnOptions{TCP: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ConnectTimeout(); got != 2*time.Second {
		t.Fatalf("ConnectTimeout %v", got)
	}
	w.clk.Advance(1999 * time.Millisecond)
	if st := c.State(); st != tcp.SynSent {
		t.Fatalf("state %v before the timeout", st)
	}
	w.clk.Advance(time.Millisecond)
	if err := c.PendingError(); !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("PendingError %v, want ETIMEDOUT", err)
	}

	// SetConnectTimeout restarts the limit from now.
	c, err = w.s.StartDialTCP(40001, netip.AddrPortFrom(peerAddr, 80))
	if err != nil {
		t.Fatal(err)
	}
	w.clk.Advance(500 * time.Millisecond)
	if err := c.SetConnectTimeout(time.Second); err != nil {
		t.Fatal(err)
	}
	w.clk.Advance(999 * time.Millisecond)
	if st := c.State(); st != tcp.SynSent {
		t.Fatalf("state %v before the timeout", st)
	}
	w.clk.Advance(time.Millisecond)
	if st := c.State(); st != tcp.Closed {
		t.Fatalf("state %v after the timeout", st)
	}
	if err := c.SetConnectTimeout(-time.Second); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("SetConnectTimeout(-1s) = %v, want EINVAL", err)
	}
}

// DialTCPWith on a stack with its own pump: the dial carries the options
// and, with nobody answering, fails at the connect timeout.
func TestDialTCPWithTimesOut(t *testing.T) {
	a, _ := stackPair(t, nil, Options{})
	cfg := a.TCPConfig()
	cfg.ConnectTimeout = 50 * time.Millisecond
	start := time.Now()
	_, err := a.DialTCPWith(context.Background(), netip.AddrPortFrom(netip.MustParseAddr("198.18.0.99"), 80), ConnOptions{TCP: cfg})
	var op *net.OpError
	if !errors.As(err, &op) || !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("DialTCPWith = %v, want a *net.OpError with ETIMEDOUT", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("the dial outlasted its connect timeout by far")
	}
}

// SetTCPConfig changes what connections opened later get; TCPConfig shows
// it, with the MSS the link allows.
func TestSetTCPConfig(t *testing.T) {
	w := newErrWorld(t, tcp.Config{})
	old, err := w.s.StartDialTCP(40000, netip.AddrPortFrom(peerAddr, 80))
	if err != nil {
		t.Fatal(err)
	}
	cfg := tcp.DefaultConfig()
	cfg.KeepAliveCount = 3
	cfg.MSS = 100000
	w.s.SetTCPConfig(cfg)
	if got := w.s.TCPConfig(); got.KeepAliveCount != 3 || got.MSS != w.s.ep.MTU()-40 {
		t.Fatalf("TCPConfig keepalive count %d, MSS %d", got.KeepAliveCount, got.MSS)
	}
	c, err := w.s.StartDialTCP(40001, netip.AddrPortFrom(peerAddr, 80))
	if err != nil {
		t.Fatal(err)
	}
	if n := c.KeepAliveConfig().Count; n != 3 {
		t.Fatalf("new connection's keepalive count %d, want 3", n)
	}
	if n := old.KeepAliveConfig().Count; n != tcp.DefaultConfig().KeepAliveCount {
		t.Fatalf("older connection's keepalive count changed to %d", n)
	}
}

// A bound socket (BindTCP) holds its port and answers a segment for it
// with a RST carrying its TOS and TTL (BSD's CLOSED TCB); ListenTCP hands
// the port and those options to a listener.
func TestBoundSocket(t *testing.T) {
	w := newErrWorld(t, tcp.Config{})
	b, err := w.s.BindTCP(netip.AddrPortFrom(stackAddr, 80))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.s.ListenTCP(netip.AddrPortFrom(netip.IPv4Unspecified(), 80), 1); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("ListenTCP on a bound port: %v, want EADDRINUSE", err)
	}
	if _, err := w.s.BindTCP(netip.AddrPortFrom(stackAddr, 80)); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("BindTCP twice: %v, want EADDRINUSE", err)
	}
	if _, err := w.s.StartDialTCP(80, netip.AddrPortFrom(peerAddr, 9)); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("dial from a bound port: %v, want EADDRINUSE", err)
	}
	b.SetTOS(0x20)
	b.SetTTL(4)
	syn := peerSegment(t, tcp.HeaderFields{SrcPort: 40000, DstPort: 80, Seq: 7000, Flags: tcp.FlagSYN, Window: 65535})
	w.s.DeliverPackets([]link.Packet{{Data: syn}})
	ip, rst := parseSent(t, w.sent())
	if rst.Flags != tcp.FlagRST|tcp.FlagACK || ip.TOS() != 0x20 || ip.TTL() != 4 {
		t.Fatalf("%v with TOS %#x TTL %d, want a RST with 0x20 and 4", rst.Flags, ip.TOS(), ip.TTL())
	}
	l, err := b.ListenTCP(1)
	if err != nil {
		t.Fatal(err)
	}
	w.s.DeliverPackets([]link.Packet{{Data: syn}})
	ip, synack := parseSent(t, w.sent())
	if synack.Flags != tcp.FlagSYN|tcp.FlagACK || ip.TOS() != 0x20 || ip.TTL() != 4 {
		t.Fatalf("%v with TOS %#x TTL %d, want a SYN+ACK with 0x20 and 4", synack.Flags, ip.TOS(), ip.TTL())
	}
	if _, err := b.ListenTCP(1); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second ListenTCP: %v, want net.ErrClosed", err)
	}
	l.Close()

	// Closing a bound socket frees its port; a port-0 bind picks one.
	b2, err := w.s.BindTCP(netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
	if err != nil {
		t.Fatal(err)
	}
	if b2.Addr().(*net.TCPAddr).Port == 0 {
		t.Fatal("port 0 was not replaced by a free port")
	}
	if err := b2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.s.ListenTCP(b2.Addr().(*net.TCPAddr).AddrPort(), 1); err != nil {
		t.Fatalf("ListenTCP after the bound socket closed: %v", err)
	}
}
