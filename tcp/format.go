package tcp

import (
	"strconv"
	"strings"
)

// String prints the options present much as tcpdump does, without the
// padding: "mss 1460,wscale 7,sackOK,TS val 1 ecr 0,sack 1 {10:20}". It
// prints "" for no options.
func (o Options) String() string {
	var sb strings.Builder
	sep := func() {
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
	}
	if o.HasMSS {
		sep()
		sb.WriteString("mss ")
		sb.WriteString(strconv.Itoa(int(o.MSS)))
	}
	if o.HasWindowScale {
		sep()
		sb.WriteString("wscale ")
		sb.WriteString(strconv.Itoa(int(o.WindowScale)))
	}
	if o.SACKPermitted {
		sep()
		sb.WriteString("sackOK")
	}
	if o.HasTimestamps {
		sep()
		sb.WriteString("TS val ")
		sb.WriteString(strconv.FormatUint(uint64(o.TSVal), 10))
		sb.WriteString(" ecr ")
		sb.WriteString(strconv.FormatUint(uint64(o.TSEcr), 10))
	}
	if c := o.sackCount(); c > 0 {
		sep()
		sb.WriteString("sack ")
		sb.WriteString(strconv.Itoa(c))
		for _, b := range o.SACKBlocks[:c] {
			sb.WriteString(" {")
			sb.WriteString(strconv.FormatUint(uint64(b.Left), 10))
			sb.WriteByte(':')
			sb.WriteString(strconv.FormatUint(uint64(b.Right), 10))
			sb.WriteByte('}')
		}
	}
	return sb.String()
}

// String prints a one-line summary for traces and ladders:
// "SYN|ACK seq=300 ack=101 win=65535 <mss 1460,wscale 7>". The
// acknowledgment number is printed only with ACK, options only when
// present.
func (f HeaderFields) String() string {
	var sb strings.Builder
	sb.WriteString(f.Flags.String())
	sb.WriteString(" seq=")
	sb.WriteString(strconv.FormatUint(uint64(f.Seq), 10))
	if f.Flags&FlagACK != 0 {
		sb.WriteString(" ack=")
		sb.WriteString(strconv.FormatUint(uint64(f.Ack), 10))
	}
	sb.WriteString(" win=")
	sb.WriteString(strconv.Itoa(int(f.Window)))
	if o := f.Options.String(); o != "" {
		sb.WriteString(" <")
		sb.WriteString(o)
		sb.WriteByte('>')
	}
	return sb.String()
}
