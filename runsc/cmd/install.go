package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/subcommands"
)

// defaultDockerConfig is where dockerd reads its configuration.
const defaultDockerConfig = "/etc/docker/daemon.json"

// Install implements `runsc install`: it adds this binary as a runtime
// of Docker's daemon.json ("runtimes": {NAME: {"path", "runtimeArgs"}}),
// keeping every other key. dockerd must then be reloaded (SIGHUP) or
// restarted.
type Install struct {
	configFile string
	runtime    string
}

// Name implements subcommands.Command.
func (*Install) Name() string { return "install" }

// Synopsis implements subcommands.Command.
func (*Install) Synopsis() string { return "add this runsc to Docker's daemon.json" }

// Usage implements subcommands.Command.
func (*Install) Usage() string {
	return "install [--config-file FILE] [--runtime NAME] [-- RUNTIME-ARGS...]\n\nAdds (or replaces) runtime NAME, with this binary's absolute path and the\narguments after --, in Docker's daemon.json.\n"
}

// SetFlags implements subcommands.Command.
func (c *Install) SetFlags(f *flag.FlagSet) {
	f.StringVar(&c.configFile, "config-file", defaultDockerConfig, "path to Docker's daemon.json")
	f.StringVar(&c.configFile, "config_file", defaultDockerConfig, "same as --config-file (gVisor's spelling)")
	f.StringVar(&c.runtime, "runtime", "runsc", "runtime name in Docker")
}

// Execute implements subcommands.Command.
func (c *Install) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.Abs(self)
	}
	if err == nil {
		err = installRuntime(c.configFile, c.runtime, self, f.Args())
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "runsc install: %v\n", err)
		return subcommands.ExitFailure
	}
	fmt.Printf("Runtime %s added to %s (reload or restart dockerd to use it)\n", c.runtime, c.configFile)
	return subcommands.ExitSuccess
}

// Uninstall implements `runsc uninstall`: it removes a runtime from
// Docker's daemon.json, keeping every other key.
type Uninstall struct {
	configFile string
	runtime    string
}

// Name implements subcommands.Command.
func (*Uninstall) Name() string { return "uninstall" }

// Synopsis implements subcommands.Command.
func (*Uninstall) Synopsis() string { return "remove runsc from Docker's daemon.json" }

// Usage implements subcommands.Command.
func (*Uninstall) Usage() string {
	return "uninstall [--config-file FILE] [--runtime NAME]\n\nRemoves runtime NAME from Docker's daemon.json.\n"
}

// SetFlags implements subcommands.Command.
func (c *Uninstall) SetFlags(f *flag.FlagSet) {
	f.StringVar(&c.configFile, "config-file", defaultDockerConfig, "path to Docker's daemon.json")
	f.StringVar(&c.configFile, "config_file", defaultDockerConfig, "same as --config-file (gVisor's spelling)")
	f.StringVar(&c.runtime, "runtime", "runsc", "runtime name in Docker")
}

// Execute implements subcommands.Command.
func (c *Uninstall) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if f.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "runsc uninstall: unexpected arguments %q\n", f.Args())
		return subcommands.ExitUsageError
	}
	if err := uninstallRuntime(c.configFile, c.runtime); err != nil {
		fmt.Fprintf(os.Stderr, "runsc uninstall: %v\n", err)
		return subcommands.ExitFailure
	}
	fmt.Printf("Runtime %s removed from %s\n", c.runtime, c.configFile)
	return subcommands.ExitSuccess
}

// dockerRuntime is an entry of daemon.json's "runtimes".
type dockerRuntime struct {
	Path        string   `json:"path"`
	RuntimeArgs []string `json:"runtimeArgs,omitempty"`
}

// installRuntime sets runtimes[name] of the daemon.json at path to path
// self with args; a missing file (and directory) is created.
func installRuntime(path, name, self string, args []string) error {
	if name == "" {
		return errors.New("empty runtime name")
	}
	cfg, mode, err := readDockerConfig(path)
	if err != nil {
		return err
	}
	runtimes := map[string]json.RawMessage{}
	if raw, ok := cfg["runtimes"]; ok {
		if err := json.Unmarshal(raw, &runtimes); err != nil || runtimes == nil {
			return fmt.Errorf("%s: \"runtimes\" is not an object", path)
		}
	}
	entry, err := json.Marshal(dockerRuntime{Path: self, RuntimeArgs: args})
	if err != nil {
		return err
	}
	runtimes[name] = entry
	if cfg["runtimes"], err = json.Marshal(runtimes); err != nil {
		return err
	}
	return writeDockerConfig(path, cfg, mode)
}

// uninstallRuntime removes runtimes[name] from the daemon.json at path
// ("runtimes" goes too once empty); it is an error if there is none.
func uninstallRuntime(path, name string) error {
	cfg, mode, err := readDockerConfig(path)
	if err != nil {
		return err
	}
	runtimes := map[string]json.RawMessage{}
	if raw, ok := cfg["runtimes"]; ok {
		if err := json.Unmarshal(raw, &runtimes); err != nil {
			return fmt.Errorf("%s: \"runtimes\" is not an object", path)
		}
	}
	if _, ok := runtimes[name]; !ok {
		return fmt.Errorf("runtime %q not found in %s", name, path)
	}
	delete(runtimes, name)
	if len(runtimes) == 0 {
		delete(cfg, "runtimes")
	} else if cfg["runtimes"], err = json.Marshal(runtimes); err != nil {
		return err
	}
	return writeDockerConfig(path, cfg, mode)
}

// readDockerConfig reads the JSON object at path, keeping each value as
// it is; a missing or empty file is an empty object.
func readDockerConfig(path string) (map[string]json.RawMessage, os.FileMode, error) {
	cfg := map[string]json.RawMessage{}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return cfg, 0o644, nil
	}
	if err != nil {
		return nil, 0, err
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	if len(b) == 0 {
		return cfg, mode, nil
	}
	if err := json.Unmarshal(b, &cfg); err != nil || cfg == nil {
		return nil, 0, fmt.Errorf("%s is not a JSON object: %v", path, err)
	}
	return cfg, mode, nil
}

// writeDockerConfig replaces the file at path atomically (a file next to
// it, then rename), indented as people write daemon.json.
func writeDockerConfig(path string, cfg map[string]json.RawMessage, mode os.FileMode) error {
	b, err := json.MarshalIndent(cfg, "", "    ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".daemon.json.*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
