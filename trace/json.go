package trace

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/tundra-net/tundra/tcp"
)

// JSONLines returns a subscriber that writes each event to w as one JSON
// object per line, for tools (jq, plotting scripts). Times are
// nanoseconds since the first event written; durations are microseconds.
// Sequence numbers, SACK blocks and timestamps are relative, as in
// Event's Rel fields.
// Subscribe it with tracer.Subscribe(trace.All, trace.JSONLines(w)). Write
// errors stop the output; the returned function's later calls do nothing.
func JSONLines(w io.Writer) func(*Event) {
	var (
		mu     sync.Mutex
		enc    = json.NewEncoder(w)
		start  time.Time
		failed bool
	)
	return func(e *Event) {
		mu.Lock()
		defer mu.Unlock()
		if failed {
			return
		}
		if start.IsZero() {
			start = e.Time
		}
		if enc.Encode(jsonEventOf(e, start)) != nil {
			failed = true
		}
	}
}

// jsonEvent is the JSON form of an Event.
type jsonEvent struct {
	T        int64   `json:"t_ns"`
	Kind     string  `json:"kind"`
	Local    string  `json:"local"`
	Remote   string  `json:"remote"`
	Flags    string  `json:"flags,omitempty"`
	Seq      *uint32 `json:"seq,omitempty"` // pointers: present on every segment, even when 0
	Ack      *uint32 `json:"ack,omitempty"`
	Len      int     `json:"len,omitempty"`
	Window   uint16  `json:"win,omitempty"`
	Options  string  `json:"options,omitempty"`
	Retrans  bool    `json:"retransmission,omitempty"`
	Summary  string  `json:"summary,omitempty"`
	From     string  `json:"from,omitempty"`
	To       string  `json:"to,omitempty"`
	Cause    string  `json:"cause,omitempty"`
	Cwnd     int     `json:"cwnd,omitempty"`
	Ssthresh int     `json:"ssthresh,omitempty"`
	SRTT     int64   `json:"srtt_us,omitempty"`
	RTO      int64   `json:"rto_us,omitempty"`
	InFlight int     `json:"inflight,omitempty"`
}

func jsonEventOf(e *Event, start time.Time) jsonEvent {
	j := jsonEvent{T: e.Time.Sub(start).Nanoseconds(), Kind: e.Kind.String(),
		Local: e.Local().String(), Remote: e.Remote().String()}
	switch e.Kind {
	case SegmentIn, SegmentOut:
		seq, ack := e.RelSeq, e.RelAck
		j.Flags, j.Seq, j.Len, j.Window = FlagsString(e.Fields.Flags), &seq, e.PayloadLen, e.Fields.Window
		if e.Fields.Flags&tcp.FlagACK != 0 {
			j.Ack = &ack
		}
		j.Options, j.Retrans, j.Summary = e.RelOptions.String(), e.Retransmission, e.Summary
	case StateChange:
		j.From, j.To, j.Cause = e.From.String(), e.To.String(), e.Cause.String()
	case Congestion:
		j.Cwnd, j.Ssthresh, j.InFlight = e.CongestionWindow, e.SlowStartThresh, e.BytesInFlight
		j.SRTT, j.RTO = e.SRTT.Microseconds(), e.RTO.Microseconds()
	}
	return j
}
