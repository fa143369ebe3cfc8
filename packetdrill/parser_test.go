package packetdrill

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, src string, defines ...string) *Script {
	t.Helper()
	s, err := Parse("t.pkt", src, ParseOptions{Defines: defines})
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	return s
}

func TestParseTimes(t *testing.T) {
	s := mustParse(t, `
0.100 > S 0:0(0) <...>
+0.1 > S 0:0(0) <...>
* > S 0:0(0) <...>
1~2 > S 0:0(0) <...>
+0.5~+1.5 > S 0:0(0) <...>
2 close(3) = 0
+ 0.25 close(4) = 0
`)
	want := []EventTime{
		{AbsoluteTime, 100 * time.Millisecond, 0},
		{RelativeTime, 100 * time.Millisecond, 0},
		{AnyTime, 0, 0},
		{AbsoluteRange, time.Second, 2 * time.Second},
		{RelativeRange, 500 * time.Millisecond, 1500 * time.Millisecond},
		{AbsoluteTime, 2 * time.Second, 0},
		{RelativeTime, 250 * time.Millisecond, 0},
	}
	for i, ev := range s.Events {
		if ev.Time != want[i] {
			t.Errorf("event %d time %+v, want %+v", i, ev.Time, want[i])
		}
		if ev.Pos.Line != i+2 || ev.Pos.Col != 1 {
			t.Errorf("event %d at %v, want %d:1", i, ev.Pos, i+2)
		}
	}
}

func TestParseTCPPackets(t *testing.T) {
	s := mustParse(t, `
0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 6>
0 < P. 1:1001(1000) ack 1 win 257
0 > [ect0] . 1:1(0) ack 1001 win 65535 <nop,nop,TS val ... ecr 7!>
0 < (tos 0x28) R. 0:0(0) ack 4294967295 win 0
0 > (ttl 4) R. 0:0(0)! ack 2 win 0
0 > SEW ...(0) <...>
0 < - 1:1(0) win 1 urg 5 <sack 1:2 3:4,eol>
0 < 1234 > 8080 F. 1:1(0) ack 1 win 1
`)
	segs := make([]*TCPSegment, len(s.Events))
	for i, ev := range s.Events {
		segs[i] = ev.Action.(*Packet).TCP
	}
	checks := []struct {
		got, want any
	}{
		{s.Events[0].Action.(*Packet).Direction, Inbound},
		{segs[0].Flags, FlagSYN},
		{segs[0].Window, int32(32792)},
		{len(segs[0].Options), 6},
		{segs[0].Options[5], TCPOption{Kind: OptWScale, Shift: 7}},
		{s.Events[1].Action.(*Packet).Direction, Outbound},
		{segs[1].Flags, FlagSYN | FlagACK},
		{segs[1].Window, int32(-1)},
		{segs[1].Ack, uint32(1)},
		{segs[2].Seq, uint32(1)},
		{segs[2].Len, uint16(1000)},
		{segs[2].Flags, FlagPSH | FlagACK},
		{s.Events[3].Action.(*Packet).IP, IPInfo{TOSCheck: TOSCheckECN, TOS: uint8(ECT0)}},
		{segs[3].Options[2], TCPOption{Kind: OptTimestamp, TSValIgnored: true, TSEcr: 7, TSEcrAbsolute: true}},
		{s.Events[4].Action.(*Packet).IP, IPInfo{TOSCheck: TOSCheckFull, TOS: 0x28}},
		{segs[4].Ack, uint32(4294967295)},
		{s.Events[5].Action.(*Packet).IP.TTL, uint8(4)},
		{segs[5].SeqMode, SeqAbsolute},
		{segs[6].Flags, FlagSYN | FlagECE | FlagCWR},
		{segs[6].SeqMode, SeqIgnored},
		{segs[6].AnyOptions, true},
		{segs[7].Flags, uint8(0)},
		{segs[7].Urgent, uint16(5)},
		{segs[7].Options[0].Blocks, []SACKBlock{{1, 2}, {3, 4}}},
		{[2]uint16{segs[8].SrcPort, segs[8].DstPort}, [2]uint16{1234, 8080}},
	}
	for i, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("check %d: got %+v, want %+v", i, c.got, c.want)
		}
	}
}

func TestParseOtherPackets(t *testing.T) {
	s := mustParse(t, `
0 < icmp unreachable frag_needed mtu 1234 [1:1(0)]
0 <icmp time_exceeded ttl_exceeded_in_transit [4294967295:4294967295(0)]
0 < icmp parameter_problem code_2 [0:0(0)]
0 < udp (100)
0 < F. 1:1(0) ack 1 win 32767/udp(1 > 9811)
`)
	icmp := s.Events[0].Action.(*Packet).ICMP
	if icmp.Type != "unreachable" || icmp.Code != "frag_needed" || icmp.MTU != 1234 || icmp.EchoedSeq != 1 {
		t.Errorf("icmp %+v", icmp)
	}
	if icmp := s.Events[1].Action.(*Packet).ICMP; icmp.EchoedSeq != 4294967295 || icmp.MTU != -1 {
		t.Errorf("icmp %+v", icmp)
	}
	if code, ok := icmpCode("parameter_problem", s.Events[2].Action.(*Packet).ICMP.Code); !ok || code != 2 {
		t.Errorf("code_2 gave %d %v", code, ok)
	}
	if u := s.Events[3].Action.(*Packet).UDP; u.Len != 100 {
		t.Errorf("udp %+v", u)
	}
	if e := s.Events[4].Action.(*Packet).Encap; e == nil || e.SrcPort != 1 || e.DstPort != 9811 {
		t.Errorf("encap %+v", e)
	}
}

func TestParseSyscalls(t *testing.T) {
	s := mustParse(t, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
0 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)
0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0
1.00...6.00 connect(3, ..., ...) = -1 ETIMEDOUT (Operation timed out)
0 write (3, ..., 10) = 10
0 bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.0.2.1")}, 16) = 0
0 read(3, ..., 1) = -1 EWOULDBLOCK (Operation would block)
`)
	calls := make([]*Syscall, len(s.Events))
	for i, ev := range s.Events {
		calls[i] = ev.Action.(*Syscall)
	}
	if got := calls[0].String(); got != "socket(..., SOCK_STREAM, IPPROTO_TCP) = 3" {
		t.Errorf("socket renders as %q", got)
	}
	if c := calls[1]; c.Result != (Int{Value: 2, Hex: true}) || c.Note != "flags O_RDWR" || c.Errno != "" {
		t.Errorf("fcntl: %+v", c)
	}
	if got := calls[2].Args[2]; !reflect.DeepEqual(got, Binary{Op: "|", L: Word{"O_RDWR"}, R: Word{"O_NONBLOCK"}}) {
		t.Errorf("flags argument %#v", got)
	}
	if c := calls[3]; c.Result != (Int{Value: -1}) || c.Errno != "EINPROGRESS" || c.Note != "Operation now in progress" {
		t.Errorf("connect: %+v", c)
	}
	if got := calls[4].Args[3]; !reflect.DeepEqual(got, List{Elems: []Expr{Word{"ECONNRESET"}}}) {
		t.Errorf("getsockopt value %#v", got)
	}
	if c := calls[5]; !c.Blocking || c.End != 6*time.Second || s.Events[5].Time.Start != time.Second {
		t.Errorf("blocking connect: %+v at %+v", c, s.Events[5].Time)
	}
	if calls[6].Name != "write" {
		t.Errorf("name %q", calls[6].Name)
	}
	sa, ok := calls[7].Args[1].(Struct)
	if !ok || len(sa.Fields) != 3 || sa.Fields[1].String() != "sin_port = htons(8080)" || sa.Fields[2].String() != `sin_addr = inet_addr("192.0.2.1")` {
		t.Errorf("sockaddr %#v", calls[7].Args[1])
	}
	if calls[8].Errno != "EWOULDBLOCK" {
		t.Errorf("errno %q", calls[8].Errno)
	}
}

func TestParseHeaderAndCommands(t *testing.T) {
	s := mustParse(t, "--ip_version=ipv4\n--tolerance_usecs=50000\n--define=X=\"y\"\n--verbose\n"+
		"`kldload foo;\n echo bar`\n"+
		"0 `sysctl -w net.inet.tcp.rfc1323=1`\n"+
		"+0 %{ assert tcpi_state == TCPI_LISTEN }%\n"+
		"/* a C comment\n spanning lines */ +0 close(3) = 0// trailing comment\n"+
		"`cleanup`\n")
	if v, ok := s.Option("tolerance_usecs"); !ok || v != "50000" {
		t.Errorf("tolerance %q %v", v, ok)
	}
	if v, _ := s.Option("define"); v != "X=y" {
		t.Errorf("define %q", v)
	}
	if _, ok := s.Option("verbose"); !ok {
		t.Error("flag option without value lost")
	}
	if ic := s.InitCommand; ic == nil || ic.Action.(*Command).Text != "kldload foo;\n echo bar" || ic.Pos != (Pos{5, 1}) {
		t.Errorf("init command %+v", s.InitCommand)
	}
	if c := s.Events[0].Action.(*Command); c.Text != "sysctl -w net.inet.tcp.rfc1323=1" {
		t.Errorf("command %q", c.Text)
	}
	if c := s.Events[1].Action.(*Code); c.Text != "assert tcpi_state == TCPI_LISTEN" {
		t.Errorf("code %q", c.Text)
	}
	if ev := s.Events[2]; ev.Pos.Line != 10 || ev.Action.(*Syscall).Name != "close" {
		t.Errorf("close event %+v", ev)
	}
	if c := s.Events[3].Action.(*Command); c.Text != "cleanup" {
		t.Errorf("cleanup %q", c.Text)
	}
}

func TestPreprocessor(t *testing.T) {
	src := `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
#ifdef STANDARD
+0 close(3) = 0
#else
+0 close(4) = 0
#endif
#ifndef FreeBSD
+0 close(5) = 0
#ifdef STANDARD
+0 close(6) = 0
#endif
#endif
`
	fds := func(s *Script) []string {
		var out []string
		for _, ev := range s.Events[1:] {
			out = append(out, ev.Action.(*Syscall).Args[0].String())
		}
		return out
	}
	if got := fds(mustParse(t, src, "STANDARD")); !reflect.DeepEqual(got, []string{"3", "5", "6"}) {
		t.Errorf("STANDARD: %v", got)
	}
	if got := fds(mustParse(t, src, "FreeBSD")); !reflect.DeepEqual(got, []string{"4"}) {
		t.Errorf("FreeBSD: %v", got)
	}
	if got := fds(mustParse(t, src)); !reflect.DeepEqual(got, []string{"4", "5"}) {
		t.Errorf("no defines: %v", got)
	}
}

// TestParseErrors checks that each malformed script is rejected with an
// *Error at the right line and column and a message that says what is
// wrong.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		src       string
		line, col int
		msg       string
	}{
		{"0 > S 0:0(0) win 65535 <mss>", 1, 28, "expected an MSS, found '>'"},
		{"0 < S 0:10(0) win 1", 1, 7, "inconsistent TCP sequence numbers"},
		{"0 < Q 0:0(0) win 1", 1, 5, `unknown TCP flag 'Q'`},
		{"0 < SS 0:0(0) win 1", 1, 6, `TCP flag 'S' given twice`},
		{"0 < S 0:0(0) win 70000", 1, 18, "a window 70000 out of range"},
		{"0 < S 0:0(0) win 1 <...>", 1, 20, "<...> for TCP options can only be used with outbound packets"},
		{"* close(3) = 0", 1, 1, "event time * can only be used with outbound packets"},
		{"1~2 < S 0:0(0) win 1", 1, 1, "event time range can only be used with outbound packets"},
		{"2~1 > S 0:0(0)", 1, 1, "time range is backwards"},
		{"0 close(3)", 1, 11, "expected '=', found end of file"},
		{"0 close(3) = 0\n+0.1 bogus", 2, 11, "expected '(', found end of file"},
		{"0 `sysctl", 1, 3, "unterminated backquoted command"},
		{"0 %{ assert", 1, 3, "unterminated %{ code block"},
		{"#ifdef X\n0 close(3) = 0\n", 1, 1, "#ifdef without #endif"},
		{"#endif\n", 1, 1, "#endif without #ifdef"},
		{"#include <x>\n", 1, 1, `unknown preprocessor directive "#include"`},
		{"0 < icmp unreachable bogus_code [0:0(0)]", 1, 22, `unknown code "bogus_code" for ICMP unreachable`},
		{"0 < S 0:0(0) win 1 <sack>", 1, 25, "expected a SACK block"},
		{"0 < S 0:0(0) win 1 <FO 123>", 1, 24, "odd number of hex digits"},
		{"0 close(3) = 0\n  @", 2, 3, "unexpected character '@'"},
		{"--ip_version=(\n0 close(3) = 0", 1, 14, "expected a value for --ip_version, found '('"},
		{"", 1, 1, "script has no events"},
		{"0 > (tos 0x100) S 0:0(0)", 1, 10, "tos 0x100 out of range for 8 bits"},
		{"0 < [ect01] S 0:0(0) win 1", 1, 3, "[ect01] can only be used with outbound packets"},
		{"0 < udp 1 > 2 (70000)", 1, 16, "a UDP payload length 70000 out of range"},
		{"0 < udp 1 > 2 (5", 1, 17, "expected ')', found end of file"},
		{"0 < icmp unreachable port_unreachable [udp (70000)]", 1, 45, "a UDP payload length 70000 out of range"},
		{"0 < S 0:0(0) win 1 / udp (1 > 70000)", 1, 31, "a port 70000 out of range"},
		{"0 < 70000 > 80 S 0:0(0) win 1", 1, 5, "a port 70000 out of range"},
		{"0 < 80 > 70000 S 0:0(0) win 1", 1, 10, "a port 70000 out of range"},
		{"0 < S 0:0(0) win 1 / udp (1 2)", 1, 29, "expected '>', found '2'"},
		{"0 < S 0:0(0) win 1 <mss 1000, >", 1, 31, "expected a TCP option"},
		{"0 > S. 0:0(0) ack 1 <TS val 1 ecr 2 !>", 1, 37, "expected '>', found '!'"}, // "!" only right after the number
		{"0 close({1) = 0", 1, 11, "expected '}', found ')'"},
		{"0 close([1, 2) = 0", 1, 14, "expected ']', found ')'"},
		{"0 close(f(1) = 0", 1, 14, "expected ')', found '='"},
	}
	for _, c := range cases {
		_, err := Parse("bad.pkt", c.src, ParseOptions{})
		var perr *Error
		if !errors.As(err, &perr) {
			t.Errorf("%q: got %v, want an *Error", c.src, err)
			continue
		}
		if perr.Pos.Line != c.line || perr.Pos.Col != c.col || !strings.Contains(perr.Msg, c.msg) {
			t.Errorf("%q: got %v, want bad.pkt:%d:%d: ...%s...", c.src, err, c.line, c.col, c.msg)
		}
		if want := "bad.pkt:"; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: error %q does not start with the file name", c.src, err)
		}
	}
}

// TestStringRoundTrip: an event rendered by String parses back to the
// same event.
func TestStringRoundTrip(t *testing.T) {
	src := `
0 < (tos 0x28) S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,TS val 5 ecr 0,nop,wscale 7>
0 > [ect0] P. 1:1001(1000) ack 1 win 65535 <nop,nop,sack 1:2 3:4>
0 > R. 0:0(0)! ack 2 win 0
0 > S. ...(0) ack 1 <...>
0 < icmp unreachable frag_needed mtu 1234 [1:1(0)]
0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0
0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
`
	s := mustParse(t, src)
	var b strings.Builder
	for _, ev := range s.Events {
		b.WriteString("0 " + ev.Action.String() + "\n")
	}
	s2 := mustParse(t, b.String())
	for i := range s.Events {
		if !reflect.DeepEqual(s.Events[i].Action, s2.Events[i].Action) {
			t.Errorf("event %d: %s\nreparsed as %s", i, s.Events[i].Action, s2.Events[i].Action)
		}
	}
}
