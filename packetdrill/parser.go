package packetdrill

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// ParseOptions tune parsing.
type ParseOptions struct {
	// Defines are the names that "#ifdef NAME" tests. The FreeBSD suite
	// uses STANDARD (what the RFCs ask) and FreeBSD (what FreeBSD does).
	Defines []string
}

// ParseFile reads and parses the script at path.
func ParseFile(path string, opts ParseOptions) (*Script, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, string(src), opts)
}

// Parse parses the text of a script; name is used in error messages. Every
// error is an *Error carrying the file, line and column.
func Parse(name, src string, opts ParseOptions) (*Script, error) {
	defines := make(map[string]bool, len(opts.Defines))
	for _, d := range opts.Defines {
		defines[d] = true
	}
	toks, err := tokenize(name, src, defines)
	if err != nil {
		return nil, err
	}
	p := &parser{file: name, toks: toks}
	return p.script()
}

// parser is a recursive-descent parser over the token slice. The grammar
// follows packetdrill's parser.y (google/packetdrill) and the additions of
// the FreeBSD fork the suite was written for (absolute "!" and ignored
// "..." sequence numbers, UDP encapsulation, "md5 valid").
type parser struct {
	file string
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) take() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) errorAt(pos Pos, format string, args ...any) error {
	return &Error{File: p.file, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// unexpected reports the current token as not what was wanted.
func (p *parser) unexpected(want string) error {
	t := p.peek()
	return p.errorAt(t.pos, "expected %s, found %s", want, t.describe())
}

func (p *parser) isPunct(c string) bool {
	t := p.peek()
	return t.kind == tokPunct && t.text == c
}

func (p *parser) isWord(w string) bool {
	t := p.peek()
	return t.kind == tokWord && t.text == w
}

func (p *parser) acceptPunct(c string) bool {
	if p.isPunct(c) {
		p.take()
		return true
	}
	return false
}

func (p *parser) expectPunct(c string) (token, error) {
	if !p.isPunct(c) {
		return token{}, p.unexpected("'" + c + "'")
	}
	return p.take(), nil
}

func (p *parser) expectWord(w string) error {
	if !p.isWord(w) {
		return p.unexpected("'" + w + "'")
	}
	p.take()
	return nil
}

// integer reads a decimal integer within [lo, hi].
func (p *parser) integer(what string, lo, hi int64) (int64, error) {
	t := p.peek()
	if t.kind != tokInt {
		return 0, p.unexpected(what)
	}
	p.take()
	if t.num < lo || t.num > hi {
		return 0, p.errorAt(t.pos, "%s %d out of range [%d, %d]", what, t.num, lo, hi)
	}
	return t.num, nil
}

func (p *parser) script() (*Script, error) {
	s := &Script{Path: p.file}
	for p.peek().kind == tokOption {
		opt, err := p.option()
		if err != nil {
			return nil, err
		}
		s.Options = append(s.Options, opt)
	}
	if t := p.peek(); t.kind == tokBackquote {
		p.take()
		s.InitCommand = &Event{Pos: t.pos, Action: &Command{Text: t.text}}
	}
	for p.peek().kind != tokEOF {
		if t := p.peek(); t.kind == tokBackquote && p.peekAt(1).kind == tokEOF {
			// A trailing command without a time is the cleanup command;
			// it runs after the last event like any other command.
			p.take()
			s.Events = append(s.Events, Event{Pos: t.pos, Time: EventTime{Kind: RelativeTime}, Action: &Command{Text: t.text}})
			continue
		}
		ev, err := p.event()
		if err != nil {
			return nil, err
		}
		s.Events = append(s.Events, ev)
	}
	if len(s.Events) == 0 {
		return nil, p.errorAt(p.peek().pos, "script has no events")
	}
	return s, nil
}

func (p *parser) option() (Option, error) {
	t := p.take()
	opt := Option{Pos: t.pos, Name: t.text}
	if !p.acceptPunct("=") {
		return opt, nil
	}
	v := p.peek()
	switch v.kind {
	case tokInt, tokHex, tokFloat, tokWord, tokString, tokIPv4:
		p.take()
		opt.Value = v.text
	default:
		return opt, p.unexpected("a value for --" + t.text)
	}
	if v.kind == tokWord && p.acceptPunct("=") {
		// --define=NAME=value
		r := p.peek()
		switch r.kind {
		case tokInt, tokHex, tokWord, tokString, tokBackquote:
			p.take()
			opt.Value += "=" + r.text
		default:
			return opt, p.unexpected("a value after " + v.text + "=")
		}
	}
	return opt, nil
}

// timeValue reads a non-negative time in seconds.
func (p *parser) timeValue() (time.Duration, error) {
	t := p.peek()
	if t.kind != tokFloat && t.kind != tokInt {
		return 0, p.unexpected("a time")
	}
	p.take()
	if t.fnum < 0 {
		return 0, p.errorAt(t.pos, "negative time %s", t.text)
	}
	if t.fnum > 1e6 {
		return 0, p.errorAt(t.pos, "time %s is too large", t.text)
	}
	return time.Duration(math.Round(t.fnum*1e6)) * time.Microsecond, nil
}

func (p *parser) eventTime() (EventTime, error) {
	var et EventTime
	var err error
	switch {
	case p.acceptPunct("*"):
		et.Kind = AnyTime
		return et, nil
	case p.acceptPunct("+"):
		et.Kind = RelativeTime
		if et.Start, err = p.timeValue(); err != nil {
			return et, err
		}
		if p.isPunct("~") {
			p.take()
			if _, err := p.expectPunct("+"); err != nil {
				return et, err
			}
			et.Kind = RelativeRange
			if et.End, err = p.timeValue(); err != nil {
				return et, err
			}
		}
	default:
		et.Kind = AbsoluteTime
		if et.Start, err = p.timeValue(); err != nil {
			return et, err
		}
		if p.acceptPunct("~") {
			et.Kind = AbsoluteRange
			if et.End, err = p.timeValue(); err != nil {
				return et, err
			}
		}
	}
	return et, nil
}

func (p *parser) event() (Event, error) {
	start := p.peek().pos
	et, err := p.eventTime()
	if err != nil {
		return Event{}, err
	}
	if (et.Kind == AbsoluteRange || et.Kind == RelativeRange) && et.End < et.Start {
		return Event{}, p.errorAt(start, "time range is backwards")
	}
	ev := Event{Pos: start, Time: et}
	t := p.peek()
	switch {
	case t.kind == tokPunct && (t.text == "<" || t.text == ">"):
		pkt, err := p.packet()
		if err != nil {
			return ev, err
		}
		ev.Action = pkt
	case t.kind == tokBackquote:
		p.take()
		ev.Action = &Command{Text: t.text}
	case t.kind == tokCode:
		p.take()
		ev.Action = &Code{Text: t.text}
	case t.kind == tokWord || t.kind == tokEllipsis:
		sc, err := p.syscall()
		if err != nil {
			return ev, err
		}
		ev.Action = sc
	default:
		return ev, p.unexpected("a packet, system call, `command` or %{ code }%")
	}
	pkt, isPacket := ev.Action.(*Packet)
	outbound := isPacket && pkt.Direction == Outbound
	if et.Kind == AnyTime && !outbound {
		return ev, p.errorAt(start, "event time * can only be used with outbound packets")
	}
	if (et.Kind == AbsoluteRange || et.Kind == RelativeRange) && !outbound {
		return ev, p.errorAt(start, "event time range can only be used with outbound packets")
	}
	return ev, nil
}

// packet parses a packet event after the time.
func (p *parser) packet() (*Packet, error) {
	dir := p.take()
	pkt := &Packet{Direction: Inbound}
	if dir.text == ">" {
		pkt.Direction = Outbound
	}
	for p.isPunct("(") || p.isPunct("[") {
		if err := p.ipInfo(&pkt.IP); err != nil {
			return nil, err
		}
	}
	if pkt.IP.TOSCheck == TOSCheckECT01 && pkt.Direction == Inbound {
		return nil, p.errorAt(dir.pos, "[ect01] can only be used with outbound packets")
	}
	var err error
	switch {
	case p.isWord("icmp"):
		p.take()
		pkt.Protocol = ProtoICMP
		pkt.ICMP, err = p.icmp()
	case p.isWord("udp"):
		p.take()
		pkt.Protocol = ProtoUDP
		pkt.UDP, err = p.udp()
	default:
		pkt.Protocol = ProtoTCP
		pkt.TCP, err = p.tcp(pkt.Direction)
	}
	if err != nil {
		return nil, err
	}
	if p.isPunct("/") {
		p.take()
		if err := p.expectWord("udp"); err != nil {
			return nil, err
		}
		src, dst, err := p.portPairInParens()
		if err != nil {
			return nil, err
		}
		pkt.Encap = &UDPEncap{SrcPort: src, DstPort: dst}
	}
	return pkt, nil
}

// ipInfo parses "(tos 0x20)", "(ttl 64)", "[ect0]", "[noecn]" and the
// like, possibly several comma-separated items in one bracket.
func (p *parser) ipInfo(ip *IPInfo) error {
	open := p.take()
	closer := ")"
	if open.text == "[" {
		closer = "]"
	}
	for {
		t := p.peek()
		if t.kind != tokWord {
			return p.unexpected("tos, ttl or an ECN codepoint")
		}
		p.take()
		switch t.text {
		case "noecn", "ect1", "ect0", "ce":
			ip.TOSCheck = TOSCheckECN
			ip.TOS = map[string]uint8{"noecn": 0, "ect1": 1, "ect0": 2, "ce": 3}[t.text]
		case "ect01":
			ip.TOSCheck = TOSCheckECT01
		case "tos":
			v := p.peek()
			if v.kind != tokHex && v.kind != tokInt {
				return p.unexpected("a TOS value")
			}
			p.take()
			if v.num < 0 || v.num > 255 {
				return p.errorAt(v.pos, "tos %s out of range for 8 bits", v.text)
			}
			ip.TOSCheck = TOSCheckFull
			ip.TOS = uint8(v.num)
		case "ttl":
			v, err := p.integer("a TTL", 0, 255)
			if err != nil {
				return err
			}
			ip.TTL = uint8(v)
		default:
			return p.errorAt(t.pos, "unknown IP attribute %q", t.text)
		}
		if p.acceptPunct(",") {
			continue
		}
		_, err := p.expectPunct(closer)
		return err
	}
}

// portPairInParens parses "(src > dst)", the ports of a UDP encapsulation.
func (p *parser) portPairInParens() (uint16, uint16, error) {
	if _, err := p.expectPunct("("); err != nil {
		return 0, 0, err
	}
	src, dst, err := p.portPair()
	if err != nil {
		return 0, 0, err
	}
	if _, err := p.expectPunct(")"); err != nil {
		return 0, 0, err
	}
	return src, dst, nil
}

// flagBits maps the flag letters of a script to TCP header bits.
var flagBits = map[byte]uint8{
	'F': FlagFIN, 'S': FlagSYN, 'R': FlagRST, 'P': FlagPSH,
	'.': FlagACK, 'U': FlagURG, 'E': FlagECE, 'W': FlagCWR,
}

func (p *parser) tcp(dir Direction) (*TCPSegment, error) {
	seg := &TCPSegment{Window: -1}
	if t := p.peek(); t.kind == tokInt && p.peekAt(1).kind == tokPunct && p.peekAt(1).text == ">" {
		src, dst, err := p.portPair()
		if err != nil {
			return nil, err
		}
		seg.SrcPort, seg.DstPort = src, dst
	}
	// Flags: a word of letters optionally followed by '.', a lone '.', or
	// '-' for none.
	t := p.peek()
	switch {
	case t.kind == tokWord:
		p.take()
		for i := 0; i < len(t.text); i++ {
			bit, ok := flagBits[t.text[i]]
			if !ok || t.text[i] == '.' {
				return nil, p.errorAt(Pos{t.pos.Line, t.pos.Col + i}, "unknown TCP flag %q (want S F R P U E W or .)", t.text[i])
			}
			if seg.Flags&bit != 0 {
				return nil, p.errorAt(Pos{t.pos.Line, t.pos.Col + i}, "TCP flag %q given twice", t.text[i])
			}
			seg.Flags |= bit
		}
		if p.isPunct(".") {
			p.take()
			seg.Flags |= FlagACK
		}
	case t.kind == tokPunct && t.text == ".":
		p.take()
		seg.Flags = FlagACK
	case t.kind == tokPunct && t.text == "-":
		p.take()
	default:
		return nil, p.unexpected("TCP flags (such as S, S., F., ., -)")
	}
	if err := p.seq(seg); err != nil {
		return nil, err
	}
	if p.isWord("ack") {
		p.take()
		v, err := p.integer("an ack number", 0, math.MaxUint32)
		if err != nil {
			return nil, err
		}
		seg.Ack = uint32(v)
	}
	if p.isWord("win") {
		p.take()
		v, err := p.integer("a window", 0, 65535)
		if err != nil {
			return nil, err
		}
		seg.Window = int32(v)
	}
	if p.isWord("urg") {
		p.take()
		v, err := p.integer("an urgent pointer", 0, 65535)
		if err != nil {
			return nil, err
		}
		seg.Urgent = uint16(v)
	}
	if p.isPunct("<") {
		open := p.take()
		if p.peek().kind == tokEllipsis {
			p.take()
			if dir == Inbound {
				return nil, p.errorAt(open.pos, "<...> for TCP options can only be used with outbound packets")
			}
			seg.AnyOptions = true
		} else {
			opts, err := commaSeparated(p, p.tcpOption)
			if err != nil {
				return nil, err
			}
			seg.Options = opts
		}
		if _, err := p.expectPunct(">"); err != nil {
			return nil, err
		}
	}
	return seg, nil
}

// seq parses "1:1001(1000)", "0:0(0)!" or "...(0)".
func (p *parser) seq(seg *TCPSegment) error {
	if p.peek().kind == tokEllipsis {
		p.take()
		seg.SeqMode = SeqIgnored
		n, err := p.lengthInParens("a payload length")
		seg.Len = n
		return err
	}
	startTok := p.peek()
	start, err := p.integer("a sequence number (such as 1:1001(1000))", 0, math.MaxUint32)
	if err != nil {
		return err
	}
	if _, err := p.expectPunct(":"); err != nil {
		return err
	}
	end, err := p.integer("an end sequence number", 0, math.MaxUint32)
	if err != nil {
		return err
	}
	n, err := p.lengthInParens("a payload length")
	if err != nil {
		return err
	}
	if end != start+int64(n) {
		return p.errorAt(startTok.pos, "inconsistent TCP sequence numbers and payload size: %d:%d is not %d bytes", start, end, n)
	}
	seg.Seq, seg.Len = uint32(start), n
	if p.acceptAbsoluteMark() {
		seg.SeqMode = SeqAbsolute
	}
	return nil
}

// lengthInParens parses "(n)", a payload length of at most 65535 bytes;
// what names it in errors.
func (p *parser) lengthInParens(what string) (uint16, error) {
	if _, err := p.expectPunct("("); err != nil {
		return 0, err
	}
	n, err := p.integer(what, 0, 65535)
	if err != nil {
		return 0, err
	}
	if _, err := p.expectPunct(")"); err != nil {
		return 0, err
	}
	return uint16(n), nil
}

// acceptAbsoluteMark takes the FreeBSD fork's "!" written right after a
// sequence number or TS ecr value (no space between): the number is
// absolute, not relative to the script's initial sequence number.
func (p *parser) acceptAbsoluteMark() bool {
	if t := p.peek(); t.kind == tokPunct && t.text == "!" && !t.spaceBefore {
		p.take()
		return true
	}
	return false
}

// commaSeparated parses one or more items separated by commas, each with
// parseItem.
func commaSeparated[T any](p *parser, parseItem func() (T, error)) ([]T, error) {
	var items []T
	for {
		item, err := parseItem()
		if err != nil {
			return nil, err
		}
		items = append(items, item)
		if !p.acceptPunct(",") {
			return items, nil
		}
	}
}

func (p *parser) tcpOption() (TCPOption, error) {
	t := p.peek()
	if t.kind != tokWord {
		return TCPOption{}, p.unexpected("a TCP option (nop, eol, mss, wscale, sackOK, sack, TS, md5, FO)")
	}
	p.take()
	switch t.text {
	case "nop":
		return TCPOption{Kind: OptNOP}, nil
	case "eol":
		return TCPOption{Kind: OptEOL}, nil
	case "mss":
		v, err := p.integer("an MSS", 0, 65535)
		return TCPOption{Kind: OptMSS, MSS: uint16(v)}, err
	case "wscale":
		v, err := p.integer("a window scale shift count", 0, 255)
		return TCPOption{Kind: OptWScale, Shift: uint8(v)}, err
	case "sackOK":
		return TCPOption{Kind: OptSACKPermitted}, nil
	case "sack":
		opt := TCPOption{Kind: OptSACK}
		for p.peek().kind == tokInt {
			l, _ := p.integer("a SACK left edge", 0, math.MaxUint32)
			if _, err := p.expectPunct(":"); err != nil {
				return opt, err
			}
			r, err := p.integer("a SACK right edge", 0, math.MaxUint32)
			if err != nil {
				return opt, err
			}
			opt.Blocks = append(opt.Blocks, SACKBlock{uint32(l), uint32(r)})
		}
		if len(opt.Blocks) == 0 {
			return opt, p.unexpected("a SACK block (left:right)")
		}
		if len(opt.Blocks) > 4 {
			return opt, p.errorAt(t.pos, "a SACK option holds at most 4 blocks (RFC 2018 section 3)")
		}
		return opt, nil
	case "TS":
		opt := TCPOption{Kind: OptTimestamp}
		if err := p.expectWord("val"); err != nil {
			return opt, err
		}
		if p.peek().kind == tokEllipsis {
			p.take()
			opt.TSValIgnored = true
		} else {
			v, err := p.integer("a TS value", 0, math.MaxUint32)
			if err != nil {
				return opt, err
			}
			opt.TSVal = uint32(v)
		}
		if err := p.expectWord("ecr"); err != nil {
			return opt, err
		}
		v, err := p.integer("a TS echo reply", 0, math.MaxUint32)
		if err != nil {
			return opt, err
		}
		opt.TSEcr = uint32(v)
		opt.TSEcrAbsolute = p.acceptAbsoluteMark()
		return opt, nil
	case "md5":
		v := p.peek()
		if v.kind != tokWord && v.kind != tokInt && v.kind != tokHex {
			return TCPOption{}, p.unexpected("valid, invalid or a hex digest after md5")
		}
		p.take()
		if v.kind != tokWord || (v.text != "valid" && v.text != "invalid") {
			if _, err := hexBytes(v.text, 16); err != nil {
				return TCPOption{}, p.errorAt(v.pos, "md5 digest: %v", err)
			}
		}
		return TCPOption{Kind: OptMD5, MD5: v.text}, nil
	case "FO":
		opt := TCPOption{Kind: OptFastOpen}
		if v := p.peek(); v.kind == tokWord || v.kind == tokInt {
			p.take()
			b, err := hexBytes(v.text, 16)
			if err != nil {
				return opt, p.errorAt(v.pos, "fast open cookie: %v", err)
			}
			opt.Cookie = b
		}
		return opt, nil
	}
	return TCPOption{}, p.errorAt(t.pos, "unknown TCP option %q", t.text)
}

// hexBytes decodes an even-length hex string of at most max bytes.
func hexBytes(s string, max int) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, fmt.Errorf("%q has an odd number of hex digits", s)
	}
	if len(s)/2 > max {
		return nil, fmt.Errorf("%q is longer than %d bytes", s, max)
	}
	b := make([]byte, len(s)/2)
	for i := range b {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("%q is not a hex string", s)
		}
		b[i] = byte(v)
	}
	return b, nil
}

func (p *parser) icmp() (*ICMPMessage, error) {
	m := &ICMPMessage{MTU: -1, EchoedProto: ProtoTCP}
	t := p.peek()
	if t.kind != tokWord {
		return nil, p.unexpected("an ICMP type (unreachable, time_exceeded, ...)")
	}
	p.take()
	if _, ok := icmpTypes[t.text]; !ok {
		return nil, p.errorAt(t.pos, "unknown ICMP type %q", t.text)
	}
	m.Type = t.text
	if c := p.peek(); c.kind == tokWord && c.text != "mtu" && c.text != "id" {
		p.take()
		if _, ok := icmpCode(m.Type, c.text); !ok {
			return nil, p.errorAt(c.pos, "unknown code %q for ICMP %s", c.text, m.Type)
		}
		m.Code = c.text
	}
	if p.isWord("mtu") {
		p.take()
		v, err := p.integer("an MTU", 0, 65535)
		if err != nil {
			return nil, err
		}
		m.MTU = int(v)
	}
	if p.isWord("id") {
		p.take()
		if _, err := p.integer("an echo id", 0, 65535); err != nil {
			return nil, err
		}
	}
	if p.acceptPunct("[") {
		if p.isWord("udp") {
			p.take()
			m.EchoedProto = ProtoUDP
			n, err := p.lengthInParens("a UDP payload length")
			if err != nil {
				return nil, err
			}
			m.EchoedLen = n
		} else {
			var seg TCPSegment
			if err := p.seq(&seg); err != nil {
				return nil, err
			}
			m.EchoedSeq, m.EchoedLen = seg.Seq, seg.Len
		}
		if _, err := p.expectPunct("]"); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (p *parser) udp() (*UDPDatagram, error) {
	d := &UDPDatagram{}
	if t := p.peek(); t.kind == tokInt {
		src, dst, err := p.portPair()
		if err != nil {
			return nil, err
		}
		d.SrcPort, d.DstPort = src, dst
	}
	n, err := p.lengthInParens("a UDP payload length")
	if err != nil {
		return nil, err
	}
	d.Len = n
	return d, nil
}

// portPair parses "src > dst".
func (p *parser) portPair() (uint16, uint16, error) {
	src, err := p.integer("a port", 0, 65535)
	if err != nil {
		return 0, 0, err
	}
	if _, err := p.expectPunct(">"); err != nil {
		return 0, 0, err
	}
	dst, err := p.integer("a port", 0, 65535)
	return uint16(src), uint16(dst), err
}

func (p *parser) syscall() (*Syscall, error) {
	sc := &Syscall{}
	if p.peek().kind == tokEllipsis {
		p.take()
		end, err := p.timeValue()
		if err != nil {
			return nil, err
		}
		sc.Blocking, sc.End = true, end
	}
	name := p.peek()
	if name.kind != tokWord {
		return nil, p.unexpected("a system call name")
	}
	p.take()
	sc.Name = name.text
	if _, err := p.expectPunct("("); err != nil {
		return nil, err
	}
	args, err := p.exprsUntil(")")
	if err != nil {
		return nil, err
	}
	sc.Args = args
	if _, err := p.expectPunct("="); err != nil {
		return nil, err
	}
	res, err := p.expr()
	if err != nil {
		return nil, err
	}
	sc.Result = res
	if t := p.peek(); t.kind == tokWord {
		p.take()
		sc.Errno = t.text
	}
	if p.isPunct("(") {
		note, err := p.note()
		if err != nil {
			return nil, err
		}
		sc.Note = note
	}
	return sc, nil
}

// note reads "(free text)" after a result and returns the text.
func (p *parser) note() (string, error) {
	open := p.take()
	var words []string
	for !p.isPunct(")") {
		t := p.peek()
		if t.kind == tokEOF {
			return "", p.errorAt(open.pos, "unterminated note: missing ')'")
		}
		p.take()
		words = append(words, t.text)
	}
	p.take()
	return strings.Join(words, " "), nil
}

// exprsUntil parses a comma-separated list of expressions, possibly
// empty (nil), up to and including the closing punctuation closer: the
// arguments of a system call or a function-like word, the elements of a
// [list] and the fields of a {struct}.
func (p *parser) exprsUntil(closer string) ([]Expr, error) {
	var list []Expr
	if !p.isPunct(closer) {
		var err error
		if list, err = commaSeparated(p, p.expr); err != nil {
			return nil, err
		}
	}
	if _, err := p.expectPunct(closer); err != nil {
		return nil, err
	}
	return list, nil
}

// expr parses an expression: primaries joined by '|'.
func (p *parser) expr() (Expr, error) {
	e, err := p.primary()
	if err != nil {
		return nil, err
	}
	for p.isPunct("|") {
		p.take()
		r, err := p.primary()
		if err != nil {
			return nil, err
		}
		e = Binary{Op: "|", L: e, R: r}
	}
	return e, nil
}

func (p *parser) primary() (Expr, error) {
	t := p.peek()
	switch t.kind {
	case tokEllipsis:
		p.take()
		return Ellipsis{}, nil
	case tokInt:
		p.take()
		return Int{Value: t.num}, nil
	case tokHex:
		p.take()
		return Int{Value: t.num, Hex: true}, nil
	case tokString:
		p.take()
		s := t.text
		for p.peek().kind == tokString {
			s += p.take().text
		}
		if p.peek().kind == tokEllipsis {
			p.take()
		}
		return String{Value: s}, nil
	case tokWord:
		p.take()
		if p.isPunct("(") {
			p.take()
			args, err := p.exprsUntil(")")
			if err != nil {
				return nil, err
			}
			return Call{Name: t.text, Args: args}, nil
		}
		if p.isPunct("=") {
			p.take()
			r, err := p.expr()
			if err != nil {
				return nil, err
			}
			return Binary{Op: "=", L: Word{t.text}, R: r}, nil
		}
		return Word{Name: t.text}, nil
	case tokPunct:
		switch t.text {
		case "[":
			p.take()
			elems, err := p.exprsUntil("]")
			if err != nil {
				return nil, err
			}
			return List{Elems: elems}, nil
		case "{":
			p.take()
			fields, err := p.exprsUntil("}")
			if err != nil {
				return nil, err
			}
			return Struct{Fields: fields}, nil
		}
	}
	return nil, p.unexpected("an expression")
}
