package stack

// Stack-wide limits on TCP. Each connection's own buffers are bounded by
// tcp.Config; these bound how many there are, so that the total memory a
// stack can be made to hold is bounded too (DESIGN.md: "past a limit the
// stack refuses, it never grows without bound").

// DefaultMaxTCPConnections is the default of Options.MaxTCPConnections.
// With the default 256 KiB send and receive buffers, the buffered data of
// that many connections could reach 16 GiB in the worst case, but the
// rings take memory only while they hold data.
const DefaultMaxTCPConnections = 32768

// connectionsFull reports whether the stack holds Options.MaxTCPConnections
// connections (in any state, TIME-WAIT included): new passive opens are
// then refused with a RST, new active opens with ENOBUFS.
func (t *tcpTransport) connectionsFull() bool {
	t.mu.RLock()
	n := len(t.conns)
	t.mu.RUnlock()
	return n >= t.s.opts.MaxTCPConnections
}
