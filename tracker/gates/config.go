package gates

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/porttracker/porttracker/evidence"
	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// Config keys of porting.db's config table that the gates read.
const (
	KeyTargetPackages = "target_packages" // space-separated package patterns: what -coverpkg instruments
	KeyModuleDir      = "module_dir"      // the Go module root, relative to porting.db's directory
	KeyUpstreamDir    = "upstream_dir"    // the upstream checkout, for the stub scan's comparison
	KeyGo             = "go"              // the go command
	KeyTimeout        = "gate_timeout"    // per command
	KeyJobs           = "jobs"            // parallel test processes
	KeyBuildCommand   = "build_command"   // JSON argv replacing go build + go vet (non-Go ports)
	KeyTestCommand    = "test_command"    // JSON argv writing a JUnit report (non-Go ports)
	KeyTestReport     = "test_report"     // where test_command writes its JUnit report
	KeyStubPatterns   = "stub_patterns"   // regexp for the stub scan of non-Go targets
	// KeyTestFlagsPrefix + package dir: extra go test build flags for that
	// package, e.g. "test_flags:./store" = "-race".
	KeyTestFlagsPrefix = "test_flags:"
)

// KeyInfo documents one config key.
type KeyInfo struct {
	Key     string
	Default string
	Help    string
	check   func(string) error
}

// Keys lists the config keys in display order (the test_flags: family is
// one entry).
func Keys() []KeyInfo {
	return []KeyInfo{
		{KeyTargetPackages, "./store/...", "space-separated target package patterns; coverage links instrument them", checkPatterns},
		{KeyModuleDir, ".", "the Go module root, relative to porting.db's directory", checkNonEmpty},
		{KeyUpstreamDir, "", "upstream checkout (holds server/...): trivial bodies are compared with upstream's; empty means $PORTTRACKER_UPSTREAM", nil},
		{KeyGo, "go", "the go command", checkNonEmpty},
		{KeyTimeout, evidence.DefaultTimeout.String(), "timeout of each gate command (a Go duration)", checkDuration},
		{KeyJobs, "0", "test processes run at once (0: one per CPU); -j overrides", checkJobs},
		{KeyBuildCommand, "", `JSON argv replacing go build + go vet, e.g. ["dotnet","build"]`, checkArgv},
		{KeyTestCommand, "", `JSON argv replacing go test; must write a JUnit report to test_report`, checkArgv},
		{KeyTestReport, "", "JUnit XML file test_command writes, relative to the module root", nil},
		{KeyStubPatterns, "", "regexp the stub scan refuses in non-Go targets, e.g. NotImplementedException|TODO|PLACEHOLDER", checkPattern},
		{KeyTestFlagsPrefix + "PKG", "", "extra go test build flags for package PKG, e.g. test_flags:./store = -race", nil},
	}
}

// CheckKeyName refuses an unknown config key (usage error).
func CheckKeyName(key string) error {
	if strings.HasPrefix(key, KeyTestFlagsPrefix) {
		return CheckKey(key, "")
	}
	for _, k := range Keys() {
		if k.Key == key {
			return nil
		}
	}
	return CheckKey(key, "")
}

// CheckKey validates a config key and value (usage errors).
func CheckKey(key, value string) error {
	if pkg, ok := strings.CutPrefix(key, KeyTestFlagsPrefix); ok {
		if pkg == "" || evidence.CleanPkg(pkg) != pkg {
			return tracker.Usagef("config key %q: write the package as ./dir (e.g. %s./store)", key, KeyTestFlagsPrefix)
		}
		return nil
	}
	for _, k := range Keys() {
		if k.Key == key {
			if k.check != nil {
				if err := k.check(value); err != nil {
					return tracker.Usagef("config %s: %v", key, err)
				}
			}
			return nil
		}
	}
	var names []string
	for _, k := range Keys() {
		names = append(names, k.Key)
	}
	return tracker.Usagef("unknown config key %q: want one of %s", key, strings.Join(names, ", "))
}

// DefaultValue is a key's default ("" when it has none).
func DefaultValue(key string) string {
	for _, k := range Keys() {
		if k.Key == key {
			return k.Default
		}
	}
	return ""
}

func checkNonEmpty(v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("must not be empty")
	}
	return nil
}

func checkPatterns(v string) error {
	if len(strings.Fields(v)) == 0 {
		return fmt.Errorf("give at least one package pattern, e.g. ./store/...")
	}
	for _, p := range strings.Fields(v) {
		if !strings.HasPrefix(p, "./") && p != "." {
			return fmt.Errorf("%q: patterns are relative to the module root (./store/...)", p)
		}
	}
	return nil
}

func checkDuration(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a positive duration (e.g. 10m)", v)
	}
	return nil
}

func checkJobs(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a count >= 0", v)
	}
	return nil
}

func checkArgv(v string) error {
	if v == "" {
		return nil
	}
	_, err := parseArgv(v)
	return err
}

func parseArgv(v string) ([]string, error) {
	var argv []string
	if err := json.Unmarshal([]byte(v), &argv); err != nil || len(argv) == 0 || argv[0] == "" {
		return nil, fmt.Errorf("%q is not a JSON argv such as [\"dotnet\",\"test\"] (never a shell string)", v)
	}
	return argv, nil
}

func checkPattern(v string) error {
	if v == "" {
		return nil
	}
	_, err := evidence.CompileStubPatterns(v)
	return err
}

// EnvUpstream names the upstream checkout when porting.db's upstream_dir is
// unset. A checkout's path belongs to one machine, so a committed porting.db
// should leave upstream_dir empty and each user set the variable instead.
const EnvUpstream = "PORTTRACKER_UPSTREAM"

// Config is the gates' configuration, read from porting.db.
type Config struct {
	ModuleDir      string // absolute
	TargetPackages []string
	UpstreamDir    string // absolute, or ""
	Go             string
	Timeout        time.Duration
	Jobs           int
	PackageFlags   map[string][]string
	BuildCommand   []string
	TestCommand    []string
	TestReport     string
	StubPatterns   *regexp.Regexp
}

// LoadConfig reads the config table; relative paths are taken from the
// directory of the database file.
func LoadConfig(tx *db.Tx, dbPath string) (Config, error) {
	kv, err := tx.AllKV(db.TableConfig)
	if err != nil {
		return Config{}, err
	}
	get := func(key string) string {
		if v, ok := kv[key]; ok {
			return v
		}
		return DefaultValue(key)
	}
	base, err := filepath.Abs(filepath.Dir(dbPath))
	if err != nil {
		return Config{}, err
	}
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	cfg := Config{
		ModuleDir:      abs(get(KeyModuleDir)),
		TargetPackages: strings.Fields(get(KeyTargetPackages)),
		UpstreamDir:    abs(cmp.Or(get(KeyUpstreamDir), os.Getenv(EnvUpstream))),
		Go:             get(KeyGo),
		TestReport:     get(KeyTestReport),
		PackageFlags:   map[string][]string{},
	}
	for _, key := range sortedKeys(kv) {
		if err := CheckKey(key, kv[key]); err != nil {
			return Config{}, fmt.Errorf("porting.db config: %w", err)
		}
		if pkg, ok := strings.CutPrefix(key, KeyTestFlagsPrefix); ok {
			cfg.PackageFlags[pkg] = strings.Fields(kv[key])
		}
	}
	cfg.Timeout, _ = time.ParseDuration(get(KeyTimeout))
	cfg.Jobs, _ = strconv.Atoi(get(KeyJobs))
	if v := get(KeyBuildCommand); v != "" {
		cfg.BuildCommand, _ = parseArgv(v)
	}
	if v := get(KeyTestCommand); v != "" {
		cfg.TestCommand, _ = parseArgv(v)
	}
	if v := get(KeyStubPatterns); v != "" {
		cfg.StubPatterns, _ = evidence.CompileStubPatterns(v)
	}
	return cfg, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
