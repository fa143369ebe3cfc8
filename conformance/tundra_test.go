package conformance

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tundra-net/tundra/packetdrill"
	"github.com/tundra-net/tundra/packetdrill/stacktarget"
)

// ownScriptsDir holds tundra's own scripts for the classic exchanges of
// RFC 9293 (handshakes, closes, resets), written for its defaults.
const ownScriptsDir = "tundra"

// TestTundraScripts runs every script in tundra/ against the stack's
// default configuration (the packetdrill.Tundra profile) and requires
// each one to pass: unlike the FreeBSD suite, these scripts state what
// tundra must do, so there is no expectations file for them.
func TestTundraScripts(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(ownScriptsDir, "*.pkt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no scripts in %s", ownScriptsDir)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".pkt"), func(t *testing.T) {
			s, err := packetdrill.ParseFile(path, packetdrill.ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			profile := packetdrill.Tundra()
			var trace strings.Builder
			err = packetdrill.Run(s, packetdrill.RunOptions{NewTarget: stacktarget.New, Profile: &profile, Trace: &trace})
			if err != nil {
				t.Errorf("%v\ntrace (tundra packetdrill -profile tundra -v %s):\n%s", err, path, trace.String())
			}
		})
	}
}
