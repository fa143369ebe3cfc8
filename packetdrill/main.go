package packetdrill

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// CLI is the command-line front end behind "tundra packetdrill". It holds
// the stack to test; Main parses flags, runs each script on a fresh target
// and prints one line per script.
type CLI struct {
	// NewTarget builds the stack under test for each script.
	NewTarget TargetFactory
	// Profile, if not nil, replaces FreeBSD() as the starting profile.
	Profile *Profile
}

// defineFlags collects repeated -D flags.
type defineFlags []string

func (d *defineFlags) String() string     { return strings.Join(*d, ",") }
func (d *defineFlags) Set(v string) error { *d = append(*d, v); return nil }

// Main runs "packetdrill [flags] SCRIPT|DIR...". It prints "PASS path" or
// "FAIL path: reason" for each script (directories are searched for .pkt
// files, in name order) and ends with "N passed, M failed". It returns 0
// when every script passed, 1 when one failed, and 2 on a usage error.
func (c CLI) Main(args []string, stdout io.Writer) int {
	fset := flag.NewFlagSet("packetdrill", flag.ContinueOnError)
	fset.SetOutput(stdout)
	var defines defineFlags
	fset.Var(&defines, "D", "define `NAME` for #ifdef in scripts (repeatable; default STANDARD)")
	tolerance := fset.Duration("tolerance", 0, "timing tolerance, overriding each script's --tolerance_usecs")
	verbose := fset.Bool("v", false, "print a trace of every event before each script's result")
	keepGoing := fset.Bool("k", false, "keep going after a failed check, to count every difference (the script still fails)")
	strictEnd := fset.Bool("strict-end", false, "also fail on a packet sent after a script's last event (packetdrill does not look there)")
	profileName := fset.String("profile", "", "start from the `NAME`d profile: freebsd (the FreeBSD suite's defaults) or tundra (the stack's own defaults, for conformance/tundra)")
	fset.Usage = func() {
		fmt.Fprintln(stdout, "usage: packetdrill [-v] [-k] [-strict-end] [-D NAME]... [-tolerance D] [-profile NAME] SCRIPT|DIR...")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		return 2
	}
	if fset.NArg() == 0 {
		fset.Usage()
		return 2
	}
	if c.NewTarget == nil {
		fmt.Fprintln(stdout, "packetdrill: no target stack configured")
		return 2
	}
	if *profileName != "" {
		p, err := ProfileNamed(*profileName)
		if err != nil {
			fmt.Fprintf(stdout, "packetdrill: %v\n", err)
			return 2
		}
		c.Profile = &p
	}
	if len(defines) == 0 {
		defines = defineFlags{"STANDARD"}
	}
	paths, err := collectScripts(fset.Args())
	if err != nil {
		fmt.Fprintf(stdout, "packetdrill: %v\n", err)
		return 2
	}
	passed, failed := 0, 0
	for _, path := range paths {
		var trace io.Writer
		if *verbose {
			trace = stdout
		}
		err := c.runFile(path, RunOptions{Tolerance: *tolerance, Trace: trace, KeepGoing: *keepGoing, StrictEnd: *strictEnd}, defines)
		if err == nil {
			passed++
			fmt.Fprintf(stdout, "PASS %s\n", path)
			continue
		}
		failed++
		fmt.Fprintf(stdout, "FAIL %s: %s\n", path, reason(path, err))
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

func (c CLI) runFile(path string, opts RunOptions, defines []string) error {
	s, err := ParseFile(path, ParseOptions{Defines: defines})
	if err != nil {
		return err
	}
	opts.NewTarget, opts.Profile = c.NewTarget, c.Profile
	return Run(s, opts)
}

// reason shortens an error for the one-line report: the path is already
// printed, so a leading "path:" becomes "line N:".
func reason(path string, err error) string {
	var f *Failure
	var perr *Error
	msg := err.Error()
	switch {
	case errors.As(err, &f):
		msg = fmt.Sprintf("line %d: ", f.Pos.Line)
		if f.Event != "" {
			msg += f.Event + ": "
		}
		msg += f.Msg
		if f.Later > 0 {
			msg += fmt.Sprintf(" (and %d later failures)", f.Later)
		}
	case errors.As(err, &perr):
		msg = fmt.Sprintf("line %d:%d: parse error: %s", perr.Pos.Line, perr.Pos.Col, perr.Msg)
	}
	return strings.ReplaceAll(strings.TrimPrefix(msg, path+":"), "\n", " ")
}

// collectScripts expands directories into the .pkt files below them.
func collectScripts(args []string) ([]string, error) {
	var paths []string
	for _, arg := range args {
		info, err := os.Stat(arg)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			paths = append(paths, arg)
			continue
		}
		var found []string
		err = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".pkt") {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		paths = append(paths, found...)
	}
	return paths, nil
}
