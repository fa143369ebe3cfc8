package tcp

import "time"

// These setters change a Config knob of an open connection, the way
// setsockopt(2) does for a kernel socket.

// SetNoDelay turns the Nagle algorithm off (true) or on (false) (RFC 9293
// 3.7.4; TCP_NODELAY). Turning it off sends whatever Nagle was holding back.
func (c *Conn) SetNoDelay(noDelay bool, now time.Time) {
	c.cfg.NoDelay = noDelay
	if noDelay && c.state.synchronized() {
		c.transmit(now)
	}
}

// SetKeepAlive turns keepalive probes on or off (RFC 1122 4.2.3.6;
// SO_KEEPALIVE). Zero durations and counts keep the current values.
func (c *Conn) SetKeepAlive(on bool, idle, interval time.Duration, count int, now time.Time) {
	c.cfg.KeepAlive = on
	if idle > 0 {
		c.cfg.KeepAliveIdle = idle
	}
	if interval > 0 {
		c.cfg.KeepAliveInterval = interval
	}
	if count > 0 {
		c.cfg.KeepAliveCount = count
	}
	c.keepAliveProbes = 0
	c.armKeepAlive(now)
}

// SetLinger sets what Close does (SO_LINGER): a negative d restores the
// default graceful close; zero makes Close abort with a RST, discarding
// unsent data; a positive d is recorded for the stack, which bounds how long
// its Close waits for the data to be acknowledged.
func (c *Conn) SetLinger(d time.Duration) {
	c.cfg.LingerSet = d >= 0
	c.cfg.Linger = max(d, 0)
}

// Config returns the connection's current configuration.
func (c *Conn) Config() Config { return c.cfg }

// SequenceNumbers returns SND.MAX (one past the highest sequence number
// sent) and RCV.NXT, for the stack's decision to reopen a connection from
// TIME-WAIT (RFC 1122 4.2.2.13).
func (c *Conn) SequenceNumbers() (sndMax, rcvNxt Seq) { return c.sndMax, c.rcvNxt }

// Discard ends the connection without a word to the peer: both buffers
// are dropped and the Conn is CLOSED. A listener that closes uses it for
// its half-open connections (SYN-RECEIVED), which BSD and Linux drop
// silently: nothing was promised to an application yet, and the peer's
// next segment meets a closed port and draws a RST (RFC 9293 3.10.7.1).
func (c *Conn) Discard() {
	if c.state == Closed {
		return
	}
	c.readShut, c.writeShut, c.appClosed = true, true, true
	c.enterClosed(EventAbort, ErrConnectionAborted)
}

// SetConnectTimeout sets Config.ConnectTimeout (BSD's TCP_KEEPINIT): zero
// or less removes the limit. On a connection being established it takes
// effect from now, as TCP_KEEPINIT does.
func (c *Conn) SetConnectTimeout(d time.Duration, now time.Time) {
	c.cfg.ConnectTimeout = max(d, 0)
	c.armConnectTimeout(now)
}

// armConnectTimeout starts the handshake's time limit, if there is one
// and the connection is being established. It uses the keepalive timer,
// which has nothing to do before the connection is established (BSD's
// TT_KEEP timer serves both the same way).
func (c *Conn) armConnectTimeout(now time.Time) {
	if c.state != SynSent && c.state != SynReceived {
		return
	}
	c.keepAliveAt = time.Time{}
	if c.cfg.ConnectTimeout > 0 {
		c.keepAliveAt = now.Add(c.cfg.ConnectTimeout)
	}
}

// SetNoOptions sets Config.NoOptions (BSD's TCP_NOOPT): the SYN or SYN+ACK
// carries no options, so window scaling, SACK and timestamps are not
// negotiated either. It returns ErrAlreadyOpen once the connection has
// left CLOSED, since the options are decided by then.
func (c *Conn) SetNoOptions(on bool) error {
	if c.used {
		return ErrAlreadyOpen
	}
	c.cfg.NoOptions = on
	c.offerWS = c.cfg.WindowScale && !on
	return nil
}
