package tcp

import "testing"

// RFC 9293 3.7.1: the MSS we announce is what our link carries, however
// small (a 72-byte MTU gives 32); the floor minSendMSS applies only to the
// segments we send.
func TestTinyLinkMSSAnnouncedAsIs(t *testing.T) {
	cfg := testConfig()
	cfg.MSS = 72 - 40
	s := newStepper(t, cfg)
	if err := s.c.Connect(s.now); err != nil {
		t.Fatal(err)
	}
	s.expect("SYN seq=1000 mss=32")
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 10000,
		Options: Options{HasMSS: true, MSS: 16}}, "")
	s.expect("ACK seq=1001 ack=5001")
	if got := s.c.SendMSS(); got != minSendMSS {
		t.Errorf("send MSS %d after the peer announced 16, want the floor %d", got, minSendMSS)
	}
}
