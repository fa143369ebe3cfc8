package tcp

// State is a connection state of RFC 9293 section 3.3.2 (Figure 5).
type State uint8

// The states, with the RFC's names.
const (
	// Closed: no connection; the state before opening and after the end.
	Closed State = iota
	// Listen: waiting for a SYN from any remote TCP (passive open).
	Listen
	// SynSent: our SYN is sent, waiting for the peer's SYN and its ACK.
	SynSent
	// SynReceived: a SYN was received and ours sent, waiting for its ACK.
	SynReceived
	// Established: the handshake is done; data flows both ways.
	Established
	// FinWait1: we closed and sent FIN; waiting for its ACK or the peer's FIN.
	FinWait1
	// FinWait2: our FIN is acknowledged; waiting for the peer's FIN.
	FinWait2
	// CloseWait: the peer closed; waiting for our application to close.
	CloseWait
	// Closing: both sides sent FIN at once; waiting for the ACK of ours.
	Closing
	// LastAck: the peer closed first and so did we; waiting for our FIN's ACK.
	LastAck
	// TimeWait: both FINs are acknowledged; waiting 2*MSL so that stray
	// segments of this connection die out before the four-tuple is reused.
	TimeWait
)

var stateNames = [...]string{
	Closed: "CLOSED", Listen: "LISTEN", SynSent: "SYN-SENT", SynReceived: "SYN-RECEIVED",
	Established: "ESTABLISHED", FinWait1: "FIN-WAIT-1", FinWait2: "FIN-WAIT-2",
	CloseWait: "CLOSE-WAIT", Closing: "CLOSING", LastAck: "LAST-ACK", TimeWait: "TIME-WAIT",
}

// String returns the RFC's name of the state, such as "SYN-SENT".
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(?)"
}

// synchronized reports whether s is one of the synchronized states of RFC
// 9293 section 3.5.2 (ESTABLISHED and later).
func (s State) synchronized() bool { return s >= Established }

// Event is what caused a state transition: a user call, a received segment
// or a timer. Observers receive it with every transition.
type Event uint8

// The events of RFC 9293 Figure 5, plus the timers and errors that end a
// connection.
const (
	EventPassiveOpen        Event = iota + 1 // user LISTEN (or the stack's listener accepting a SYN)
	EventActiveOpen                          // user CONNECT: send SYN
	EventSend                                // user SEND... here Connect in LISTEN: send SYN
	EventClose                               // user CLOSE (or Shutdown of the write side)
	EventAbort                               // user ABORT (or Close with linger 0): send RST
	EventRecvSYN                             // received SYN
	EventRecvSYNACK                          // received SYN+ACK of our SYN
	EventRecvACKOfSYN                        // received ACK of our SYN
	EventRecvFIN                             // received FIN
	EventRecvACKOfFIN                        // received ACK of our FIN
	EventRecvFINACKOfFIN                     // received FIN that also acknowledges ours
	EventRecvRST                             // received acceptable RST
	EventRetransmitTimeout                   // retries exhausted (data, SYN or FIN)
	EventKeepAliveTimeout                    // keepalive probes unanswered
	EventFinWait2Timeout                     // FIN-WAIT-2 lasted Config.FinWait2Timeout after Close
	EventTimeWaitTimeout                     // 2*MSL elapsed in TIME-WAIT
	EventRecvDataAfterClose                  // data arrived after the application closed: send RST
	EventRecvICMPError                       // an ICMP error ended a connection attempt (icmp.go)
	EventConnectTimeout                      // the handshake outlasted Config.ConnectTimeout
)

var eventNames = [...]string{
	EventPassiveOpen: "passive OPEN", EventActiveOpen: "active OPEN", EventSend: "SEND",
	EventClose: "CLOSE", EventAbort: "ABORT", EventRecvSYN: "rcv SYN",
	EventRecvSYNACK: "rcv SYN,ACK", EventRecvACKOfSYN: "rcv ACK of SYN", EventRecvFIN: "rcv FIN",
	EventRecvACKOfFIN: "rcv ACK of FIN", EventRecvFINACKOfFIN: "rcv FIN,ACK of FIN",
	EventRecvRST: "rcv RST", EventRetransmitTimeout: "retransmission timeout",
	EventKeepAliveTimeout: "keepalive timeout", EventFinWait2Timeout: "FIN-WAIT-2 timeout",
	EventTimeWaitTimeout: "2MSL timeout", EventRecvDataAfterClose: "rcv data after CLOSE",
	EventRecvICMPError: "rcv ICMP error", EventConnectTimeout: "connect timeout",
}

// String names the event the way RFC 9293 Figure 5 labels its arrows.
func (e Event) String() string {
	if int(e) < len(eventNames) && eventNames[e] != "" {
		return eventNames[e]
	}
	return "Event(?)"
}

// Transition is one arrow of the state diagram: in state From, Event leads
// to state To.
type Transition struct {
	From  State
	Event Event
	To    State
}

// Transitions lists every state transition Conn makes: the arrows of RFC
// 9293 Figure 5, and the resets, timeouts and aborts of section 3.10 that
// the figure leaves out. The tests check that each one is exercised.
var Transitions = []Transition{
	// Opening (Figure 5, top half; sections 3.5 and 3.10.1).
	{Closed, EventPassiveOpen, Listen},
	{Closed, EventActiveOpen, SynSent},
	{Listen, EventRecvSYN, SynReceived},
	{Listen, EventSend, SynSent},
	{Listen, EventClose, Closed},
	{SynSent, EventRecvSYNACK, Established},
	{SynSent, EventRecvSYN, SynReceived}, // simultaneous open, Figure 7
	{SynSent, EventClose, Closed},
	{SynSent, EventRecvRST, Closed}, // connection refused
	{SynSent, EventRetransmitTimeout, Closed},
	{SynSent, EventAbort, Closed},
	{SynReceived, EventRecvACKOfSYN, Established},
	{SynReceived, EventClose, FinWait1},
	{SynReceived, EventRecvRST, Listen}, // passive open by Listen, Figure 8
	{SynReceived, EventRecvSYN, Listen}, // the same, on a new SYN (3.10.7.4 fourth)
	{SynReceived, EventRecvRST, Closed}, // active (simultaneous) open or a listener's child
	{SynReceived, EventRetransmitTimeout, Closed},
	{SynReceived, EventAbort, Closed},

	// Closing (Figure 5, bottom half; section 3.6, Figures 12 and 13).
	{Established, EventClose, FinWait1},
	{Established, EventRecvFIN, CloseWait},
	{FinWait1, EventRecvACKOfFIN, FinWait2},
	{FinWait1, EventRecvFIN, Closing},
	{FinWait1, EventRecvFINACKOfFIN, TimeWait},
	{FinWait2, EventRecvFIN, TimeWait},
	{CloseWait, EventClose, LastAck},
	{Closing, EventRecvACKOfFIN, TimeWait},
	{LastAck, EventRecvACKOfFIN, Closed},
	{TimeWait, EventTimeWaitTimeout, Closed},
	{FinWait2, EventFinWait2Timeout, Closed},

	// Resets received in synchronized states (section 3.10.7.4, second).
	{Established, EventRecvRST, Closed},
	{FinWait1, EventRecvRST, Closed},
	{FinWait2, EventRecvRST, Closed},
	{CloseWait, EventRecvRST, Closed},
	{Closing, EventRecvRST, Closed},
	{LastAck, EventRecvRST, Closed},
	{TimeWait, EventRecvRST, Closed},

	// An in-window SYN with Config.SYNInWindowResets (RFC 793's rule,
	// section 3.10.7.4 fourth step without RFC 5961).
	{Established, EventRecvSYN, Closed},
	{FinWait1, EventRecvSYN, Closed},
	{FinWait2, EventRecvSYN, Closed},
	{CloseWait, EventRecvSYN, Closed},
	{Closing, EventRecvSYN, Closed},
	{LastAck, EventRecvSYN, Closed},
	{TimeWait, EventRecvSYN, Closed},

	// Aborts by the user (section 3.10.5) and retransmission or keepalive
	// give-ups (RFC 9293 3.8.3, RFC 1122 4.2.3.6).
	{Established, EventAbort, Closed},
	{FinWait1, EventAbort, Closed},
	{FinWait2, EventAbort, Closed},
	{CloseWait, EventAbort, Closed},
	{Closing, EventAbort, Closed},
	{LastAck, EventAbort, Closed},
	{TimeWait, EventAbort, Closed},
	{Listen, EventAbort, Closed},
	{Established, EventRetransmitTimeout, Closed},
	{FinWait1, EventRetransmitTimeout, Closed},
	{CloseWait, EventRetransmitTimeout, Closed},
	{Closing, EventRetransmitTimeout, Closed},
	{LastAck, EventRetransmitTimeout, Closed},
	{Established, EventKeepAliveTimeout, Closed},
	{CloseWait, EventKeepAliveTimeout, Closed},
	{FinWait1, EventRecvDataAfterClose, Closed},
	{FinWait2, EventRecvDataAfterClose, Closed},

	// Connection attempts ended by an ICMP error (RFC 9293 3.9.2.2,
	// icmp.go) or by the connect timeout (Config.ConnectTimeout).
	{SynSent, EventRecvICMPError, Closed},
	{SynReceived, EventRecvICMPError, Closed},
	{SynReceived, EventRecvICMPError, Listen}, // opened by Listen, as for a RST
	{SynSent, EventConnectTimeout, Closed},
	{SynReceived, EventConnectTimeout, Closed},
}
