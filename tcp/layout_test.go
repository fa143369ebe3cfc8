package tcp

import (
	"bytes"
	"testing"
)

// TestLayoutBSD checks the FreeBSD option layouts the packetdrill suite
// expects byte for byte, and that every layout parses back to the same
// options.
func TestLayoutBSD(t *testing.T) {
	const nop, eol = OptionNOP, OptionEOL
	cases := []struct {
		name string
		opts Options
		want []byte
	}{
		{"mss,nop,wscale,sackOK,TS", Options{HasMSS: true, MSS: 1460, HasWindowScale: true, WindowScale: 6, SACKPermitted: true, HasTimestamps: true, TSVal: 100},
			[]byte{2, 4, 5, 180, nop, 3, 3, 6, 4, 2, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0}},
		{"mss,nop,wscale,nop,nop,TS", Options{HasMSS: true, MSS: 1460, HasWindowScale: true, WindowScale: 6, HasTimestamps: true, TSVal: 100},
			[]byte{2, 4, 5, 180, nop, 3, 3, 6, nop, nop, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0}},
		{"mss,sackOK,eol,eol", Options{HasMSS: true, MSS: 1460, SACKPermitted: true},
			[]byte{2, 4, 5, 180, 4, 2, eol, eol}},
		{"nop,nop,TS,nop,nop,sack", Options{HasTimestamps: true, TSVal: 1, TSEcr: 2, SACKBlockCount: 1, SACKBlocks: [MaxSACKBlocks]SACKBlock{{Left: 10, Right: 20}}},
			[]byte{nop, nop, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, nop, nop, 5, 10, 0, 0, 0, 10, 0, 0, 0, 20}},
	}
	for _, c := range cases {
		o := c.opts
		o.Layout = LayoutBSD
		if n := o.EncodedLen(); n != len(c.want) {
			t.Errorf("%s: EncodedLen %d, want %d", c.name, n, len(c.want))
		}
		b := make([]byte, 40)
		n, err := o.Encode(b)
		if err != nil || !bytes.Equal(b[:n], c.want) {
			t.Errorf("%s: encoded % x (%v), want % x", c.name, b[:n], err, c.want)
			continue
		}
		back, err := ParseOptions(b[:n])
		if err != nil {
			t.Fatalf("%s: parse: %v", c.name, err)
		}
		back.Layout = LayoutBSD
		if back != o {
			t.Errorf("%s: parsed back %+v, want %+v", c.name, back, o)
		}
	}
}
