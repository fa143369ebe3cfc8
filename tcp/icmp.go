package tcp

import (
	"syscall"
	"time"

	"github.com/tundra-net/tundra/ipv4"
)

// TCP's reaction to ICMP error messages (RFC 9293 section 3.9.2.2, RFC
// 1122 section 4.2.3.9). The stack finds the connection whose segment an
// ICMP error quotes and calls HandleICMPError; "fragmentation needed"
// goes to SetPathMTU instead (pmtu.go).
//
// RFC 9293 3.9.2.2 sorts the messages in two kinds. Soft errors
// (destination unreachable codes 0, 1 and 5, time exceeded, parameter
// problem): "Since these Unreachable messages indicate soft error
// conditions, a TCP implementation MUST NOT abort the connection (MUST-56),
// and it SHOULD make the information available to the application
// (SHLD-25)." Hard errors (destination unreachable codes 2 - 4): "These are
// hard error conditions, so TCP implementations SHOULD abort the connection
// (SHLD-26)."
//
// A Conn aborts on a hard error only while the connection is being
// established (SYN-SENT, SYN-RECEIVED): a connect to a port nobody serves
// then fails at once with "connection refused" instead of after a minute
// of SYN retries. Once synchronized it keeps a hard error as a soft one,
// as Linux and the BSDs do and as RFC 5927 section 5.2 recommends against
// blind connection-reset attacks: anyone can send ICMP, and a forged
// message must not be able to end a working connection.
//
// A soft error is kept (SoftError) while the segment it was about is
// unacknowledged; if the connection then times out, the soft error is
// what it fails with rather than ErrTimeout ("no route to host" says more
// than "timed out"), as BSD's tcp_drop and Linux's tcp_write_err do.

// ICMPConnectAbort chooses which ICMP errors end a connection that is being
// established (Config.ICMPConnectAbort). Once a connection is synchronized,
// no ICMP error ends it.
type ICMPConnectAbort uint8

const (
	// ICMPAbortOnHardErrors, the default, ends a connection attempt on a
	// hard error of RFC 9293 3.9.2.2 (protocol or port unreachable) and on
	// "communication administratively prohibited" (codes 9, 10 and 13 of
	// RFC 1122 3.2.2.1 and RFC 1812 5.2.7.1: a filter refused the packet,
	// which retrying will not change); Linux and FreeBSD treat these as
	// final too.
	ICMPAbortOnHardErrors ICMPConnectAbort = iota
	// ICMPAbortNever keeps every ICMP error soft, even for a connection
	// attempt (FreeBSD's net.inet.tcp.icmp_may_rst=0). RFC 9293's hard
	// errors are a SHOULD (SHLD-26): this choice is allowed.
	ICMPAbortNever
	// ICMPAbortOnHardErrorsAndTimeExceeded also ends a connection attempt
	// on "time exceeded in transit": a SYN that met a routing loop or ran
	// out of hops will not do better when sent again. It is FreeBSD's
	// net.inet.tcp.icmp_may_rst=1. RFC 9293 counts time exceeded as a soft
	// error (MUST-56); RFC 5461 describes aborting connection attempts on
	// soft errors as a widely implemented departure (Linux does it for
	// every ICMP error in SYN-SENT) that avoids long connection delays.
	ICMPAbortOnHardErrorsAndTimeExceeded
)

// Errors a Conn reports for ICMP errors: through SoftError, and through
// Err when the connection ends because of one.
var (
	// ErrHostUnreachable: ICMP host unreachable or time exceeded.
	ErrHostUnreachable = &Error{"tcp: no route to host", syscall.EHOSTUNREACH}
	// ErrNetworkUnreachable: ICMP network unreachable.
	ErrNetworkUnreachable = &Error{"tcp: network is unreachable", syscall.ENETUNREACH}
	// ErrProtocolError: ICMP parameter problem about one of our segments.
	ErrProtocolError = &Error{"tcp: protocol error", syscall.EPROTO}
)

// icmpError names an error an ICMP message can mean; a Conn keeps its soft
// error as one (a byte, where a pointer would take eight).
type icmpError uint8

const (
	icmpNoError icmpError = iota
	icmpRefused
	icmpNetworkUnreachable
	icmpHostUnreachable
	icmpProtocolError
)

// icmpErrors maps an icmpError to the error the application sees.
var icmpErrors = [...]*Error{icmpRefused: ErrConnectionRefused, icmpNetworkUnreachable: ErrNetworkUnreachable,
	icmpHostUnreachable: ErrHostUnreachable, icmpProtocolError: ErrProtocolError}

// icmpMeaning classifies an ICMP error message for TCP: the error the
// application sees, whether RFC 9293 3.9.2.2 calls it hard, and whether it
// is "time exceeded in transit". ok is false for messages TCP ignores:
// source quench (RFC 6633), redirects (a routing matter, RFC 1122
// 3.2.2.2), fragmentation needed (path MTU discovery, SetPathMTU) and
// unknown types or codes.
func icmpMeaning(typ ipv4.ICMPType, code uint8) (err icmpError, hard, timeExceeded, ok bool) {
	switch typ {
	case ipv4.ICMPDestinationUnreachable:
		switch code {
		case ipv4.UnreachableProtocol, ipv4.UnreachablePort,
			ipv4.UnreachableNetProhibited, ipv4.UnreachableHostProhibited,
			ipv4.UnreachableAdministrativelyProhibited:
			// Linux reports ENOPROTOOPT for protocol unreachable and
			// EHOSTUNREACH for the prohibited codes; to the application
			// each says the same thing as a RST would: refused.
			return icmpRefused, true, false, true
		case ipv4.UnreachableNet, ipv4.UnreachableNetUnknown, ipv4.UnreachableNetForTOS:
			return icmpNetworkUnreachable, false, false, true
		case ipv4.UnreachableHost, ipv4.UnreachableSourceRouteFailed, ipv4.UnreachableHostUnknown,
			ipv4.UnreachableSourceHostIsolated, ipv4.UnreachableHostForTOS,
			ipv4.UnreachableHostPrecedenceViolation, ipv4.UnreachablePrecedenceCutoff:
			return icmpHostUnreachable, false, false, true
		}
	case ipv4.ICMPTimeExceeded:
		if code <= 1 { // in transit, or fragment reassembly
			return icmpHostUnreachable, false, code == 0, true
		}
	case ipv4.ICMPParameterProblem:
		return icmpProtocolError, false, false, true
	}
	return icmpNoError, false, false, false
}

// HandleICMPError handles an ICMP error message of type typ and code code
// that quotes one of this connection's segments, whose sequence number is
// quotedSeq (RFC 9293 3.9.2.2). It reports whether the message was taken.
//
// The message is believed only if quotedSeq lies in SND.UNA..SND.MAX-1,
// sequence space we sent and that is not yet acknowledged (RFC 5927 section
// 4.1): an attacker who cannot see the connection would have to guess it.
// Taken, it either ends a connection attempt (Config.ICMPConnectAbort
// decides which errors do; no RST is sent, as for a RST received) or is
// kept as the connection's soft error.
func (c *Conn) HandleICMPError(typ ipv4.ICMPType, code uint8, quotedSeq Seq, now time.Time) bool {
	err, hard, timeExceeded, ok := icmpMeaning(typ, code)
	if !ok || c.state == Closed || c.state == Listen || c.sndUna == c.sndMax ||
		!quotedSeq.InRange(c.sndUna, c.sndMax) {
		return false
	}
	if c.state == SynSent || c.state == SynReceived {
		abort := false
		switch c.cfg.ICMPConnectAbort {
		case ICMPAbortOnHardErrors:
			abort = hard
		case ICMPAbortOnHardErrorsAndTimeExceeded:
			abort = hard || timeExceeded
		}
		switch {
		case abort && c.state == SynReceived && c.listenOpened:
			// As for a RST (RFC 9293 3.10.7.4): a connection opened by
			// Listen forgets the half-open one and listens again.
			c.returnToListen(EventRecvICMPError)
			return true
		case abort:
			c.readShut, c.writeShut = true, true
			c.enterClosed(EventRecvICMPError, icmpErrors[err])
			return true
		}
	}
	c.softErr, c.softErrUna = err, c.sndUna
	return true
}

// SoftError returns the error of the last ICMP message taken for this
// connection that did not end it (RFC 9293 3.9.2.2 SHLD-25: "make the
// information available to the application"), or nil. It is forgotten
// once the peer acknowledges new data: the message was about a segment
// that has since arrived.
func (c *Conn) SoftError() error {
	if c.softErr == icmpNoError || c.softErrUna != c.sndUna {
		return nil
	}
	return icmpErrors[c.softErr]
}

// timeoutError is the error a connection that timed out fails with: its
// soft error if it has one (an ICMP message explained why the peer did not
// answer), else ErrTimeout.
func (c *Conn) timeoutError() error {
	if err := c.SoftError(); err != nil {
		return err
	}
	return ErrTimeout
}
