package tcp

import (
	"testing"
	"time"
)

// peerByte and ourByte give the content of each byte of the two streams by
// its absolute sequence number, so that any delivered or emitted byte can
// be checked wherever it came from.
func peerByte(s Seq) byte { return byte(uint32(s)*31 + 7) }
func ourByte(s Seq) byte  { return byte(uint32(s)*17 + 3) }

// FuzzConnSegments feeds random segments, user calls and clock steps to a
// listening or an established Conn and checks its invariants after each
// step: SND.UNA <= SND.NXT <= SND.MAX, buffers and reassembly within their
// limits, the advertised window within the free buffer, delivered bytes
// exactly the peer's stream in order, emitted data exactly ours, and no
// timer left due after HandleTimer (the stack would spin).
func FuzzConnSegments(f *testing.F) {
	f.Add([]byte{0, 0x02, 0, 0, 0, 0, 200, 0, 0, 0x10, 0, 1, 0, 1, 200, 10, 0})
	f.Add([]byte{1, 0x10, 0, 1, 0, 0, 100, 5, 1, 5, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 0x18, 0, 5, 0, 0, 50, 40, 3, 0x18, 0, 1, 0, 0, 50, 4, 0, 0x11, 0, 45, 0, 0, 50, 0, 0})
	f.Add([]byte{1, 0x04, 0, 1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		cfg := testConfig()
		cfg.ReceiveBufferSize = 3000
		cfg.SendBufferSize = 2500
		cfg.ReassemblyLimit = 1200
		cfg.MSS = 500
		cfg.DelayedAck = 10 * time.Millisecond
		cfg.KeepAlive, cfg.KeepAliveIdle, cfg.KeepAliveInterval = true, time.Second, 100*time.Millisecond
		out := &recorder{}
		c := NewConn(cfg, testID, localISS, out)
		now := epoch
		if data[0]%2 == 0 {
			c.Listen()
		} else {
			c.Connect(now)
			c.HandleSegment(Segment{HeaderFields: HeaderFields{Seq: remoteISS, Ack: localISS + 1,
				Flags: FlagSYN | FlagACK, Window: 4000}}, now)
		}
		data = data[1:]
		delivered := 0 // bytes of the peer's stream read so far
		written := 0   // bytes of our stream written so far
		readBuf := make([]byte, 768)
		writeBuf := make([]byte, 1024)
		for len(data) >= 8 {
			rec := data[:8]
			data = data[8:]
			switch op := rec[0] >> 5; op {
			case 5: // Write
				n := int(rec[1]) * 4
				for i := range n {
					writeBuf[i] = ourByte(localISS + 1 + Seq(written+i))
				}
				w, _ := c.Write(writeBuf[:n], now)
				written += w
			case 6: // Read
				n, _ := c.Read(readBuf[:int(rec[1])*3], now)
				for i := range n {
					if readBuf[i] != peerByte(c.irs+1+Seq(delivered+i)) {
						t.Fatalf("delivered byte %d is wrong", delivered+i)
					}
				}
				delivered += n
			case 7: // time passes
				now = now.Add(time.Duration(rec[1]) * 10 * time.Millisecond)
				if d, ok := c.Deadline(); ok && !now.Before(d) {
					c.HandleTimer(now)
					if d, ok := c.Deadline(); ok && !d.After(now) {
						t.Fatalf("a timer is still due after HandleTimer (state %v)", c.State())
					}
				}
				switch rec[2] {
				case 1:
					c.Close(now)
				case 2:
					c.Shutdown(ShutdownWrite, now)
				case 3:
					c.Abort(now)
				}
			default: // a segment from the peer
				flags := Flags(rec[1]) & (FlagSYN | FlagFIN | FlagRST | FlagPSH | FlagACK)
				seq := remoteISS + Seq(int16(uint16(rec[2])<<8|uint16(rec[3])))
				ack := localISS + Seq(int16(uint16(rec[4])<<8|uint16(rec[5])))
				payload := make([]byte, int(rec[6])*3)
				start := seq
				if flags&FlagSYN != 0 {
					start++
				}
				for i := range payload {
					payload[i] = peerByte(start + Seq(i))
				}
				c.HandleSegment(Segment{HeaderFields: HeaderFields{Seq: seq, Ack: ack, Flags: flags,
					Window: uint16(rec[7]) * 20, Options: Options{HasMSS: rec[7]&1 == 1, MSS: uint16(rec[7]) * 8}},
					Payload: payload}, now)
			}
			checkInvariants(t, c, out)
		}
	})
}

func checkInvariants(t *testing.T, c *Conn, out *recorder) {
	t.Helper()
	if c.sndNxt.LessThan(c.sndUna) || c.sndMax.LessThan(c.sndNxt) {
		t.Fatalf("SND.UNA %d <= SND.NXT %d <= SND.MAX %d violated", c.sndUna, c.sndNxt, c.sndMax)
	}
	if c.sendBuf.len() > c.sendBuf.cap() || c.recvBuf.len() > c.recvBuf.cap() {
		t.Fatal("a ring holds more than its size")
	}
	if c.ooo.bytes > c.cfg.ReassemblyLimit || c.ooo.bytes < 0 {
		t.Fatalf("reassembly holds %d bytes, limit %d", c.ooo.bytes, c.cfg.ReassemblyLimit)
	}
	if c.state.synchronized() && c.state != TimeWait {
		if w := int(c.rcvRight.Sub(c.rcvNxt)); w > c.recvBuf.free() || w < 0 {
			t.Fatalf("advertised window %d exceeds free buffer %d", w, c.recvBuf.free())
		}
		for i := 0; i < c.ooo.n; i++ {
			r := c.ooo.r[i]
			if !c.rcvNxt.LessThan(r.start) || !r.start.LessThan(r.end) || r.end.GreaterThan(c.rcvRight) ||
				(i > 0 && !c.ooo.r[i-1].end.LessThan(r.start)) {
				t.Fatalf("out-of-order range %d [%d,%d) invalid (RCV.NXT %d, right %d)", i, r.start, r.end, c.rcvNxt, c.rcvRight)
			}
		}
	}
	for _, s := range out.segs {
		if s.Flags&FlagSYN != 0 && len(s.Payload) > 0 {
			t.Fatal("data on our SYN")
		}
		for j, b := range s.Payload {
			if b != ourByte(s.Seq+Seq(j)) {
				t.Fatalf("emitted byte at seq %d is not our stream's", s.Seq+Seq(j))
			}
		}
		if len(s.Payload) > c.cfg.MSS {
			t.Fatalf("segment of %d bytes exceeds MSS %d", len(s.Payload), c.cfg.MSS)
		}
	}
	out.segs = out.segs[:0]
}
