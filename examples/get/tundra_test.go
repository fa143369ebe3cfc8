package main

import (
	"strings"
	"testing"
)

// TestAttachStackRefusesBadAddress: -addr must be an IPv4 address; the
// check comes before any device is touched, so it needs no root.
func TestAttachStackRefusesBadAddress(t *testing.T) {
	for _, addr := range []string{"", "not-an-address", "2001:db8::1", "198.18.0.2:80"} {
		st, err := attachStack("tundra-none", addr, 0)
		if err == nil {
			st.Close()
			t.Fatalf("attachStack accepted -addr %q", addr)
		}
		if !strings.Contains(err.Error(), "is not an IPv4 address") {
			t.Errorf("-addr %q: %v", addr, err)
		}
	}
}
