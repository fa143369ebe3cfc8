package packetdrill

import (
	"os"
	"testing"
)

// BenchmarkParseScript parses one typical suite script (about 60 lines).
func BenchmarkParseScript(b *testing.B) {
	path := suiteDir + "/snippets/close-wait-ipv4.pkt"
	src, err := os.ReadFile(path)
	if err != nil {
		b.Skipf("suite not available: %v", err)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(path, string(src), ParseOptions{Defines: []string{"STANDARD"}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunPassiveOpen runs a 20-event script (handshake, data, close)
// against the in-test fake TCP: the runner's own cost per script.
func BenchmarkRunPassiveOpen(b *testing.B) {
	s, err := Parse("bench.pkt", passiveOpen, ParseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Run(s, RunOptions{NewTarget: newFakeTarget}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatchOutbound measures matching one outbound segment with
// options against its expectation.
func BenchmarkMatchOutbound(b *testing.B) {
	s, err := Parse("m.pkt", "0 > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 7>\n", ParseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	want := s.Events[0].Action.(*Packet)
	opts, _ := encodeOptions(want.TCP.Options, nil)
	r := &runner{s: s, local: DefaultLocal, remote: DefaultRemote, flow: flowState{localPort: 8080, remotePort: remoteEphemeralPort}}
	pkt := buildIPv4(ipv4Fields{src: DefaultLocal, dst: DefaultRemote, proto: protoTCP},
		buildTCP(DefaultLocal, DefaultRemote, tcpFields{srcPort: 8080, dstPort: remoteEphemeralPort, seq: 99, ack: 1, flags: FlagSYN | FlagACK, window: 65535, options: opts}))
	b.ReportAllocs()
	for b.Loop() {
		if err := r.match(want, pkt); err != nil {
			b.Fatal(err)
		}
	}
}
