package packetdrill

import (
	"fmt"
	"strings"
	"time"
)

// Script is a parsed packetdrill script: the command-line options it sets
// at the top, an optional setup command, and its events in order.
type Script struct {
	// Path is the file name the script was read from, used in messages.
	Path string
	// Options are the "--name=value" lines before the first event.
	Options []Option
	// InitCommand, if not nil, is a backquoted command given before the
	// first event without a time; packetdrill runs it before the script
	// starts. Its Action is a *Command and its time is zero.
	InitCommand *Event
	// Events are the timed lines of the script, in file order.
	Events []Event
}

// Option returns the value of the last option called name and whether the
// script set it at all.
func (s *Script) Option(name string) (string, bool) {
	for i := len(s.Options) - 1; i >= 0; i-- {
		if s.Options[i].Name == name {
			return s.Options[i].Value, true
		}
	}
	return "", false
}

// Option is one "--name" or "--name=value" line.
type Option struct {
	Pos   Pos
	Name  string
	Value string
}

// TimeKind says how an event's time is written.
type TimeKind int

const (
	// AbsoluteTime: "0.100", seconds since the script started.
	AbsoluteTime TimeKind = iota
	// RelativeTime: "+0.1", seconds after the previous event.
	RelativeTime
	// AnyTime: "*", an outbound packet that may come at any time.
	AnyTime
	// AbsoluteRange: "0.1~0.2", an outbound packet due within the range.
	AbsoluteRange
	// RelativeRange: "+0.1~+0.2", the same, relative to the previous event.
	RelativeRange
)

// EventTime is when an event happens, as the script writes it.
type EventTime struct {
	Kind TimeKind
	// Start is the time (or the start of the range); End is the end of a
	// range and zero otherwise. Both are offsets, absolute or relative as
	// Kind says.
	Start, End time.Duration
}

// String renders the time in script syntax.
func (t EventTime) String() string {
	secs := func(d time.Duration) string { return fmt.Sprintf("%.6g", d.Seconds()) }
	switch t.Kind {
	case RelativeTime:
		return "+" + secs(t.Start)
	case AnyTime:
		return "*"
	case AbsoluteRange:
		return secs(t.Start) + "~" + secs(t.End)
	case RelativeRange:
		return "+" + secs(t.Start) + "~+" + secs(t.End)
	}
	return secs(t.Start)
}

// Event is one timed line: a packet, a system call, a shell command or a
// code snippet.
type Event struct {
	Pos    Pos
	Time   EventTime
	Action Action
}

// Action is what an event does: *Packet, *Syscall, *Command or *Code.
type Action interface {
	// String renders the action in script syntax.
	String() string
	action()
}

// Direction says which way a packet travels, seen from the stack under
// test.
type Direction int

const (
	// Inbound packets ("<") are built by the runner and injected.
	Inbound Direction = iota
	// Outbound packets (">") are expected from the stack and checked.
	Outbound
)

// Protocol is the transport protocol of a packet event.
type Protocol int

const (
	// ProtoTCP is a TCP segment.
	ProtoTCP Protocol = iota
	// ProtoUDP is a UDP datagram.
	ProtoUDP
	// ProtoICMP is an ICMP message.
	ProtoICMP
)

// ECN is the ECN codepoint in the low two bits of the IPv4 TOS byte
// (RFC 3168 section 5).
type ECN uint8

// ECN codepoints.
const (
	NotECT ECN = 0
	ECT1   ECN = 1
	ECT0   ECN = 2
	CE     ECN = 3
)

// TOSCheck says what the script states about the IPv4 TOS byte.
type TOSCheck int

const (
	// TOSUnchecked: nothing was said; inbound packets use 0.
	TOSUnchecked TOSCheck = iota
	// TOSCheckECN: "[noecn]", "[ect0]", "[ect1]" or "[ce]": the ECN bits.
	TOSCheckECN
	// TOSCheckECT01: "[ect01]": either ECT(0) or ECT(1), outbound only.
	TOSCheckECT01
	// TOSCheckFull: "(tos 0x20)": the whole byte.
	TOSCheckFull
)

// IPInfo is what a packet event says about its IP header.
type IPInfo struct {
	TOSCheck TOSCheck
	// TOS is the byte (TOSCheckFull) or the ECN codepoint (TOSCheckECN).
	TOS uint8
	// TTL is the time to live; 0 means not stated.
	TTL uint8
}

// Packet is an inbound or expected outbound packet.
type Packet struct {
	Direction Direction
	IP        IPInfo
	Protocol  Protocol
	TCP       *TCPSegment // when Protocol is ProtoTCP
	UDP       *UDPDatagram
	ICMP      *ICMPMessage
	// Encap, if not nil, carries the packet inside UDP (RFC 8899 style
	// tunnelling that FreeBSD calls UDP encapsulation): "/udp(1 > 9811)".
	Encap *UDPEncap
}

// SeqMode says how a sequence number in a script is to be read.
type SeqMode int

const (
	// SeqRelative numbers count from the sender's initial sequence number.
	SeqRelative SeqMode = iota
	// SeqAbsolute numbers ("0:0(0)!") are the raw 32-bit value.
	SeqAbsolute
	// SeqIgnored ("...(0)") accepts any sequence number.
	SeqIgnored
)

// TCP header flags (RFC 9293 section 3.1, RFC 3168 section 6.1).
const (
	FlagFIN uint8 = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

// FlagString renders TCP flags the way scripts write them: "S.", "F.",
// "P.", "." for a bare ACK, "-" for none.
func FlagString(flags uint8) string {
	var b strings.Builder
	for _, f := range []struct {
		bit uint8
		c   byte
	}{{FlagSYN, 'S'}, {FlagFIN, 'F'}, {FlagRST, 'R'}, {FlagPSH, 'P'}, {FlagURG, 'U'}, {FlagECE, 'E'}, {FlagCWR, 'W'}} {
		if flags&f.bit != 0 {
			b.WriteByte(f.c)
		}
	}
	if flags&FlagACK != 0 {
		b.WriteByte('.')
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// TCPSegment is the TCP part of a packet event.
type TCPSegment struct {
	// SrcPort and DstPort are set only when the script names them
	// ("1234 > 8080"); zero means the runner's defaults.
	SrcPort, DstPort uint16
	Flags            uint8
	SeqMode          SeqMode
	Seq              uint32
	Len              uint16
	// Ack is the acknowledgment number the script gives (0 if absent).
	Ack uint32
	// Window is the window field, or -1 when the script leaves it out.
	Window int32
	Urgent uint16
	// AnyOptions is set by "<...>": outbound options are not checked.
	AnyOptions bool
	// Options are the options in order; empty means "no options".
	Options []TCPOption
}

// OptionKind names a TCP option.
type OptionKind int

// TCP option kinds the scripts use (RFC 9293, 7323, 2018, 2385, 7413).
const (
	OptEOL OptionKind = iota
	OptNOP
	OptMSS
	OptWScale
	OptSACKPermitted
	OptSACK
	OptTimestamp
	OptMD5
	OptFastOpen
)

// SACKBlock is one left:right range of a SACK option, in relative
// sequence numbers.
type SACKBlock struct {
	Left, Right uint32
}

// TCPOption is one option of a packet event.
type TCPOption struct {
	Kind   OptionKind
	MSS    uint16
	Shift  uint8
	Blocks []SACKBlock
	TSVal  uint32
	TSEcr  uint32
	// TSValIgnored is "TS val ...": any value.
	TSValIgnored bool
	// TSEcrAbsolute is "ecr 5!": not translated.
	TSEcrAbsolute bool
	// MD5 is "valid", "invalid" or the hex digest given.
	MD5 string
	// Cookie is the TCP Fast Open cookie.
	Cookie []byte
}

// String renders the option in script syntax.
func (o TCPOption) String() string {
	switch o.Kind {
	case OptEOL:
		return "eol"
	case OptNOP:
		return "nop"
	case OptMSS:
		return fmt.Sprintf("mss %d", o.MSS)
	case OptWScale:
		return fmt.Sprintf("wscale %d", o.Shift)
	case OptSACKPermitted:
		return "sackOK"
	case OptSACK:
		parts := make([]string, len(o.Blocks))
		for i, b := range o.Blocks {
			parts[i] = fmt.Sprintf("%d:%d", b.Left, b.Right)
		}
		return "sack " + strings.Join(parts, " ")
	case OptTimestamp:
		val := fmt.Sprint(o.TSVal)
		if o.TSValIgnored {
			val = "..."
		}
		ecr := fmt.Sprint(o.TSEcr)
		if o.TSEcrAbsolute {
			ecr += "!"
		}
		return "TS val " + val + " ecr " + ecr
	case OptMD5:
		return "md5 " + o.MD5
	case OptFastOpen:
		return fmt.Sprintf("FO %x", o.Cookie)
	}
	return "?"
}

// UDPDatagram is the UDP part of a packet event: "udp (100)".
type UDPDatagram struct {
	SrcPort, DstPort uint16
	Len              uint16
}

// UDPEncap is the outer UDP header of an encapsulated packet.
type UDPEncap struct {
	SrcPort, DstPort uint16
}

// ICMPMessage is the ICMP part of a packet event, such as
// "icmp unreachable frag_needed mtu 1234 [1:1(0)]".
type ICMPMessage struct {
	Type string
	Code string
	// MTU is the next-hop MTU of "frag_needed", or -1.
	MTU int
	// Echoed describes the TCP segment quoted in an error message: its
	// sequence number (relative to the stack's ISN) and length.
	EchoedSeq uint32
	EchoedLen uint16
	// EchoedProto is the protocol of the quoted packet.
	EchoedProto Protocol
}

// String renders the packet in script syntax.
func (p *Packet) String() string {
	var b strings.Builder
	if p.Direction == Inbound {
		b.WriteString("<")
	} else {
		b.WriteString(">")
	}
	switch p.IP.TOSCheck {
	case TOSCheckECN:
		b.WriteString(" [" + [...]string{"noecn", "ect1", "ect0", "ce"}[p.IP.TOS&3] + "]")
	case TOSCheckECT01:
		b.WriteString(" [ect01]")
	case TOSCheckFull:
		fmt.Fprintf(&b, " (tos 0x%x)", p.IP.TOS)
	}
	if p.IP.TTL != 0 {
		fmt.Fprintf(&b, " (ttl %d)", p.IP.TTL)
	}
	switch p.Protocol {
	case ProtoTCP:
		t := p.TCP
		if t.SrcPort != 0 || t.DstPort != 0 {
			fmt.Fprintf(&b, " %d > %d", t.SrcPort, t.DstPort)
		}
		b.WriteString(" " + FlagString(t.Flags) + " ")
		switch t.SeqMode {
		case SeqIgnored:
			fmt.Fprintf(&b, "...(%d)", t.Len)
		case SeqAbsolute:
			fmt.Fprintf(&b, "%d:%d(%d)!", t.Seq, t.Seq+uint32(t.Len), t.Len)
		default:
			fmt.Fprintf(&b, "%d:%d(%d)", t.Seq, t.Seq+uint32(t.Len), t.Len)
		}
		if t.Flags&FlagACK != 0 || t.Ack != 0 {
			fmt.Fprintf(&b, " ack %d", t.Ack)
		}
		if t.Window >= 0 {
			fmt.Fprintf(&b, " win %d", t.Window)
		}
		if t.Urgent != 0 {
			fmt.Fprintf(&b, " urg %d", t.Urgent)
		}
		if t.AnyOptions {
			b.WriteString(" <...>")
		} else if len(t.Options) > 0 {
			parts := make([]string, len(t.Options))
			for i, o := range t.Options {
				parts[i] = o.String()
			}
			b.WriteString(" <" + strings.Join(parts, ",") + ">")
		}
	case ProtoUDP:
		fmt.Fprintf(&b, " udp (%d)", p.UDP.Len)
	case ProtoICMP:
		b.WriteString(" icmp " + p.ICMP.Type)
		if p.ICMP.Code != "" {
			b.WriteString(" " + p.ICMP.Code)
		}
		if p.ICMP.MTU >= 0 {
			fmt.Fprintf(&b, " mtu %d", p.ICMP.MTU)
		}
		if p.ICMP.EchoedProto == ProtoTCP {
			fmt.Fprintf(&b, " [%d:%d(%d)]", p.ICMP.EchoedSeq, p.ICMP.EchoedSeq+uint32(p.ICMP.EchoedLen), p.ICMP.EchoedLen)
		}
	}
	if p.Encap != nil {
		fmt.Fprintf(&b, "/udp(%d > %d)", p.Encap.SrcPort, p.Encap.DstPort)
	}
	return b.String()
}

// Syscall is a socket call with its expected result:
// "connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)".
type Syscall struct {
	Name string
	Args []Expr
	// Result is the expected return value.
	Result Expr
	// Errno is the expected errno name ("EINPROGRESS"), empty if none.
	Errno string
	// Note is the parenthesised text after the result or errno.
	Note string
	// Blocking is set for "...END name(...)": the call is expected to
	// block and return at End.
	Blocking bool
	End      time.Duration
}

// String renders the call in script syntax.
func (s *Syscall) String() string {
	var b strings.Builder
	if s.Blocking {
		fmt.Fprintf(&b, "...%.6g ", s.End.Seconds())
	}
	args := make([]string, len(s.Args))
	for i, a := range s.Args {
		args[i] = a.String()
	}
	fmt.Fprintf(&b, "%s(%s) = %s", s.Name, strings.Join(args, ", "), s.Result)
	if s.Errno != "" {
		b.WriteString(" " + s.Errno)
	}
	if s.Note != "" {
		b.WriteString(" (" + s.Note + ")")
	}
	return b.String()
}

// Command is a backquoted shell command.
type Command struct {
	Text string
}

// String renders the command in script syntax.
func (c *Command) String() string { return "`" + c.Text + "`" }

// Code is a "%{ ... }%" snippet (Python in packetdrill).
type Code struct {
	Text string
}

// String renders the snippet in script syntax.
func (c *Code) String() string { return "%{ " + c.Text + " }%" }

func (*Packet) action()  {}
func (*Syscall) action() {}
func (*Command) action() {}
func (*Code) action()    {}

// Expr is a system call argument or result: one of Ellipsis, Int, Word,
// String, List, Struct, Binary or Call.
type Expr interface {
	String() string
	expr()
}

// Ellipsis is "...": any value (an argument the runner fills in).
type Ellipsis struct{}

// Int is an integer, written in decimal or (Hex) in hex.
type Int struct {
	Value int64
	Hex   bool
}

// Word is a symbol such as SOCK_STREAM or O_NONBLOCK.
type Word struct{ Name string }

// String is a quoted string.
type String struct{ Value string }

// List is "[a, b]": in packetdrill, a pointer to the values.
type List struct{ Elems []Expr }

// Struct is "{a, b=c}", a C struct literal.
type Struct struct{ Fields []Expr }

// Binary is "a | b" or "name = value" inside a struct.
type Binary struct {
	Op   string
	L, R Expr
}

// Call is "htons(8080)" or "inet_addr("1.2.3.4")".
type Call struct {
	Name string
	Args []Expr
}

// String renders "...".
func (Ellipsis) String() string { return "..." }

// String renders the number in the base it was written in.
func (i Int) String() string {
	if i.Hex {
		return fmt.Sprintf("%#x", i.Value)
	}
	return fmt.Sprint(i.Value)
}

// String renders the symbol.
func (w Word) String() string { return w.Name }

// String renders the quoted string.
func (s String) String() string { return fmt.Sprintf("%q", s.Value) }

// String renders "[a, b]".
func (l List) String() string { return "[" + joinExprs(l.Elems) + "]" }

// String renders "{a, b}".
func (s Struct) String() string { return "{" + joinExprs(s.Fields) + "}" }

// String renders "a | b" or "name = value".
func (b Binary) String() string { return b.L.String() + " " + b.Op + " " + b.R.String() }

// String renders "name(args)".
func (c Call) String() string { return c.Name + "(" + joinExprs(c.Args) + ")" }

func joinExprs(es []Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}

func (Ellipsis) expr() {}
func (Int) expr()      {}
func (Word) expr()     {}
func (String) expr()   {}
func (List) expr()     {}
func (Struct) expr()   {}
func (Binary) expr()   {}
func (Call) expr()     {}
