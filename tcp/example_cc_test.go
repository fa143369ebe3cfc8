package tcp_test

import (
	"fmt"
	"time"

	"github.com/tundra-net/tundra/tcp"
)

// constantWindow is the smallest congestion control there is: a fixed
// window of segments, whatever happens. A real one grows in OnAck and
// shrinks in OnLoss and OnTimeout; see NewReno and Cubic.
type constantWindow struct{ bytes int }

func (w *constantWindow) Name() string                       { return "constant" }
func (w *constantWindow) CongestionWindow() int              { return w.bytes }
func (w *constantWindow) SlowStartThreshold() int            { return w.bytes }
func (w *constantWindow) OnAck(tcp.AckSample)                {}
func (w *constantWindow) OnLoss(inFlight int, now time.Time) {}
func (w *constantWindow) OnRecoveryEnd(now time.Time)        {}
func (w *constantWindow) OnTimeout(inFlight int, now time.Time) {
}
func (w *constantWindow) OnIdleRestart(now time.Time) {}

type discard struct{}

func (discard) SendSegment(tcp.FourTuple, tcp.HeaderFields, tcp.Payload) {}

// A congestion control in a few lines, registered by name and chosen with
// Config.CongestionControl. Stats shows which one a connection runs.
func ExampleRegisterCongestionControl() {
	tcp.RegisterCongestionControl("constant", func(mss int) tcp.CongestionControl {
		return &constantWindow{bytes: 4 * mss}
	})
	cfg := tcp.DefaultConfig()
	cfg.CongestionControl = "constant"
	c := tcp.NewConn(cfg, tcp.FourTuple{LocalPort: 40000, RemotePort: 80}, 1000, discard{})
	st := c.Stats()
	fmt.Println(st.CongestionControl, st.CongestionWindow)

	// The default is CUBIC, starting from the initial window of RFC 6928.
	st = tcp.NewConn(tcp.DefaultConfig(), tcp.FourTuple{}, 1000, discard{}).Stats()
	fmt.Println(st.CongestionControl, st.CongestionWindow)
	// Output:
	// constant 2144
	// cubic 5360
}
