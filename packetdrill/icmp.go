package packetdrill

import (
	"strconv"
	"strings"
)

// icmpTypes maps the ICMP type names scripts use to their numbers
// (RFC 792; packetdrill's icmp_packet.c uses the same names).
var icmpTypes = map[string]uint8{
	"echo_reply":        0,
	"unreachable":       3,
	"source_quench":     4,
	"redirect":          5,
	"echo_request":      8,
	"time_exceeded":     11,
	"parameter_problem": 12,
}

// icmpCodes maps code names to numbers, per type (RFC 792, RFC 1812
// section 5.2.7.1 for codes 9 to 15 of Destination Unreachable).
var icmpCodes = map[string]map[string]uint8{
	"unreachable": {
		"net_unreachable":          0,
		"host_unreachable":         1,
		"protocol_unreachable":     2,
		"port_unreachable":         3,
		"frag_needed":              4,
		"source_route_failed":      5,
		"net_unknown":              6,
		"host_unknown":             7,
		"source_host_isolated":     8,
		"net_prohibited":           9,
		"host_prohibited":          10,
		"net_unreachable_for_tos":  11,
		"host_unreachable_for_tos": 12,
		"packet_filtered":          13,
		"precedence_violation":     14,
		"precedence_cutoff":        15,
	},
	"redirect": {
		"net":          0,
		"host":         1,
		"tos_net":      2,
		"tos_host":     3,
		"redirect_net": 0,
	},
	"time_exceeded": {
		"ttl_exceeded_in_transit": 0,
		"frag_reass_exceeded":     1,
	},
}

// icmpCode returns the number of a code name for the given type. Any type
// also accepts "code_N" with N in 0..255.
func icmpCode(typ, name string) (uint8, bool) {
	if rest, ok := strings.CutPrefix(name, "code_"); ok {
		n, err := strconv.ParseUint(rest, 10, 8)
		return uint8(n), err == nil
	}
	c, ok := icmpCodes[typ][name]
	return c, ok
}
