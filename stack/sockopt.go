package stack

import (
	"net"
	"syscall"
	"time"

	"github.com/tundra-net/tundra/tcp"
)

// Socket options: the per-connection settings a program changes with
// setsockopt(2) on a kernel socket, as methods of TCPConn and TCPListener,
// and ConnOptions for those a connection's first segment already needs.

// ConnOptions are the settings of one TCP connection that its SYN already
// needs, as setsockopt(2) on a socket before connect(2) gives them:
// StartDialTCPWith and DialTCPWith take them. The zero value means the
// stack's settings.
type ConnOptions struct {
	// TCP is the connection's configuration (options offered, buffer
	// sizes, timers, tcp.Config.NoOptions, tcp.Config.ConnectTimeout);
	// the zero Config means Stack.TCPConfig(). As for every connection,
	// the MSS is capped by the link's MTU and Options.Nagle decides
	// NoDelay.
	TCP tcp.Config
	// TOS is the IPv4 type-of-service byte of the connection's packets
	// (IP_TOS; RFC 791, and RFC 2474's DSCP in its upper six bits).
	// Default 0.
	TOS uint8
	// TTL is the time to live of the connection's packets (IP_TTL); 0
	// means Options.TTL.
	TTL uint8
}

// SetTOS sets the type-of-service byte of the connection's packets from
// now on (IP_TOS): RFC 2474's DSCP in the upper six bits, such as 0x20
// for class selector 1. Routers may use it to queue the packets; TCP
// itself does not look at it.
func (c *TCPConn) SetTOS(tos uint8) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tos = tos
	return nil
}

// TOS returns the type-of-service byte of the connection's packets.
func (c *TCPConn) TOS() uint8 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tos
}

// SetTTL sets the time to live of the connection's packets from now on
// (IP_TTL); 0 restores Options.TTL.
func (c *TCPConn) SetTTL(ttl uint8) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ttl = ttl
	return nil
}

// TTL returns the time to live of the connection's packets.
func (c *TCPConn) TTL() uint8 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s.ttlOr(c.ttl)
}

// SetKeepAliveConfig sets the connection's keepalive probes (RFC 1122
// 4.2.3.6) as (*net.TCPConn).SetKeepAliveConfig does: Enable turns them on
// or off; Idle is the time without a segment from the peer before the
// first probe (TCP_KEEPIDLE), Interval the time between probes
// (TCP_KEEPINTVL), Count the unanswered probes after which the connection
// fails with ETIMEDOUT (TCP_KEEPCNT). A zero field takes the stack's
// value (Stack.TCPConfig); a negative one leaves the current value. Idle
// and Interval are kept to whole seconds, as the socket options are.
func (c *TCPConn) SetKeepAliveConfig(cfg net.KeepAliveConfig) error {
	def := c.s.tcpConfig()
	pick := func(d, stackDefault time.Duration) time.Duration {
		switch {
		case d < 0:
			return 0 // tcp.Conn.SetKeepAlive keeps the current value
		case d == 0:
			return stackDefault
		}
		return max(d.Round(time.Second), time.Second)
	}
	idle, interval := pick(cfg.Idle, def.KeepAliveIdle), pick(cfg.Interval, def.KeepAliveInterval)
	count := cfg.Count
	switch {
	case count < 0:
		count = 0
	case count == 0:
		count = def.KeepAliveCount
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tcb.SetKeepAlive(cfg.Enable, idle, interval, count, c.s.clock.Now())
	c.afterEvent()
	return nil
}

// KeepAliveConfig returns the connection's keepalive settings, in the form
// SetKeepAliveConfig takes (getsockopt of SO_KEEPALIVE, TCP_KEEPIDLE,
// TCP_KEEPINTVL and TCP_KEEPCNT).
func (c *TCPConn) KeepAliveConfig() net.KeepAliveConfig {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg := c.tcb.Config()
	return net.KeepAliveConfig{Enable: cfg.KeepAlive, Idle: cfg.KeepAliveIdle,
		Interval: cfg.KeepAliveInterval, Count: cfg.KeepAliveCount}
}

// SetConnectTimeout bounds the handshake (BSD's TCP_KEEPINIT,
// tcp.Config.ConnectTimeout): a connection still in SYN-SENT or
// SYN-RECEIVED d from now fails with ETIMEDOUT. d <= 0 removes the limit.
// Set it before the SYN with ConnOptions.TCP.ConnectTimeout.
func (c *TCPConn) SetConnectTimeout(d time.Duration) error {
	if d < 0 {
		return c.opError("set", syscall.EINVAL)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tcb.SetConnectTimeout(d, c.s.clock.Now())
	c.afterEvent()
	return nil
}

// ConnectTimeout returns the handshake's time limit, 0 for none.
func (c *TCPConn) ConnectTimeout() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcb.Config().ConnectTimeout
}

// SetTOS sets the type-of-service byte of the SYN+ACKs the listener sends
// and of the connections it accepts from now on (IP_TOS on a listening
// socket); see TCPConn.SetTOS.
func (l *TCPListener) SetTOS(tos uint8) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tos = tos
	return nil
}

// SetTTL sets the time to live of the listener's SYN+ACKs and of the
// connections it accepts from now on (IP_TTL); 0 means Options.TTL.
func (l *TCPListener) SetTTL(ttl uint8) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ttl = ttl
	return nil
}
