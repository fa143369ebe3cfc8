package stack

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/tundra-net/tundra/tcp"
)

// TCPConnInfo describes one TCP connection, like a line of `ss -tni`.
type TCPConnInfo struct {
	Local, Remote netip.AddrPort
	State         tcp.State
	Stats         tcp.Stats
}

// TCPConnections returns every TCP connection of the stack that is not
// CLOSED (TIME-WAIT included), sorted by local and then remote address.
// Listening sockets are not connections and are not listed.
func (s *Stack) TCPConnections() []TCPConnInfo {
	conns := s.TCPConns()
	infos := make([]TCPConnInfo, 0, len(conns))
	for _, c := range conns {
		st := c.Stats()
		infos = append(infos, TCPConnInfo{
			Local:  netip.AddrPortFrom(netip.AddrFrom4(c.id.LocalAddr), c.id.LocalPort),
			Remote: netip.AddrPortFrom(netip.AddrFrom4(c.id.RemoteAddr), c.id.RemotePort),
			State:  st.State,
			Stats:  st,
		})
	}
	sort.Slice(infos, func(i, j int) bool {
		if c := infos[i].Local.Compare(infos[j].Local); c != 0 {
			return c < 0
		}
		return infos[i].Remote.Compare(infos[j].Remote) < 0
	})
	return infos
}

// String formats the connection the way `ss -tni` does: state, receive
// and send queues, addresses, then the internals.
func (i TCPConnInfo) String() string {
	st := &i.Stats
	s := fmt.Sprintf("%-12s %6d %6d %21s %21s", i.State, st.ReceiveBuffered, st.SendBuffered, i.Local, i.Remote)
	s += fmt.Sprintf("\n\t mss:%d cwnd:%d ssthresh:%d rto:%v", st.SendMSS, st.CongestionWindow, st.SlowStartThresh, st.RTO)
	if st.SRTT > 0 {
		s += fmt.Sprintf(" rtt:%v/%v", st.SRTT, st.RTTVar)
	}
	if st.SendWindowShift >= 0 {
		s += fmt.Sprintf(" wscale:%d,%d", st.SendWindowShift, st.RecvWindowShift)
	}
	s += fmt.Sprintf(" bytes_sent:%d bytes_acked:%d bytes_received:%d segs_out:%d segs_in:%d unacked:%d retrans:%d",
		st.BytesSent, st.BytesAcked, st.BytesReceived, st.SegmentsSent, st.SegmentsReceived, st.BytesInFlight, st.Retransmissions)
	return s
}
