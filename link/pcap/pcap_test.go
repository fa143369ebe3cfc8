package pcap

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/internal/linktest"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/pipe"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// udpPacket builds a valid IPv4/UDP packet from 198.18.0.<from> to
// 198.18.0.<to> carrying payload, with gopacket so that the test does not
// depend on the code under test elsewhere in tundra.
func udpPacket(t testing.TB, from, to byte, payload string) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: []byte{198, 18, 0, from}, DstIP: []byte{198, 18, 0, to}}
	udp := &layers.UDP{SrcPort: 4000, DstPort: 9}
	udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		ip, udp, gopacket.Payload(payload))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func batch(n, size int) []link.Packet {
	pkts := make([]link.Packet, n)
	for i := range pkts {
		pkts[i].Data = make([]byte, 0, size)
	}
	return pkts
}

// record is one packet read back from a capture.
type record struct {
	data     []byte
	at       time.Time
	dir      pcapgo.NgEpbFlag
	comments []string
}

func readCapture(t *testing.T, capture []byte) []record {
	t.Helper()
	r, err := pcapgo.NewNgReader(bytes.NewReader(capture), pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeRaw {
		t.Fatalf("link type %v, want raw IP", r.LinkType())
	}
	var recs []record
	for {
		data, ci, opts, err := r.ReadPacketDataWithOptions()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			t.Fatal(err)
		}
		rec := record{data: data, at: ci.Timestamp, comments: opts.Comments}
		if opts.Flags != nil {
			rec.dir = opts.Flags.Direction
		}
		recs = append(recs, rec)
	}
}

// TestCaptureBothDirections runs a short exchange through a tee on one end
// of a pipe and checks every packet, direction, timestamp and comment in the
// capture, including the order of a held batch and the replies written
// while it was held.
func TestCaptureBothDirections(t *testing.T) {
	clk := clock.NewVirtual(epoch)
	us, peer := pipe.New(pipe.Options{})
	var capture bytes.Buffer
	tee, err := NewTee(us, &capture, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}

	// 1. The stack sends one packet.
	hello := udpPacket(t, 2, 1, "hello")
	tee.WritePackets([]link.Packet{{Data: hello}})
	clk.Advance(time.Millisecond)

	// 2. Three packets arrive in one batch; the stack drops the second...
	in1, in2, in3 := udpPacket(t, 1, 2, "one"), udpPacket(t, 1, 2, "two"), udpPacket(t, 1, 2, "three")
	peer.WritePackets([]link.Packet{{Data: in1}, {Data: in2}, {Data: in3}})
	pkts := batch(4, tee.MaxPacketSize())
	n, err := tee.ReadPackets(pkts)
	if n != 3 || err != nil {
		t.Fatalf("ReadPackets = %d, %v", n, err)
	}
	tee.PacketDropped(pkts[1].Data, "bad checksum")
	// ...and answers the first, while the batch is held.
	clk.Advance(time.Millisecond)
	reply := udpPacket(t, 2, 1, "re: one")
	tee.WritePackets([]link.Packet{{Data: reply}})
	// The stack reuses its buffers; the capture must keep what was read.
	for i := range pkts {
		pkts[i].Data = pkts[i].Data[:cap(pkts[i].Data)]
		clear(pkts[i].Data)
	}

	// 3. The next read writes the held batch out.
	clk.Advance(time.Millisecond)
	in4 := udpPacket(t, 1, 2, "four")
	peer.WritePackets([]link.Packet{{Data: in4}})
	if n, err := tee.ReadPackets(pkts); n != 1 || err != nil {
		t.Fatalf("second ReadPackets = %d, %v", n, err)
	}
	if err := tee.Flush(); err != nil {
		t.Fatal(err)
	}

	in, out := pcapgo.NgEpbFlagDirectionInbound, pcapgo.NgEpbFlagDirectionOutbound
	ms := time.Millisecond
	want := []record{
		{hello, epoch, out, nil},
		{in1, epoch.Add(ms), in, nil},
		{in2, epoch.Add(ms), in, []string{"dropped by tundra: bad checksum"}},
		{in3, epoch.Add(ms), in, nil},
		{reply, epoch.Add(2 * ms), out, nil},
		{in4, epoch.Add(3 * ms), in, nil},
	}
	got := readCapture(t, capture.Bytes())
	if len(got) != len(want) {
		t.Fatalf("capture has %d packets, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !bytes.Equal(g.data, w.data) || !g.at.Equal(w.at) || g.dir != w.dir || strings.Join(g.comments, "|") != strings.Join(w.comments, "|") {
			t.Errorf("packet %d: got %d bytes at %v dir %d comments %q; want %d bytes at %v dir %d comments %q",
				i, len(g.data), g.at, g.dir, g.comments, len(w.data), w.at, w.dir, w.comments)
		}
	}
}

func TestDropReportForwardedAndStale(t *testing.T) {
	us, peer := pipe.New(pipe.Options{})
	var inner, outer bytes.Buffer
	innerTee, _ := NewTee(us, &inner, Options{})
	outerTee, _ := NewTee(innerTee, &outer, Options{})
	peer.WritePackets([]link.Packet{{Data: udpPacket(t, 1, 2, "x")}})
	pkts := batch(1, 1500)
	outerTee.ReadPackets(pkts)
	outerTee.PacketDropped(pkts[0].Data, "no listener")
	// A report about a slice the tee never delivered changes nothing.
	outerTee.PacketDropped(make([]byte, 20), "stranger")
	outerTee.Close()
	for name, buf := range map[string]*bytes.Buffer{"outer": &outer, "inner": &inner} {
		recs := readCapture(t, buf.Bytes())
		if len(recs) != 1 || len(recs[0].comments) != 1 || recs[0].comments[0] != DropCommentPrefix+"no listener" {
			t.Errorf("%s capture: %+v", name, recs)
		}
	}
}

func TestOffloadComment(t *testing.T) {
	us, peer := pipe.New(pipe.Options{Offloads: link.Offloads{TSO4: true, Checksum: true}})
	defer peer.Close()
	var capture bytes.Buffer
	tee, _ := NewTee(us, &capture, Options{})
	big := make([]byte, 3000)
	big[0] = 0x45
	tee.WritePackets([]link.Packet{{Data: big, Offload: link.Offload{GSOType: link.GSOTCPv4, GSOSize: 1448, NeedsChecksum: true, ChecksumStart: 20, ChecksumOffset: 16}}})
	tee.Flush()
	recs := readCapture(t, capture.Bytes())
	if len(recs) != 1 || len(recs[0].comments) != 1 {
		t.Fatalf("capture: %+v", recs)
	}
	want := "TCP super-packet (TSO), segments of 1448 bytes; checksum left to the receiver (start 20, field at +16)"
	if recs[0].comments[0] != want {
		t.Fatalf("comment %q, want %q", recs[0].comments[0], want)
	}
}

func TestMaxHeld(t *testing.T) {
	us, peer := pipe.New(pipe.Options{})
	defer peer.Close()
	var capture bytes.Buffer
	tee, _ := NewTee(us, &capture, Options{MaxHeld: 2})
	peer.WritePackets([]link.Packet{{Data: udpPacket(t, 1, 2, "in")}})
	pkts := batch(1, 1500)
	tee.ReadPackets(pkts)
	out := []link.Packet{{Data: udpPacket(t, 2, 1, "a")}, {Data: udpPacket(t, 2, 1, "b")}, {Data: udpPacket(t, 2, 1, "c")}}
	tee.WritePackets(out)
	// The limit was reached: the batch and the first two replies are out,
	// the third is written directly.
	tee.PacketDropped(pkts[0].Data, "too late")
	tee.Flush()
	recs := readCapture(t, capture.Bytes())
	if len(recs) != 4 {
		t.Fatalf("%d packets, want 4", len(recs))
	}
	if recs[0].dir != pcapgo.NgEpbFlagDirectionInbound || len(recs[0].comments) != 0 {
		t.Fatalf("first record %+v", recs[0])
	}
}

type failingWriter struct{ after int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.after < len(p) {
		return 0, errors.New("disk full")
	}
	w.after -= len(p)
	return len(p), nil
}

func TestWriteErrorIsReported(t *testing.T) {
	us, peer := pipe.New(pipe.Options{})
	defer peer.Close()
	tee, err := NewTee(us, &failingWriter{after: 200}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		tee.WritePackets([]link.Packet{{Data: udpPacket(t, 2, 1, strings.Repeat("x", 500))}})
	}
	if err := tee.Flush(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Flush = %v, want the writer's error", err)
	}
	if err := tee.Close(); err == nil {
		t.Fatal("Close forgot the capture error")
	}
}

func TestCloseUnblocksReadAndFlushes(t *testing.T) {
	us, peer := pipe.New(pipe.Options{})
	defer peer.Close()
	var capture bytes.Buffer
	tee, _ := NewTee(us, &capture, Options{})
	peer.WritePackets([]link.Packet{{Data: udpPacket(t, 1, 2, "held")}})
	pkts := batch(1, 1500)
	tee.ReadPackets(pkts)
	linktest.CloseUnblocks(t, tee, "ReadPackets", func() error {
		_, err := tee.ReadPackets(pkts)
		return err
	})
	if recs := readCapture(t, capture.Bytes()); len(recs) != 1 {
		t.Fatalf("capture has %d packets after Close, want the held one", len(recs))
	}
}

func TestNoAllocationsInSteadyState(t *testing.T) {
	us, peer := pipe.New(pipe.Options{})
	tee, _ := NewTee(us, io.Discard, Options{Clock: clock.NewVirtual(epoch)})
	out := make([]link.Packet, 16)
	for i := range out {
		out[i].Data = udpPacket(t, 1, 2, strings.Repeat("p", 1000))
	}
	in, sink := batch(16, 1500), batch(16, 1500)
	round := func() {
		peer.WritePackets(out)
		tee.ReadPackets(in)
		tee.WritePackets(out) // held behind the batch just read
		peer.PollPackets(sink)
	}
	round()
	round()
	if allocs := testing.AllocsPerRun(100, round); allocs != 0 {
		t.Fatalf("%v allocations per round of 32 packets, want 0", allocs)
	}
}

// TestTsharkReadsCapture checks that Wireshark's decoder agrees with what
// the tee meant: IPv4 packets, directions and comments.
func TestTsharkReadsCapture(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed (apt-get install tshark); CI installs it")
	}
	us, peer := pipe.New(pipe.Options{})
	path := filepath.Join(t.TempDir(), "capture.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	tee, _ := NewTee(us, f, Options{})
	tee.WritePackets([]link.Packet{{Data: udpPacket(t, 2, 1, "out")}})
	peer.WritePackets([]link.Packet{{Data: udpPacket(t, 1, 2, "in")}})
	pkts := batch(1, 1500)
	tee.ReadPackets(pkts)
	tee.PacketDropped(pkts[0].Data, "port unreachable")
	if err := tee.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	out, err := exec.Command(tshark, "-r", path, "-T", "fields", "-E", "separator=|",
		"-e", "ip.src", "-e", "ip.dst", "-e", "udp.dstport", "-e", "frame.packet_flags_direction", "-e", "frame.comment").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{
		"198.18.0.2|198.18.0.1|9|2|",
		"198.18.0.1|198.18.0.2|9|1|dropped by tundra: port unreachable",
	}
	if len(lines) != len(want) {
		t.Fatalf("tshark printed:\n%s", out)
	}
	for i := range want {
		// Direction prints as 2/1 or 0x00000002/0x00000001 by version.
		got := strings.NewReplacer("0x00000002", "2", "0x00000001", "1").Replace(lines[i])
		if got != want[i] {
			t.Errorf("line %d: tshark says %q, want %q", i, lines[i], want[i])
		}
	}
}

// BenchmarkTee measures the cost of capturing: packets per second written
// and read through a tee over a pipe, into io.Discard.
func BenchmarkTee(b *testing.B) {
	us, peer := pipe.New(pipe.Options{})
	tee, _ := NewTee(us, io.Discard, Options{})
	out := make([]link.Packet, 32)
	for i := range out {
		out[i].Data = udpPacket(b, 1, 2, strings.Repeat("p", 1400))
	}
	in, sink := batch(32, 1500), batch(32, 1500)
	b.SetBytes(int64(2 * len(out) * len(out[0].Data)))
	b.ReportAllocs()
	for b.Loop() {
		peer.WritePackets(out)
		tee.ReadPackets(in)
		tee.WritePackets(out)
		peer.PollPackets(sink)
	}
	b.ReportMetric(float64(2*len(out)*b.N)/b.Elapsed().Seconds(), "pkts/s")
}

// A tee around a link.Poller is one too, and records what is polled
// through it as it records what is read.
func TestPoller(t *testing.T) {
	us, peer := pipe.New(pipe.Options{})
	var capture bytes.Buffer
	tee, err := NewTee(us, &capture, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !tee.CanPoll() {
		t.Fatal("a tee around a pipe cannot poll")
	}
	in := udpPacket(t, 1, 2, "polled")
	got := linktest.Poller(t, tee, func() {
		peer.WritePackets([]link.Packet{{Data: in}})
	})
	if !bytes.Equal(got, in) {
		t.Fatalf("polled % x, want % x", got, in)
	}
	// linktest.Poller closed the tee, which writes what it held.
	recs := readCapture(t, capture.Bytes())
	if len(recs) != 1 || !bytes.Equal(recs[0].data, in) || recs[0].dir != pcapgo.NgEpbFlagDirectionInbound {
		t.Fatalf("capture: %d records, first %+v; want the polled packet, inbound", len(recs), recs)
	}

	// Around an endpoint that cannot poll, the tee cannot either.
	us, _ = pipe.New(pipe.Options{})
	tee, err = NewTee(struct{ link.Endpoint }{us}, io.Discard, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tee.CanPoll() {
		t.Fatal("CanPoll around an endpoint without PollPackets")
	}
	if _, err := tee.PollPackets(make([]link.Packet, 1)); !errors.Is(err, link.ErrNotPollable) {
		t.Fatalf("PollPackets = %v, want link.ErrNotPollable", err)
	}
}
